import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../test/support/processes.js';

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
