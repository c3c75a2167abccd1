import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ScanqProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs one of the project's entry points (TypeScript through tsx) as a real process. */
export function startProcess(name: string, script: string, env: Record<string, string>): ScanqProcess {
  // SCANQ_CPU_PROFILE_DIR=<dir>: each process writes a V8 CPU profile there on exit (bench profiling).
  const profile = process.env.SCANQ_CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.SCANQ_CPU_PROFILE_DIR, name.replace(/\W+/g, '-'))}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(REPO_ROOT, script)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return superviseProcess(name, child);
}

/** A child process as the tests hold it: its last output kept, stopped with a signal (SIGKILL after 10 s). */
export function superviseProcess(name: string, child: ChildProcess): ScanqProcess {
  let out = '';
  child.stdout?.on('data', (d) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d) => (out = (out + d.toString()).slice(-20_000)));
  return {
    name,
    child,
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill(signal);
      }),
  };
}

/**
 * The simulator as a process of its own, scheduled ahead of the rest. It stands in for the
 * clouds, which run on machines of their own: on a machine starved by other work its event loop
 * would otherwise stall and then stamp a backlog of calls that arrived spread out into one
 * second, judging scanq's pacing by its own delay. scanq's processes stay as starved as the
 * machine makes them. Raising a priority needs root; elsewhere it runs at the default.
 */
export function startSimulatorProcess(name: string, env: Record<string, string>): ScanqProcess {
  const proc = startProcess(name, 'apps/simulator/src/main.ts', env);
  try {
    if (proc.child.pid) setPriority(proc.child.pid, -10);
  } catch {
    /* not permitted: the default priority */
  }
  return proc;
}

export async function waitForHttp(url: string, proc: ScanqProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
    } catch (err) {
      last = (err as Error).message; // not up yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${proc.name} not ready at ${url} within ${timeoutMs} ms (last: ${last}):\n${proc.output()}`);
}
