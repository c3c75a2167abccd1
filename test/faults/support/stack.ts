import { PROVIDERS, type Provider, simulatorAccountRequest } from '@scanq/core';
import pg from 'pg';
import { AUTH, SIMULATOR_CREDENTIALS, TEST_API_KEY } from '../../support/env.js';
import { freePort, type ScanqProcess, startProcess, startSimulatorProcess, waitForHttp } from '../../support/processes.js';
import { PostgresServer, RedisServer } from '../../support/servers.js';
import { RedisClusterTopology, RedisSentinelTopology } from '../../support/topologies.js';

export const SIM_SEED = 'scanq-faults';

export interface StackOptions {
  /** Worker processes at start (the issue: at least 2). */
  workers?: number;
  /** scanq settings (SCANQ_*) for the API and the workers, over the harness defaults. */
  env?: Record<string, string>;
  /** Simulator start-up settings (SIM_*). */
  sim?: Record<string, string>;
  /** Share the Redis and Postgres servers of another stack (its own database and queue prefix): the starved-machine load. */
  shareServersWith?: Stack;
  /** Postgres with fsync on (the disk work of a real server). */
  fsync?: boolean;
  /**
   * Workers on other hosts (network namespaces, support/hosts.ts): Redis, Postgres and the
   * simulator listen on `machineAddress` too (Postgres trusting `subnet`), the workers are given
   * those addresses and started by `launchWorker` (the n-th worker on its host).
   */
  network?: { machineAddress: string; subnet: string; launchWorker(n: number, name: string, env: Record<string, string>): ScanqProcess };
  /** Redis as a Cluster (3 masters, 1 replica each) or a Sentinel group instead of one server. */
  topology?: 'cluster' | 'sentinel';
}

/**
 * One scenario's system, all real processes: its own redis-server and Postgres server, the
 * simulator, the API and the workers, with the four simulator accounts registered.
 */
