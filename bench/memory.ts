/**
 * Memory and cost as work grows (issue 19), on a Redis server of the section's own (so
 * `used_memory` deltas are exact) and a database of its own on the machine's Postgres:
 * 1. 10,000 AWS scans parked between polls (the simulator's scans last 2 h, the first poll is an
 *    hour away): the worker process's RSS (`/proc/<pid>/status` VmRSS, VmHWM; goal ≤ 250 MB) and
 *    Redis memory per parked poll (`used_memory` after − before ÷ parked polls, every key of the
 *    run counted; goal ≤ 1.5 KB), with what the poll jobs' own keys weigh (`MEMORY USAGE`).
 * 2. A 1,000,000-image bulk scan (the simulator's `bench/images` resized through
 *    `/_sim/config/aws`) planned and enqueued: wall time to the last start job in Redis (goal ≤
 *    120 s) and the planner process's RSS sampled every 250 ms (peak, and its growth over the
 *    run's second half: "flat" = under 32 MB, where a held listing grows by hundreds). The planner
 *    serves `maintenance` only and no worker serves `aws` meanwhile, so no scan starts while it is
 *    measured: the figure is planning alone.
 * The worker and the planner run as the production image runs them: `node dist/worker.js` on the
 * production-only install, assembled from the Dockerfile's own stages into a temp dir (tsx's
 * TypeScript loader, what `pnpm worker` runs in development, adds ~50 MB of its own: the idle
 * figure of a tsx worker is printed beside, for context).
 * Run alone: `pnpm exec tsx bench/memory.ts` (BENCH_MEMORY_PARKED, BENCH_MEMORY_PLAN_IMAGES).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, QueueName, simulatorAccountRequest } from '@scanq/core';
import { createRuntime } from '@scanq/scans';
import { createRedis, REDIS_SERVER_ARGS, type RedisClient } from '@scanq/queue';
import { freePort, REPO_ROOT, startProcess, startSimulatorProcess, waitForHttp, type ScanqProcess } from '../test/support/processes.js';
import { assembleProductionImage, startCompiledProcess } from '../test/support/production-image.js';
import { RedisServer } from '../test/support/servers.js';
import { PLAN_IN_FLIGHT } from '../packages/scans/src/bulk-scan.service.js';
import { benchEnv, createBenchStore, runWhenMain } from './support.js';

const PARKED = Number(process.env.BENCH_MEMORY_PARKED ?? 10_000);
const PLAN_IMAGES = Number(process.env.BENCH_MEMORY_PLAN_IMAGES ?? 1_000_000);
const MB = 1024 * 1024;

/** VmRSS and VmHWM of a process, in bytes. */
function processMemory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function usedMemory(redis: RedisClient): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

/** Bytes of every key by class (poll job hashes, other job hashes, the rest), from MEMORY USAGE. */
async function keyBytes(redis: RedisClient): Promise<Record<string, { keys: number; bytes: number }>> {
  const out: Record<string, { keys: number; bytes: number }> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.memory('USAGE', k, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((k, i) => {
      // Ids, digests and numbers folded out, so keys of one kind (one per scan, per image) group.
      const cls = /-poll$/.test(k) ? 'poll job hashes' : /:[0-9a-f-]{36}(-g\d+)?$/.test(k) ? 'start job hashes' : k.replace(/^[^}]*\}/, '').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').replace(/[0-9a-f]{64}/g, '<digest>').replace(/\d+/g, '<n>');
      const c = (out[cls] ??= { keys: 0, bytes: 0 });
      c.keys += 1;
      c.bytes += Number(sizes[i]?.[1] ?? 0);
    });
  } while (cursor !== '0');
  return out;
}

/**
 * What one parked poll job hash weighs under Redis' default `hash-max-ziplist-value` (64): a copy
 * of one written with the default set for the moment, measured, deleted (the section's own Redis).
 */
