/**
 * Spine figures (issues 3 and 19): throughput on the machine's own Redis and Postgres
 * (REDIS_URL / DATABASE_URL, defaults local). Prints end-to-end AWS scans/s through the whole
 * pipeline (HTTP API → Postgres → BullMQ → worker → ECR SDK → simulator → findings in Postgres;
 * simulator scans instant, 20 findings each), the same scans done by the bare SDK loop a team
 * would write instead (bench/spine-peer.ts) against a simulator with the same settings, and their
 * ratio (goal ≥ 1.0); raw BullMQ no-op jobs/s as context. Beside them, what each scan cost in
 * Postgres transactions and rows, Redis commands and CPU per process, counted by the servers and
 * the kernel. Timings live here, never in pass/fail tests.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { ensureDatabase } from '@scanq/db';
import { createRedis, RedisKeyspace } from '@scanq/queue';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';
import { deleteKeysByPrefix } from '../test/support/env.js';
import { benchEnv, DATABASE_URL, REDIS_URL, startBenchStack, submitScans } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';
import { freePort, startProcess, waitForHttp } from '../test/support/processes.js';
import { backendCpuDelta, delta, pgBackendCpuMs, pgDatabaseCounts, processCpuMs, redisCounts, topPerScan, type Counts } from './counters.js';
import { preparePeerDatabase, runPeerLoop } from './spine-peer.js';

const NOOP_JOBS = Number(process.env.BENCH_NOOP_JOBS ?? 20_000);
const SCANS = Number(process.env.BENCH_SCANS ?? 3_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
/** Worker processes in the end-to-end run (the no-op baseline always has one). */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
/** The simulator settings both runs share: scans complete at once, 20 findings each. */
const SIM_SETTINGS = { SIM_AWS_SCAN_MS: '0', SIM_AWS_FINDINGS: '20', SIM_AWS_BENCH_IMAGES: String(SCANS) };
const tag = (i: number) => `b-${String(i).padStart(5, '0')}`;
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/** BullMQ alone: N no-op jobs, added in bulk, drained by one worker at the same concurrency. */
async function rawNoop(): Promise<number> {
  const base = `scanq-bench-${run}-noop`;
  const prefix = new RedisKeyspace(base).tag('noop');
  const connection = createRedis(REDIS_URL);
  const queue = new Queue('noop', { connection, prefix });
  for (let i = 0; i < NOOP_JOBS; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, NOOP_JOBS - i) }, (_, j) => ({ name: 'noop', data: { i: i + j }, opts: { removeOnComplete: true } })));
  }
  let done = 0;
  const start = performance.now();
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker('noop', async () => undefined, { connection: createRedis(REDIS_URL), prefix, concurrency: CONCURRENCY });
    worker.on('completed', () => {
      if (++done === NOOP_JOBS) void worker.close().then(resolve);
    });
  });
  await finished;
  const rate = NOOP_JOBS / ((performance.now() - start) / 1000);
  await queue.close();
  connection.disconnect();
  await deleteKeysByPrefix(REDIS_URL, base);
  return rate;
}

/** What one run cost, per scan. */
interface RunCost {
  rate: number;
  pg: Counts;
  /** CPU ms by process name ('postgres' = the backends of the run's database). */
  cpuMs: Record<string, number>;
  calls: Record<string, number>;
  redis?: Counts;
}

