/** What every benchmark section shares: its own database and queue prefix on the machine's servers, removed afterwards. */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ensureDatabase, migrate } from '@scanq/db';
import { Queue } from 'bullmq';
import type { QueueName } from '@scanq/core';
import { createRedis, RedisKeyspace } from '@scanq/queue';
import pg from 'pg';
import { deleteKeysByPrefix, SIMULATOR_CREDENTIALS } from '../test/support/env.js';
import { freePort, startProcess, waitForHttp, type ScanqProcess } from '../test/support/processes.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface BenchStore {
  /** A migrated database of this section's own. */
  databaseUrl: string;
  dbName: string;
  /** Queue and quota key prefix (a Redis Cluster hash tag) of this section's own. */
  prefix: string;
  /** Drops the database and every Redis key under the prefix. */
  drop(): Promise<void>;
}

export async function createBenchStore(section: string, run: string): Promise<BenchStore> {
  const dbName = `scanq_bench_${run}_${section}`;
  const u = new URL(DATABASE_URL);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  await ensureDatabase(databaseUrl);
  await migrate(databaseUrl);
  const prefix = `scanq-bench-${run}-${section}`;
  return {
    databaseUrl,
    dbName,
    prefix,
    async drop() {
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await admin.end();
      await deleteKeysByPrefix(REDIS_URL, prefix);
    },
  };
}

/**
 * The settings every bench's scanq processes share on a section's store: simulator
 * credentials, the reconciler out of the way, warn logs (BENCH_LOG_LEVEL to change).
 */
export function benchEnv(store: Pick<BenchStore, 'databaseUrl' | 'prefix'>): Record<string, string> {
  return {
    DATABASE_URL: store.databaseUrl,
    REDIS_URL,
    SCANQ_QUEUE_PREFIX: store.prefix,
    SCANQ_CREDENTIALS: SIMULATOR_CREDENTIALS,
    SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS: 'true', // the simulator on 127.0.0.1
    SCANQ_RECONCILE_EVERY_MS: '600000',
    SCANQ_ADMIN_PASSWORD: 'bench-password',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    // Several workers on this one host: no health/metrics port each.
    SCANQ_WORKER_HTTP_PORT: '0',
  };
}

/** Runs a section and prints its figures when its file is run directly (`pnpm exec tsx bench/<file>.ts`). */
export async function runWhenMain(moduleUrl: string, title: string, section: () => Promise<Record<string, string>>): Promise<void> {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  const figures = await section();
  console.log(`\nscanq bench: ${title} (${new Date().toISOString()})`);
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(48)} ${v}`);
  process.exit(0);
}

/** One POST on a kept-alive connection: status and body text. */
function post(agent: Agent, url: URL, headers: Record<string, string>, payload: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * POSTs `count` scan requests (`body(i)`) to the API, `inFlight` at a time over kept-alive
 * connections; any answer but 202 throws. Plain node:http rather than fetch: the load generator
 * shares the machine's two cores with the system it measures, and fetch costs several times the
 * CPU per request.
 */
export async function submitScans(apiUrl: string, headers: Record<string, string>, count: number, body: (i: number) => unknown, inFlight: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const url = new URL('/v1/scans', apiUrl);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) {
          const i = next++;
          const res = await post(agent, url, headers, JSON.stringify(body(i)));
          if (res.status !== 202) throw new Error(`submit ${i}: ${res.status} ${res.text}`);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
}

/** Waits until `count` scans of the section's database have ended; returns how many did not succeed. */
export async function waitForScansEnded(client: pg.Client, count: number, everyMs: number): Promise<number> {
  for (;;) {
    const { rows } = await client.query<{ done: string; unsucceeded: string }>(
      `SELECT count(*) FILTER (WHERE status IN ('succeeded','failed','cancelled')) AS done, count(*) FILTER (WHERE status <> 'succeeded') AS unsucceeded FROM "Scan"`,
    );
    if (Number(rows[0]!.done) >= count) return Number(rows[0]!.unsucceeded);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The whole system as separate processes on a section's own store (`startBenchStack`). */
export interface BenchStack {
  sim: string;
  api: string;
  /** The API's bearer key and a JSON content type. */
  headers: Record<string, string>;
  databaseUrl: string;
  dbName: string;
  /** A connected client on the section's database. */
  client: pg.Client;
  /** The simulator, API and worker processes, in that order (for /proc CPU readings). */
  processes: ScanqProcess[];
  /** Ends the client and stops every process, keeping the database (for counters read after). */
  stop(): Promise<void>;
  /** Stops every process, then drops the section's database and Redis keys. */
  close(): Promise<void>;
}

/**
 * Simulator, API and `workers` worker processes on a store of the section's own, with `env` over
 * what every bench shares (simulator credentials, a random API key, the reconciler out of the
 * way, warn logs). Resolves once the simulator and API answer and every worker has registered
 * on `queue`, so no bench times a process start.
 */
export async function startBenchStack(section: string, run: string, options: { workers: number; queue: string; env: Record<string, string> }): Promise<BenchStack> {
  const { databaseUrl, dbName, prefix, drop } = await createBenchStore(section, run);
  const [simPort, apiPort] = await Promise.all([freePort(), freePort()]);
  const apiKey = `scanq-bench-${randomBytes(12).toString('hex')}`;
  const env = {
    ...benchEnv({ databaseUrl, prefix }),
    SCANQ_API_KEY: apiKey,
    SIM_PORT: String(simPort),
    API_PORT: String(apiPort),
    ...options.env,
  };
  const procs = [
    startProcess('simulator', 'apps/simulator/src/main.ts', env),
    startProcess('api', 'apps/api/src/main.ts', env),
    ...Array.from({ length: options.workers }, (_, i) => startProcess(`worker-${i}`, 'apps/worker/src/main.ts', env)),
  ];
  const sim = `http://127.0.0.1:${simPort}`;
  const api = `http://127.0.0.1:${apiPort}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await client.end().catch(() => undefined);
      await Promise.all(procs.map((p) => p.stop()));
    })());
  const close = async () => {
    await stop();
    await drop();
  };
  const connection = createRedis(REDIS_URL);
  const queue = new Queue(options.queue, { connection, prefix: new RedisKeyspace(prefix).queuePrefix(options.queue as QueueName) });
  try {
    // Generous: on a crowded machine tsx alone takes a minute to start a process.
    await Promise.all([waitForHttp(`${sim}/_sim/health`, procs[0]!, 180_000), waitForHttp(`${api}/readyz`, procs[1]!, 180_000)]);
    for (let i = 0; (await queue.getWorkersCount()) < options.workers; i++) {
      if (i > 600) throw new Error(`only ${await queue.getWorkersCount()} of ${options.workers} workers came up`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.connect();
  } catch (err) {
    await close();
    throw err;
  } finally {
    await queue.close().catch(() => undefined);
    connection.disconnect();
  }
  return { sim, api, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, databaseUrl, dbName, client, processes: procs, stop, close };
}
