import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { readStages, runStages, stageChain } from './dockerfile.js';
import { REPO_ROOT, type ScanqProcess, superviseProcess } from './processes.js';

/**
 * What the production image's /app holds, assembled into `app` without a Docker engine: the
 * Dockerfile's dependency stages (its own COPY and RUN lines, with this machine's pnpm store for
 * the image's cache mount) and the build stage's `pnpm build`. The production-image test checks
 * the result; the memory bench measures the worker as the image runs it.
 */
export function assembleProductionImage(app: string): void {
  const stages = readStages(join(REPO_ROOT, 'Dockerfile'));
  const store = execFileSync('pnpm', ['store', 'path'], { cwd: REPO_ROOT }).toString().trim();
  runStages(stageChain(stages, 'prod-deps'), REPO_ROOT, app, process.env, { skipRunIn: ['pnpm'], env: { npm_config_store_dir: store } });
  execFileSync('pnpm', ['build', '--outdir', join(app, 'dist')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
}

/**
 * `node --enable-source-maps <app>/dist/<file> [args]`, as the image runs its processes: from the
 * image dir, with no NODE_OPTIONS from vitest or the shell (e.g. an --import tsx) and nothing of
 * the checkout on its path. `nodeArgs`: more node flags (the memory bench's GC hook).
 */
export function startCompiledProcess(app: string, name: string, fileAndArgs: string, env: Record<string, string>, nodeArgs: string[] = []): ScanqProcess {
  const [file, ...args] = fileAndArgs.split(' ');
  const child = spawn(process.execPath, ['--enable-source-maps', ...nodeArgs, join(app, 'dist', file!), ...args], {
    cwd: app,
    env: { PATH: process.env.PATH, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return superviseProcess(name, child);
}