async function pollHashWithRedisDefaults(redis: RedisClient): Promise<number> {
  let key: string | undefined;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', '*-poll', 'COUNT', 1000);
    cursor = next;
    key = keys[0];
  } while (!key && cursor !== '0');
  if (!key) return 0;
  const fields = await redis.hgetall(key);
  const [, configured] = (await redis.config('GET', 'hash-max-ziplist-value')) as [string, string];
  const copy = `${key.slice(0, key.indexOf('}') + 1)}:bench-default-encoding`;
  try {
    await redis.config('SET', 'hash-max-ziplist-value', '64');
    await redis.hset(copy, fields);
    return Number(await redis.memory('USAGE', copy, 'SAMPLES', '0'));
  } finally {
    await redis.del(copy);
    await redis.config('SET', 'hash-max-ziplist-value', configured);
  }
}

/** Polls `check` until it returns a value; a process of `procs` that exits (or the timeout) fails it at once. */
async function until<T>(what: string, procs: ScanqProcess[], timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.output()}`);
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function waitForWorkers(url: string, queue: QueueName, prefix: string, count: number, proc: ScanqProcess): Promise<void> {
  const { Queue } = await import('bullmq');
  const { RedisKeyspace } = await import('@scanq/queue');
  // BullMQ leaves a connection it was handed open on close: it is disconnected here, or it
  // reconnects forever to the section's Redis once that is stopped.
  const connection = createRedis(url);
  const q = new Queue(queue, { connection, prefix: new RedisKeyspace(prefix).queuePrefix(queue), skipMetasUpdate: true });
  try {
    await until(`${count} worker(s) on ${queue}`, [proc], 120_000, async () => ((await q.getWorkersCount()) >= count ? true : undefined));
  } finally {
    await q.close();
    connection.disconnect();
  }
}

export async function benchMemory(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const figures: Record<string, string> = {};
  // scanq's Redis settings, as docker-compose and `pnpm start` run it.
  const redisServer = await RedisServer.start({ args: REDIS_SERVER_ARGS });
  const store = await createBenchStore('memory', run);
  const simPort = await freePort();
  const env = {
    ...benchEnv(store),
    REDIS_URL: redisServer.url,
    SCANQ_API_KEY: 'bench-memory-key',
    // Parked: the first look at each scan an hour after its start.
    SCANQ_POLL_INITIAL_MS: '3600000',
    SCANQ_POLL_MAX_MS: '3600000',
    SCANQ_SCAN_TIMEOUT_MS: String(6 * 3600_000),
  };
  const sim = startSimulatorProcess('simulator', { SIM_PORT: String(simPort), SIM_SEED: 'bench', SIM_AWS_SCAN_MS: String(2 * 3600_000), SIM_AWS_FINDINGS: '0', SIM_AWS_BENCH_IMAGES: String(PARKED) });
  const simUrl = `http://127.0.0.1:${simPort}`;
  const redis = createRedis(redisServer.url);
  const rt = createRuntime(loadConfig({ ...env, LOG_LEVEL: 'silent' }));
  const procs: ScanqProcess[] = [sim];
  const image = mkdtempSync(join(tmpdir(), 'scanq-bench-image-'));
  try {
    assembleProductionImage(image);
    await waitForHttp(`${simUrl}/_sim/health`, sim);
    await rt.accounts.create(simulatorAccountRequest('aws', 0, simUrl));
    const startedAt = load();

    // 0. For context: the same worker idle under tsx (development), then stopped.
    const workerEnv = { ...env, SCANQ_WORKER_QUEUES: 'maintenance,aws', SCANQ_WORKER_CONCURRENCY: '32' };
    const tsxWorker = startProcess('tsx-worker', 'apps/worker/src/main.ts', workerEnv);
    procs.push(tsxWorker);
    await waitForWorkers(redisServer.url, QueueName.aws, store.prefix, 1, tsxWorker);
    await new Promise((r) => setTimeout(r, 2_000));
    const tsxIdle = processMemory(tsxWorker.child.pid!).rss;
    await tsxWorker.stop();

    // 1. Parked polls.
    // SIGUSR2 → a full GC (bench/gc-on-signal.mjs): RSS is read before and after it.
    const worker = startCompiledProcess(image, 'worker', 'worker.js', workerEnv, ['--expose-gc', '--import', join(REPO_ROOT, 'bench/gc-on-signal.mjs')]);
    procs.push(worker);
    await waitForWorkers(redisServer.url, QueueName.aws, store.prefix, 1, worker);
    await new Promise((r) => setTimeout(r, 2_000)); // past its start-up
    const workerIdle = processMemory(worker.child.pid!).rss;
    const before = await usedMemory(redis);
    const t0 = performance.now();
    const { bulk: parkedBulk } = await rt.bulk.create({ selector: { repositories: ['bench/images'] } });
    const aws = rt.queues.queue(QueueName.aws);
    await until(`${PARKED} parked polls`, [sim, worker], 1_800_000, async () => (((await aws.getJobCounts('delayed')).delayed ?? 0) >= PARKED ? true : undefined));
    const parkSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3_000)); // the last jobs' completion bookkeeping
    const counts = await aws.getJobCounts('delayed', 'prioritized', 'waiting', 'active', 'completed');
    const parked = counts.delayed ?? 0;
    const running = await rt.db.scan.count({ where: { bulkScanId: parkedBulk.id, status: 'running' } });
    const mem = processMemory(worker.child.pid!);
    worker.child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 2_000));
    const afterGc = processMemory(worker.child.pid!).rss;
    const after = await usedMemory(redis);
    const classes = await keyBytes(redis);
    const poll = classes['poll job hashes'] ?? { keys: 0, bytes: 0 };
    const pollBytes = poll.bytes / Math.max(1, poll.keys);
    const pollDefault = await pollHashWithRedisDefaults(redis);
    const perPoll = (after - before) / parked;
    figures['memory: scans parked between polls'] = `${parked} delayed poll jobs, ${running} scans running in Postgres (${parkSeconds.toFixed(0)} s to park; jobs left: ${JSON.stringify(counts)})`;
    figures['memory: worker RSS with the scans parked'] = `${(mem.rss / MB).toFixed(0)} MB (goal <= 250 MB: ${mem.rss <= 250 * MB ? 'met' : 'NOT met'}); peak (VmHWM) ${(mem.hwm / MB).toFixed(0)} MB; idle before the bulk scan ${(workerIdle / MB).toFixed(0)} MB (node dist/worker.js; the same worker idle under tsx: ${(tsxIdle / MB).toFixed(0)} MB)`;
    figures['memory: worker RSS after a full GC'] = `${(afterGc / MB).toFixed(0)} MB (goal <= 250 MB: ${afterGc <= 250 * MB ? 'met' : 'NOT met'}; the figure above less what V8 had not collected yet: it sizes its heap to the machine's, or the container's, memory)`;
    figures['memory: Redis per parked poll'] = `${(perPoll / 1024).toFixed(2)} KB (goal <= 1.5 KB: ${perPoll <= 1.5 * 1024 ? 'met' : 'NOT met'}); used_memory ${((after - before) / MB).toFixed(1)} MB more for ${parked}`;
    figures['memory: Redis per parked poll, Redis defaults'] = `${((perPoll + pollDefault - pollBytes) / 1024).toFixed(2)} KB (a poll job hash copied under Redis' default hash-max-ziplist-value 64: ${pollDefault} B, hashtable-encoded; the figure above runs with REDIS_SERVER_ARGS)`;
    figures['memory: of which each poll job hash'] = `${pollBytes.toFixed(0)} B (MEMORY USAGE, ${poll.keys} hashes); other keys: ${Object.entries(classes)
      .filter(([k]) => k !== 'poll job hashes')
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, 6)
      .map(([k, v]) => `${k} ${v.keys}×${(v.bytes / v.keys).toFixed(0)} B`)
      .join(', ')}`;
    await worker.stop();

    // 2. A 1M-image bulk scan planned and enqueued, no scan started meanwhile.
    const resized = await fetch(`${simUrl}/_sim/config/aws`, { method: 'POST', body: JSON.stringify({ benchImages: PLAN_IMAGES }), headers: { 'content-type': 'application/json' } });
    if (!resized.ok) throw new Error(`simulator config: ${await resized.text()}`);
    const planner = startCompiledProcess(image, 'planner', 'worker.js', { ...env, SCANQ_WORKER_QUEUES: 'maintenance', LOG_LEVEL: 'info' });
    procs.push(planner);
    // Its 'bulk scan planned' line, caught as it is written (info lines after it would push it out of output()).
    let plannedLine: string | undefined;
    let partial = '';
    planner.child.stdout?.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      plannedLine ??= lines.find((l) => l.includes('"bulk scan planned"'));
    });
    await waitForWorkers(redisServer.url, QueueName.maintenance, store.prefix, 1, planner);
    await new Promise((r) => setTimeout(r, 2_000)); // past its start-up
    const samples: { t: number; rss: number }[] = [];
    const idle = processMemory(planner.child.pid!).rss;
    const t1 = performance.now();
    const sampler = setInterval(() => {
      try {
        samples.push({ t: (performance.now() - t1) / 1000, rss: processMemory(planner.child.pid!).rss });
      } catch {
        /* exited: the wait below reports it */
      }
    }, 250);
    let planSeconds = NaN;
    let queued = 0;
    try {
      const { bulk } = await rt.bulk.create({ selector: { repositories: ['bench/images'] } });
      const prioritized = async () => (await aws.getJobCounts('prioritized')).prioritized ?? 0;
      const planned = await until('planning', [sim, planner], 1_800_000, async () => {
        const b = await rt.bulkScans.get(bulk.id);
        return b && b.status !== 'planning' ? b : undefined;
      });
      await until('start jobs enqueued', [sim, planner], 1_800_000, async () => ((await prioritized()) >= planned.selected ? true : undefined));
      planSeconds = (performance.now() - t1) / 1000;
      queued = await prioritized();
      if (planned.selected !== PLAN_IMAGES || queued < PLAN_IMAGES) throw new Error(`planned ${planned.selected}, queued ${queued}, expected ${PLAN_IMAGES}`);
    } finally {
      clearInterval(sampler);
    }
    const peak = Math.max(...samples.map((s) => s.rss));
    const half = samples.filter((s) => s.t >= planSeconds / 2);
    const growth = half.length > 1 ? slope(half) * (half[half.length - 1]!.t - half[0]!.t) : NaN;
    const quarter = (f: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * f))]!.rss / MB;
    figures['memory: images planned + enqueued'] = `${queued} in ${planSeconds.toFixed(1)} s (goal <= 120 s: ${planSeconds <= 120 ? 'met' : 'NOT met'})`;
    figures['memory: planner RSS while planning'] =
      `peak ${(peak / MB).toFixed(0)} MB (idle ${(idle / MB).toFixed(0)} MB); at 25/50/75/100 % of the run ${[0.25, 0.5, 0.75, 1].map((f) => quarter(f).toFixed(0)).join(' / ')} MB`;
    figures['memory: planner RSS growth over the run\'s second half'] = `${(growth / MB).toFixed(1)} MB (linear fit, ${half.length} samples; goal flat, < 32 MB: ${Math.abs(growth) < 32 * MB ? 'met' : 'NOT met'})`;
    // The planner's own split of its time (its 'bulk scan planned' log line).
    if (plannedLine) {
      const t = JSON.parse(plannedLine) as { planMs: number; insertMs: number; enqueueMs: number };
      figures['memory: planner time split'] = `listing and inserts ${(t.planMs / 1000).toFixed(1)} s (the inserts' own time ${(t.insertMs / 1000).toFixed(1)} s, ${PLAN_IN_FLIGHT} batches at once, overlapping the listing), enqueue ${(t.enqueueMs / 1000).toFixed(1)} s`;
    }
    figures['memory: load average (start → end)'] = `${startedAt} → ${load()}`;
    return figures;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await rt.close().catch(() => undefined);
    redis.disconnect();
    await store.drop().catch(() => undefined);
    await redisServer.destroy();
    rmSync(image, { recursive: true, force: true });
  }
}

/** Least-squares slope of rss over t (bytes per second). */
function slope(points: { t: number; rss: number }[]): number {
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mr = points.reduce((a, p) => a + p.rss, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.rss - mr), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

await runWhenMain(import.meta.url, 'memory and cost as work grows', benchMemory);