export interface Stack {
  /** The stack's one redis-server (throws on a cluster/sentinel stack: see `topology`). */
  redis: RedisServer;
  /** The Redis Cluster or Sentinel group of a `topology` stack. */
  topology?: RedisClusterTopology | RedisSentinelTopology;
  postgres: PostgresServer;
  databaseUrl: string;
  simUrl: string;
  apiUrl: string;
  /** The environment every scanq process of this stack gets. */
  env: Record<string, string>;
  /** Live worker processes (killed ones are removed). */
  workers: ScanqProcess[];
  /** Every process ever started here, for teardown and for the output of a failed run. */
  processes: ScanqProcess[];
  startWorker(extraEnv?: Record<string, string>): Promise<ScanqProcess>;
  /** kill -9: no clean-up runs, its job locks lapse on their own. */
  killWorker(worker: ScanqProcess): Promise<void>;
  /** SIGSTOP: the process keeps its sockets and state but runs nothing until `resumeWorker`. */
  pauseWorker(worker: ScanqProcess): void;
  resumeWorker(worker: ScanqProcess): void;
  /** One query on a short-lived connection (the server may be stopped between two reads). */
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Sets `/_sim/config/<cloud>` (e.g. scanDurationMs). */
  configureCloud(cloud: Provider, options: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** What every scenario runs with unless it says otherwise: product defaults, polling quicker so scenarios stay short. */
const DEFAULT_ENV: Record<string, string> = {
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
  SCANQ_CREDENTIALS: SIMULATOR_CREDENTIALS,
  SCANQ_API_KEY: TEST_API_KEY,
  SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '0', // shedding off: a loaded machine's lag must not fail fault tests
  SCANQ_ADMIN_PASSWORD: 'test-admin-password',
  SCANQ_POLL_INITIAL_MS: '500',
  SCANQ_POLL_MAX_MS: '1000',
  SCANQ_POLL_FACTOR: '1.5',
  SCANQ_ALIBABA_QUOTA_RETRY_MS: '500',
  SCANQ_WORKER_CONCURRENCY: '16',
  SCANQ_DB_POOL_MAX: '5',
  // Several workers on one host: no health/metrics port unless a scenario gives each host its own.
  SCANQ_WORKER_HTTP_PORT: '0',
  // The simulator listens on 127.0.0.1, which account endpoints may only lead to when allowed.
  SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS: 'true',
  // A scan here takes seconds: a 2-minute deadline is one a scenario can see passed (the 2 h default it cannot).
  SCANQ_SCAN_TIMEOUT_MS: '120000',
};

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const shared = options.shareServersWith;
  const network = options.network;
  const listen = network ? ['127.0.0.1', network.machineAddress] : undefined;
  const topology = options.topology === 'cluster' ? await RedisClusterTopology.start({ replicas: 1 }) : options.topology === 'sentinel' ? await RedisSentinelTopology.start() : undefined;
  const server = topology ? undefined : (shared?.redis ?? (await RedisServer.start(listen ? { bind: listen } : {})));
  const postgres = shared?.postgres ?? (await PostgresServer.create({ fsync: options.fsync ?? false, ...(network ? { listen, trustNetwork: network.subnet } : {}) }));
  let databaseUrl = postgres.url;
  if (shared) {
    // A second database on the same server: the load beside shares its disk, CPU and connections.
    const { ensureDatabase, migrate } = await import('../../../packages/db/src/migrate.js');
    const u = new URL(postgres.url);
    u.pathname = '/scanq_beside';
    databaseUrl = u.toString();
    await ensureDatabase(databaseUrl);
    await migrate(databaseUrl);
  }
  const [simPort, apiPort] = await Promise.all([freePort(), freePort()]);
  // Workers on other hosts reach the simulator on the machine's address (a private one: allowed by config, the guard unchanged).
  const simUrl = `http://${network?.machineAddress ?? '127.0.0.1'}:${simPort}`;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const env: Record<string, string> = {
    ...DEFAULT_ENV,
    DATABASE_URL: databaseUrl,
    REDIS_URL: server?.url ?? topology!.env.REDIS_URL!,
    ...topology?.env,
    SCANQ_QUEUE_PREFIX: shared ? 'scanq-beside' : 'scanq',
    SIM_PORT: String(simPort),
    SIM_SEED,
    API_PORT: String(apiPort),
    ...(network ? { SIM_HOST: network.machineAddress, SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS: 'true', SCANQ_ALLOW_HTTP_ENDPOINTS: 'true' } : {}),
    ...options.sim,
    ...options.env,
  };
  const onMachine = (url: string) => {
    const u = new URL(url);
    u.hostname = network!.machineAddress;
    return u.toString();
  };
  // What a worker on another host is given: the servers at the machine's address.
  const workerEnv = network ? { ...env, REDIS_URL: onMachine(server!.url), DATABASE_URL: onMachine(databaseUrl) } : env;
  const processes: ScanqProcess[] = [];
  const workers: ScanqProcess[] = [];
  let workerSeq = 0;
  const label = shared ? 'beside-' : '';

  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> => {
    const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  const stack: Stack = {
    get redis(): RedisServer {
      if (!server) throw new Error(`this stack runs on a Redis ${options.topology}: use stack.topology`);
      return server;
    },
    ...(topology ? { topology } : {}),
    postgres,
    databaseUrl,
    simUrl,
    apiUrl,
    env,
    workers,
    processes,
    async startWorker(extraEnv = {}) {
      const n = workerSeq++;
      const w = network ? network.launchWorker(n, `${label}worker-${n}`, { ...workerEnv, ...extraEnv }) : startProcess(`${label}worker-${n}`, 'apps/worker/src/main.ts', { ...env, ...extraEnv });
      processes.push(w);
      workers.push(w);
      // A worker has no HTTP port: it is up once it stays up for a moment (a bad config exits at once).
      await new Promise((r) => setTimeout(r, 300));
      if (w.child.exitCode !== null) throw new Error(`${w.name} exited (${w.child.exitCode}):\n${w.output()}`);
      return w;
    },
    async killWorker(w) {
      const exited = new Promise((r) => w.child.once('exit', r));
      w.child.kill('SIGKILL');
      await exited;
      workers.splice(workers.indexOf(w), 1);
    },
    pauseWorker: (w) => void w.child.kill('SIGSTOP'),
    resumeWorker: (w) => void w.child.kill('SIGCONT'),
    query,
    async configureCloud(cloud, body) {
      const res = await fetch(`${simUrl}/_sim/config/${cloud}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`/_sim/config/${cloud}: ${res.status} ${await res.text()}`);
    },
    async close() {
      // A paused process would sit out SIGTERM: wake every one first.
      for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT');
      await Promise.all(processes.map((p) => p.stop()));
      if (!shared) await Promise.all([server?.destroy(), topology?.destroy(), postgres.destroy()]);
    },
  };

  try {
    const simulator = startSimulatorProcess(`${label}simulator`, env);
    const api = startProcess(`${label}api`, 'apps/api/src/main.ts', env);
    processes.push(simulator, api);
    for (let i = 0; i < (options.workers ?? 2); i++) await stack.startWorker();
    // Generous: every process of the stack starts at once, on a machine others load too.
    await Promise.all([waitForHttp(`${simUrl}/_sim/health`, simulator, 120_000), waitForHttp(`${apiUrl}/readyz`, api, 120_000)]);
    for (const provider of PROVIDERS) {
      const res = await fetch(`${apiUrl}/v1/accounts`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(simulatorAccountRequest(provider, 0, simUrl)) });
      if (res.status !== 201) throw new Error(`registering the ${provider} account: ${res.status} ${await res.text()}`);
    }
  } catch (err) {
    await stack.close();
    throw err;
  }
  return stack;
}

/** The last lines each process wrote (each cut short: log lines carry whole stacks), printed when a scenario fails. */
export function processOutput(stack: Stack, lines = 8): string {
  const tail = (out: string) =>
    out
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l))
      .join('\n');
  return stack.processes.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${tail(p.output())}`).join('\n');
}
