import { createTestEnv, type TestEnv } from './env.js';
import { freePort, type ScanqProcess, startProcess, startSimulatorProcess, waitForHttp } from './processes.js';

const STARTUP_MS = 100_000;

export interface E2eStackOptions {
  /** Names the test env (its database and queue prefix). */
  name: string;
  /** Environment for every process, over the test env's own (SIM_*, SCANQ_*, REDIS_URL, …). */
  env?: Record<string, string>;
  /** Worker processes started with the stack: a count, or one extra environment per worker. Default 1. */
  workers?: number | Record<string, string>[];
}

/**
 * The system as real processes on loopback, as the end-to-end files run it: the simulator, the
 * API and the workers, each on the test env's own database and queue prefix.
 */
export interface E2eStack {
  env: TestEnv;
  /** The API's base URL. */
  api: string;
  /** The simulator's base URL (every cloud's endpoint). */
  sim: string;
  /** The environment every process got (the test env's, the ports, the options' env). */
  common: Record<string, string>;
  /** Every process started so far; close() stops them all. */
  procs: ScanqProcess[];
  /** Starts one more worker process with `extra` over the common environment. */
  startWorker(name: string, extra?: Record<string, string>): ScanqProcess;
  /** Stops every process, then drops the env's database and keys. */
  close(): Promise<void>;
}

export async function startE2eStack(options: E2eStackOptions): Promise<E2eStack> {
  const env = await createTestEnv(options.name);
  const [simPort, apiPort] = await Promise.all([freePort(), freePort()]);
  const common = { ...env.env, SIM_PORT: String(simPort), API_PORT: String(apiPort), ...options.env };
  const procs: ScanqProcess[] = [];
  const startWorker = (name: string, extra: Record<string, string> = {}) => {
    const worker = startProcess(name, 'apps/worker/src/main.ts', { ...common, ...extra });
    procs.push(worker);
    return worker;
  };
  const stack: E2eStack = {
    env,
    api: `http://127.0.0.1:${apiPort}`,
    sim: `http://127.0.0.1:${simPort}`,
    common,
    procs,
    startWorker,
    async close() {
      await Promise.all(procs.map((p) => p.stop()));
      await env.cleanup();
    },
  };
  try {
    const simulator = startSimulatorProcess('simulator', common);
    const api = startProcess('api', 'apps/api/src/main.ts', common);
    procs.push(simulator, api);
    const workers = options.workers ?? 1;
    const extras = typeof workers === 'number' ? Array.from({ length: workers }, () => ({})) : workers;
    extras.forEach((extra, i) => startWorker(extras.length === 1 ? 'worker' : `worker-${i}`, extra));
    // Up to 100 s: five processes compiling TypeScript at once on a crowded machine (the file's hook timeout is 120 s).
    await Promise.all([waitForHttp(`${stack.sim}/_sim/health`, simulator, STARTUP_MS), waitForHttp(`${stack.api}/readyz`, api, STARTUP_MS)]);
    return stack;
  } catch (err) {
    await stack.close();
    throw err;
  }
}
