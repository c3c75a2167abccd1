import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@scanq/core';
import { REDIS_SERVER_ARGS } from '@scanq/queue';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/processes.js';
import { NOT_A_CONFIG_NAME, unknownEnvNames } from './env-names.js';

/**
 * docker-compose.yml as `docker-compose config` resolves it (Debian's docker-compose validates
 * the file; no Docker engine is needed). CI installs it (.ci/run) where it is missing.
 */
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  ports?: { published?: string | number; target: number }[];
  depends_on?: Record<string, { condition: string }>;
}

const seconds = (d: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`cannot read duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
};

// docker-compose is a Python program: slow to start on a loaded machine, hence the generous timeout.
describe.skipIf(!hasCompose)('docker-compose.yml (docker-compose not installed here: skipped)', { timeout: 180_000 }, () => {
  const compose = (...args: string[]) => execFileSync('docker-compose', ['-f', join(REPO_ROOT, 'docker-compose.yml'), ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  let cached: { services: Record<string, ComposeService> } | undefined;
  const resolved = () => (cached ??= parse(compose('config')) as { services: Record<string, ComposeService> });
  const scanqServices = ['migrate', 'simulator', 'api', 'worker'];

  it('is valid (docker-compose config -q)', () => {
    expect(() => compose('config', '-q')).not.toThrow();
  });

  it('one image, built once, run by every scanq service with a compiled entry', () => {
    const { services } = resolved();
    const images = new Set(scanqServices.map((s) => services[s]!.image));
    expect(images).toEqual(new Set(['scanq:local']));
    expect(Object.entries(services).filter(([, s]) => s.build).map(([n]) => n)).toEqual(['migrate']);
    // Every other scanq service starts after the building one (compose v1 builds in start order).
    for (const name of ['simulator', 'api', 'worker']) expect(Object.keys(services[name]!.depends_on ?? {})).toContain('migrate');
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const buildScript = readFileSync(join(REPO_ROOT, 'scripts/build.mjs'), 'utf8');
    for (const name of scanqServices) {
      const cmd = services[name]!.command!;
      expect(cmd[0]).toBe('node');
      expect(cmd.some((a) => a === 'tsx' || a.endsWith('.ts')), `${name} runs compiled JavaScript`).toBe(false);
      const entry = /^dist\/(\w+)\.js$/.exec(cmd.at(-1)!)?.[1];
      expect(entry && new RegExp(`^\\s+${entry}: '`, 'm').test(buildScript), `${name}'s dist/${entry}.js is built by pnpm build`).toBe(true);
    }
    expect(dockerfile).toMatch(/^HEALTHCHECK .*dist\/healthcheck\.js/m);
  });

  it('health checks for api, worker and simulator, each on its own port', () => {
    const { services } = resolved();
    const checks = Object.fromEntries(['api', 'worker', 'simulator'].map((s) => [s, services[s]!.healthcheck?.test ?? []]));
    expect(checks.api).toEqual(['CMD', 'node', 'dist/healthcheck.js', `http://127.0.0.1:${services.api!.environment!.API_PORT}/readyz`]);
    expect(checks.worker).toEqual(['CMD', 'node', 'dist/healthcheck.js', `http://127.0.0.1:${services.worker!.environment!.SCANQ_WORKER_HTTP_PORT}/readyz`]);
    expect(checks.simulator).toEqual(['CMD', 'node', 'dist/healthcheck.js', `http://127.0.0.1:${services.simulator!.environment!.SIM_PORT}/_sim/health`]);
    // The worker's server must listen beyond loopback only where something else probes it; the
    // container's own check is on loopback, Prometheus on the network needs 0.0.0.0.
    expect(services.worker!.environment!.SCANQ_WORKER_HTTP_HOST).toBe('0.0.0.0');
    expect(services.worker!.depends_on!.simulator!.condition).toBe('service_healthy');
  });

  it("Redis runs with scanq's server settings (REDIS_SERVER_ARGS)", () => {
    const cmd = resolved().services.redis!.command!;
    expect(cmd[0]).toBe('redis-server');
    const args = cmd.join(' ');
    expect(args).toContain(REDIS_SERVER_ARGS.join(' '));
  });

  it("a worker's stop grace outlasts its own shutdown grace", () => {
    const { services } = resolved();
    const graceMs = loadConfig({ SCANQ_WORKER_SHUTDOWN_GRACE_MS: services.worker!.environment!.SCANQ_WORKER_SHUTDOWN_GRACE_MS ?? undefined }).worker.shutdownGraceMs;
    expect(seconds(services.worker!.stop_grace_period!) * 1000).toBeGreaterThan(graceMs);
  });

  it('the API scales: a published port range, demo accounts on by default', () => {
    const { services } = resolved();
    const ports = services.api!.ports!;
    expect(ports).toHaveLength(1);
    expect(String(ports[0]!.published)).toMatch(/^\d+-\d+$/);
    const [lo, hi] = String(ports[0]!.published).split('-').map(Number);
    expect(hi! - lo!).toBeGreaterThanOrEqual(2);
    expect(services.api!.environment!.SCANQ_DEMO_ACCOUNTS).toBe('true');
    expect(loadConfig(services.api!.environment as Record<string, string>).demoAccounts).toBe(true);
    // SCANQ_DEMO_ACCOUNTS=false turns it off (it is a variable of the file).
    const off = parse(execFileSync('docker-compose', ['-f', join(REPO_ROOT, 'docker-compose.yml'), 'config'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, SCANQ_DEMO_ACCOUNTS: 'false' } }).toString()) as { services: Record<string, ComposeService> };
    expect(off.services.api!.environment!.SCANQ_DEMO_ACCOUNTS).toBe('false');
  });

  it('every variable the scanq services set is one config.ts reads, and each parses', () => {
    const { services } = resolved();
    for (const name of scanqServices) {
      const env = services[name]!.environment ?? {};
      expect(unknownEnvNames(Object.keys(env)), name).toEqual([]);
      expect(() => loadConfig(env as Record<string, string>), name).not.toThrow();
    }
    expect(unknownEnvNames([NOT_A_CONFIG_NAME])).toEqual([NOT_A_CONFIG_NAME]);
  });
});
