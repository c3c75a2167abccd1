/**
 * Spine figures (issue 3): throughput on the machine's own Redis and Postgres (REDIS_URL /
 * DATABASE_URL, defaults local). Prints raw BullMQ no-op jobs/s, end-to-end AWS scans/s through
 * the whole pipeline (HTTP API → Postgres → BullMQ → worker → ECR SDK → simulator → findings in
 * Postgres; simulator scans instant, 20 findings each) and their ratio (goal ≥ 0.25).
 * Timings live here, never in pass/fail tests.
 */
import { randomBytes } from 'node:crypto';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { Queue, Worker } from 'bullmq';
import { createRedis, RedisKeyspace } from '@scanq/queue';
import { deleteKeysByPrefix } from '../test/support/env.js';
import { REDIS_URL, startBenchStack, submitScans, waitForScansEnded } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

const NOOP_JOBS = Number(process.env.BENCH_NOOP_JOBS ?? 20_000);
const SCANS = Number(process.env.BENCH_SCANS ?? 3_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
/** Worker processes in the end-to-end run (the no-op baseline always has one). */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
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

/** The whole pipeline as separate processes: simulator, worker, API. */
async function endToEnd(): Promise<{ rate: number; findings: number; ecrCalls: Record<string, number> }> {
  const stack = await startBenchStack('e2e', run, {
    workers: WORKERS,
    queue: 'aws',
    env: {
      SCANQ_WORKER_CONCURRENCY: String(CONCURRENCY),
      SCANQ_POLL_INITIAL_MS: '0',
      SIM_AWS_SCAN_MS: '0',
      SIM_AWS_FINDINGS: '20',
      SIM_AWS_BENCH_IMAGES: String(SCANS),
    },
  });
  const { sim, api, client, headers } = stack;
  try {
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const account = await fetch(`${api}/v1/accounts`, { method: 'POST', headers, body: JSON.stringify({ provider: 'aws', name: aws.name, region: aws.region, endpoint: sim, credentialRef: aws.name, settings: { registryId: aws.registryId } }) });
    if (account.status !== 201) throw new Error(`account: ${account.status} ${await account.text()}`);
    const start = performance.now();
    // Submit over HTTP, 32 requests in flight.
    await submitScans(api, headers, SCANS, (i) => ({ provider: 'aws', account: aws.name, repositoryName: 'bench/images', imageId: { imageTag: `b-${String(i).padStart(5, '0')}` } }), 32);
    const unsucceeded = await waitForScansEnded(client, SCANS, 20);
    if (unsucceeded > 0) throw new Error(`${unsucceeded} scans did not succeed`);
    const rate = SCANS / ((performance.now() - start) / 1000);
    const f = await client.query<{ n: string }>('SELECT count(*) AS n FROM "Finding"');
    // The simulator's own counters: which ECR calls the scans cost.
    const { totals } = await simulatorCalls(sim);
    const ecrCalls = Object.fromEntries(Object.entries(totals).filter(([k]) => k.startsWith('aws:')).map(([k, v]) => [k.slice(4), v]));
    return { rate, findings: Number(f.rows[0]!.n), ecrCalls };
  } finally {
    await stack.close();
  }
}

/** The spine's figures: raw BullMQ no-op jobs/s, end-to-end AWS scans/s, their ratio. */
export async function benchSpine(): Promise<Record<string, string>> {
  const noop = await rawNoop();
  const e2e = await endToEnd();
  return {
    'spine: raw BullMQ no-op jobs/s': `${noop.toFixed(0)} (${NOOP_JOBS} jobs, one worker, concurrency ${CONCURRENCY})`,
    'spine: end-to-end AWS scans/s': `${e2e.rate.toFixed(1)} (${SCANS} scans over HTTP, 20 findings each, ${e2e.findings} findings stored; ${WORKERS} worker process${WORKERS > 1 ? 'es' : ''} × concurrency ${CONCURRENCY})`,
    'spine: ratio': `${(e2e.rate / noop).toFixed(3)} (goal >= 0.25)`,
    'spine: ECR calls per scan': `${(Object.values(e2e.ecrCalls).reduce((a, b) => a + b, 0) / SCANS).toFixed(2)} (${Object.entries(e2e.ecrCalls).map(([api, n]) => `${api} ${n}`).join(', ')})`,
  };
}
