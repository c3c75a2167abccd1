/**
 * Bulk-scan figures (issue 6), in-process on the machine's Redis and Postgres:
 * - a 100,000-image bulk scan planned and fully enqueued (goal ≤ 20 s);
 * - Redis memory per queued scan, from INFO before and after (goal ≤ 1.5 KB);
 * - AWS provider calls per scanned image for a bulk run to completion (goal ≤ 3).
 * Planning runs on a worker serving only `maintenance`, so the planned work stays queued.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, simulatorAccountRequest } from '@scanq/core';
import { createRedis, type RedisClient } from '@scanq/queue';
import pg from 'pg';
import { createFrontEnds } from '../apps/simulator/src/frontends.js';
import { startSimulator } from '../apps/simulator/src/core/server.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { waitFor } from '../test/support/wait.js';
import { benchEnv, createBenchStore, REDIS_URL, runWhenMain } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

const PLAN_IMAGES = Number(process.env.BENCH_BULK_IMAGES ?? 100_000);
const RUN_IMAGES = Number(process.env.BENCH_BULK_RUN_IMAGES ?? 500);

async function usedMemory(redis: RedisClient): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}


export async function benchBulk(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const { databaseUrl, prefix, drop } = await createBenchStore('bulk', run);
  const sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'bench', frontEnds: createFrontEnds({ SIM_AWS_SCAN_MS: '0', SIM_AWS_FINDINGS: '5', SIM_AWS_BENCH_IMAGES: String(PLAN_IMAGES) }) });
  const env = {
    ...benchEnv({ databaseUrl, prefix }),
    SCANQ_POLL_INITIAL_MS: '0',
  };
  const planner = await startWorker(loadConfig({ ...env, SCANQ_WORKER_QUEUES: 'maintenance' }));
  const redis = createRedis(REDIS_URL);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { runtime } = planner;
    await runtime.accounts.create(simulatorAccountRequest('aws', 0, sim.url));

    // 1. Plan and enqueue a 100k-image bulk scan.
    const memBefore = await usedMemory(redis);
    const t0 = performance.now();
    const { bulk } = await runtime.bulk.create({ selector: { repositories: ['bench/images'] } });
    const planned = await waitFor(async () => {
      const b = await runtime.bulkScans.get(bulk.id);
      return b && b.status !== 'planning' ? b : undefined;
    }, { timeoutMs: 600_000, what: 'planning', intervalMs: 50 });
    // The plan is recorded before its start jobs are added (a cancel then enqueues nothing):
    // the clock stops once every start job is in Redis.
    const prioritized = async () => (await runtime.queues.queue('aws').getJobCounts('prioritized')).prioritized ?? 0;
    await waitFor(async () => (await prioritized()) >= planned.selected || undefined, { timeoutMs: 600_000, what: 'start jobs enqueued', intervalMs: 50 });
    const planSeconds = (performance.now() - t0) / 1000;
    const queued = await prioritized();
    const memAfter = await usedMemory(redis);
    if (planned.selected !== PLAN_IMAGES || queued !== PLAN_IMAGES) throw new Error(`planned ${planned.selected}, queued ${queued}, expected ${PLAN_IMAGES}`);
    const perScan = (memAfter - memBefore) / queued;
    await runtime.bulk.cancel(bulk.id);

    // 2. A smaller bulk run to completion: provider calls per scanned image (AWS).
    const before = await simulatorCalls(sim.url);
    const awsWorker = await startWorker(loadConfig({ ...env, SCANQ_WORKER_QUEUES: 'aws', SCANQ_WORKER_CONCURRENCY: '32' }));
    let perImage = 0;
    try {
      const { bulk: small } = await runtime.bulk.create({ selector: { repositories: ['bench/images'], tagPatterns: ['b-00*'] } });
      const done = await waitFor(async () => {
        const b = await runtime.bulkScans.get(small.id);
        return b && ['succeeded', 'failed'].includes(b.status) ? b : undefined;
      }, { timeoutMs: 600_000, what: 'bulk run', intervalMs: 50 });
      const after = await simulatorCalls(sim.url);
      const calls = Object.entries(after.totals)
        .filter(([k]) => k.startsWith('aws:'))
        .reduce((n, [k, v]) => n + v - (before.totals[k] ?? 0), 0);
      perImage = calls / done.selected;
      if (done.selected < Math.min(RUN_IMAGES, 100)) throw new Error(`bulk run selected only ${done.selected}`);
    } finally {
      await awsWorker.close();
    }
    return {
      'bulk: images planned + enqueued': `${PLAN_IMAGES} in ${planSeconds.toFixed(1)} s (goal <= 20 s)`,
      'bulk: Redis memory per queued scan': `${(perScan / 1024).toFixed(2)} KB (goal <= 1.5 KB)`,
      'bulk: AWS provider calls per scanned image': `${perImage.toFixed(2)} (goal <= 3)`,
    };
  } finally {
    await planner.close();
    await sim.close();
    redis.disconnect();
    await db.end();
    await drop();
  }
}

await runWhenMain(import.meta.url, 'bulk scans', benchBulk);