/** The bare SDK loop on a simulator and a database of its own. */
async function peerLoop(): Promise<RunCost> {
  const dbName = `scanq_bench_${run}_peer`;
  const u = new URL(DATABASE_URL);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  await ensureDatabase(databaseUrl);
  await preparePeerDatabase(databaseUrl);
  const simPort = await freePort();
  const sim = startProcess('simulator-peer', 'apps/simulator/src/main.ts', { ...benchEnv({ databaseUrl, prefix: `scanq-bench-${run}-peer` }), SIM_PORT: String(simPort), ...SIM_SETTINGS });
  const endpoint = `http://127.0.0.1:${simPort}`;
  try {
    await waitForHttp(`${endpoint}/_sim/health`, sim);
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const pgBefore = await pgDatabaseCounts(DATABASE_URL, dbName);
    const cpuBefore = { bench: process.cpuUsage(), sim: processCpuMs(sim.child.pid) };
    let backends = 0;
    const start = performance.now();
    const { stored, calls } = await runPeerLoop({
      endpoint,
      region: aws.region,
      registryId: aws.registryId,
      accessKeyId: aws.accessKeyId,
      secretAccessKey: aws.secretAccessKey,
      repositoryName: 'bench/images',
      tags: Array.from({ length: SCANS }, (_, i) => tag(i)),
      concurrency: CONCURRENCY,
      databaseUrl,
      pollMs: 1000,
      beforeClose: async () => {
        backends = backendCpuDelta(await pgBackendCpuMs(DATABASE_URL, dbName), new Map());
      },
    });
    const rate = SCANS / ((performance.now() - start) / 1000);
    if (stored !== SCANS) throw new Error(`the loop stored ${stored} of ${SCANS} scans`);
    const bench = process.cpuUsage(cpuBefore.bench);
    const cpuMs = { 'loop (bench process)': (bench.user + bench.system) / 1000, simulator: processCpuMs(sim.child.pid) - cpuBefore.sim, postgres: backends };
    const pgCounts = delta(await pgDatabaseCounts(DATABASE_URL, dbName), pgBefore);
    return { rate, pg: pgCounts, cpuMs, calls };
  } finally {
    await sim.stop();
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  }
}

