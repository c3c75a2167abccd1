import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ScanqRuntime } from '@scanq/scans';
import { REPO_ROOT } from '../../../test/support/processes.js';
import { buildApi } from '../../api/src/app.js';
import { startHarness, type WorkerHarness } from '../../worker/test/harness.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `scanq` CLI as its own process (async: the API it talks to may live in the test's process). */
export function scanq(args: string[], env: Record<string, string> = {}, options: { closeStdout?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'apps/cli/src/main.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // closeStdout: a reader that has gone before the output comes (`scanq … | head -1`).
    if (options.closeStdout) child.stdout.destroy();
    else child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The API, a worker and the simulator in the test's process, for the CLI processes to talk to. */
export interface CliBackend {
  harness: WorkerHarness;
  /** SCANQ_API_URL and SCANQ_API_KEY for `scanq(args, env)`. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts a worker harness (its env `workerEnv`, the simulator's `simEnv`) and an API on a free
 * port whose bootstrap key is `apiKey`; `runtime` may swap parts of the worker's runtime for the API.
 */
export async function startCliBackend(
  name: string,
  apiKey: string,
  workerEnv: Record<string, string>,
  options: { simEnv?: Record<string, string>; runtime?: (runtime: ScanqRuntime) => ScanqRuntime } = {},
): Promise<CliBackend> {
  const harness = await startHarness(name, { LOG_LEVEL: 'silent', SCANQ_API_KEY: apiKey, ...workerEnv }, options.simEnv);
  try {
    const runtime = options.runtime ? options.runtime(harness.worker.runtime) : harness.worker.runtime;
    const { app } = await buildApi(runtime, { adminUser: 'admin', adminPassword: 'test-admin-password', logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return {
      harness,
      env: { SCANQ_API_URL: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, SCANQ_API_KEY: apiKey },
      async close() {
        await app.close();
        await harness.close();
      },
    };
  } catch (err) {
    await harness.close();
    throw err;
  }
}