/** The whole pipeline as separate processes: simulator, worker, API. */
async function endToEnd(): Promise<RunCost & { findings: number }> {
  const stack = await startBenchStack('e2e', run, {
    workers: WORKERS,
    queue: 'aws',
    // Load shedding off: on the shared 2-core machine the API's event-loop delay passes its limit
    // and a 503 would end the run; the bench measures throughput, not shedding.
    env: { SCANQ_WORKER_CONCURRENCY: String(CONCURRENCY), SCANQ_POLL_INITIAL_MS: '0', SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '0', ...SIM_SETTINGS },
  });
  const { sim, api, client, headers } = stack;
  try {
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const account = await fetch(`${api}/v1/accounts`, { method: 'POST', headers, body: JSON.stringify({ provider: 'aws', name: aws.name, region: aws.region, endpoint: sim, credentialRef: aws.name, settings: { registryId: aws.registryId } }) });
    if (account.status !== 201) throw new Error(`account: ${account.status} ${await account.text()}`);
    const names = ['simulator', 'api', ...Array.from({ length: WORKERS }, (_, i) => `worker-${i}`)];
    const cpu = () => Object.fromEntries(stack.processes.map((p, i) => [names[i]!, processCpuMs(p.child.pid)]));
    const pgBefore = await pgDatabaseCounts(DATABASE_URL, stack.dbName);
    const redisBefore = await redisCounts(REDIS_URL);
    const backendsBefore = await pgBackendCpuMs(DATABASE_URL, stack.dbName);
    const cpuBefore = cpu();
    const benchBefore = process.cpuUsage();
    const start = performance.now();
    // Submit over HTTP, 32 requests in flight.
    await submitScans(api, headers, SCANS, (i) => ({ provider: 'aws', account: aws.name, repositoryName: 'bench/images', imageId: { imageTag: tag(i) } }), 32);
    // Wait for the end, counting the bench's own queries so they come off the transaction count.
    let polls = 0;
    for (;;) {
      polls++;
      const { rows } = await client.query<{ done: string; unsucceeded: string }>(
        `SELECT count(*) FILTER (WHERE status IN ('succeeded','failed','cancelled')) AS done, count(*) FILTER (WHERE status <> 'succeeded') AS unsucceeded FROM "Scan"`,
      );
      if (Number(rows[0]!.done) >= SCANS) {
        if (Number(rows[0]!.unsucceeded) > 0) throw new Error(`${rows[0]!.unsucceeded} scans did not succeed`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const rate = SCANS / ((performance.now() - start) / 1000);
    const bench = process.cpuUsage(benchBefore);
    const cpuAfter = cpu();
    const cpuMs: Record<string, number> = Object.fromEntries(names.map((n) => [n, cpuAfter[n]! - cpuBefore[n]!]));
    cpuMs['load generator (bench process)'] = (bench.user + bench.system) / 1000;
    cpuMs.postgres = backendCpuDelta(await pgBackendCpuMs(DATABASE_URL, stack.dbName), backendsBefore);
    const redis = delta(await redisCounts(REDIS_URL), redisBefore);
    const f = await client.query<{ n: string }>('SELECT count(*) AS n FROM "Finding"');
    // The simulator's own counters: which ECR calls the scans cost.
    const { totals } = await simulatorCalls(sim);
    const calls = Object.fromEntries(Object.entries(totals).filter(([k]) => k.startsWith('aws:')).map(([k, v]) => [k.slice(4), v]));
    // Backends publish their counters when they exit: stop everything, then read.
    await stack.stop();
    const pgCounts = delta(await pgDatabaseCounts(DATABASE_URL, stack.dbName), pgBefore);
    pgCounts.xact_commit = (pgCounts.xact_commit ?? 0) - (polls + 1);
    return { rate, findings: Number(f.rows[0]!.n), pg: pgCounts, cpuMs, calls, redis };
  } finally {
    await stack.close();
  }
}

function perScan(n: number): string {
  return (n / SCANS).toFixed(2);
}

function costLines(label: string, c: RunCost): Record<string, string> {
  const calls = Object.values(c.calls).reduce((a, b) => a + b, 0);
  const cpuTotal = Object.values(c.cpuMs).reduce((a, b) => a + b, 0);
  const out: Record<string, string> = {
    [`${label}: ECR calls per scan`]: `${perScan(calls)} (${Object.entries(c.calls).map(([api, n]) => `${api} ${n}`).join(', ')})`,
    [`${label}: Postgres per scan`]: `${perScan(c.pg.xact_commit ?? 0)} transactions, ${perScan(c.pg.tup_inserted ?? 0)} rows inserted, ${perScan(c.pg.tup_updated ?? 0)} updated, ${perScan(c.pg.tup_deleted ?? 0)} deleted, ${perScan(c.pg.tup_fetched ?? 0)} fetched`,
    [`${label}: CPU ms per scan`]: `${perScan(cpuTotal)} (${Object.entries(c.cpuMs).map(([p, ms]) => `${p} ${perScan(ms)}`).join(', ')})`,
  };
  if (c.redis) {
    const commands = Object.entries(c.redis).filter(([k]) => !k.startsWith('~')).reduce((a, [, v]) => a + v, 0);
    out[`${label}: Redis commands per scan`] = `${perScan(commands)}, CPU ${(((c.redis['~cpu_s'] ?? 0) * 1000) / SCANS).toFixed(2)} ms (server-wide deltas, exact on a Redis of the bench's own; top: ${topPerScan(c.redis, SCANS, 8)})`;
  }
  return out;
}

/** The spine's figures: scanq end-to-end vs the bare SDK loop, their ratio; raw BullMQ no-op jobs/s as context. */
export async function benchSpine(): Promise<Record<string, string>> {
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const loadStart = load();
  const noop = await rawNoop();
  const peer = await peerLoop();
  const loadPeer = load();
  const e2e = await endToEnd();
  const loadE2e = load();
  const ratio = e2e.rate / peer.rate;
  return {
    'spine: end-to-end AWS scans/s (scanq)': `${e2e.rate.toFixed(1)} (${SCANS} scans over HTTP, 20 findings each, ${e2e.findings} findings stored; ${WORKERS} worker process${WORKERS > 1 ? 'es' : ''} × concurrency ${CONCURRENCY})`,
    'spine: bare SDK loop scans/s (peer)': `${peer.rate.toFixed(1)} (${SCANS} scans, @aws-sdk/client-ecr defaults, concurrency ${CONCURRENCY}, one transaction per scan)`,
    'spine: scanq ÷ loop': `${ratio.toFixed(2)} (goal >= 1.0${ratio >= 1 ? '' : ' — not met'})`,
    'spine: raw BullMQ no-op jobs/s (context)': `${noop.toFixed(0)} (${NOOP_JOBS} jobs, one worker, concurrency ${CONCURRENCY})`,
    'spine: load average (start / after loop / after scanq)': `${loadStart} / ${loadPeer} / ${loadE2e}`,
    ...costLines('scanq', e2e),
    ...costLines('loop', peer),
  };
}
