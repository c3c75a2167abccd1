/**
 * Alibaba bulk figure (issue 6): provider API calls per scanned image for a bulk scan of a few
 * hundred SAS images run to completion, in-process (simulator + one worker) on the machine's
 * Redis and Postgres. Goal ≤ 0.1 calls per image.
 *
 * Time is compressed about 50×: a task's images take 1.5–3 s (SAS: 1–5 min), polls start at
 * 100 ms and back off ×1.5 to 1.2 s (scanq's defaults: 5 s to 60 s). Calls are reported by
 * kind: inventory (DescribeImageInstances while planning), task starts (PublicPreCheck +
 * DescribeImageScanAuthCount + PublicCreate), status polls (DescribeImageInstances after
 * planning) and findings (DescribeImageVulList), whose count follows the number of findings
 * (100 records a page) rather than the number of images.
 *
 * Standalone: `pnpm exec tsx bench/bulk-alibaba.ts`. Timings live here, never in pass/fail tests.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, simulatorAccountRequest } from '@scanq/core';
import { createFrontEnds } from '../apps/simulator/src/frontends.js';
import { startSimulator } from '../apps/simulator/src/core/server.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { waitFor, waitForEnded } from '../test/support/wait.js';
import { benchEnv, createBenchStore, runWhenMain } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

const IMAGES = Number(process.env.BENCH_BULK_ALIBABA_IMAGES ?? 400);
const SCAN_MS = Number(process.env.BENCH_BULK_ALIBABA_SCAN_MS ?? 3_000);


type Totals = Record<string, number>;

export async function benchBulkAlibaba(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const { databaseUrl, prefix, drop } = await createBenchStore('bulkalibaba', run);
  const sim = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    seed: 'bench',
    frontEnds: createFrontEnds({ SIM_ALIBABA_IMAGES: String(IMAGES), SIM_ALIBABA_SCAN_MS: String(SCAN_MS) }),
  });
  const worker = await startWorker(
    loadConfig({
      ...benchEnv({ databaseUrl, prefix }),
      SCANQ_POLL_INITIAL_MS: '100',
      SCANQ_POLL_FACTOR: '1.5',
      SCANQ_POLL_MAX_MS: '1200',
      SCANQ_ALIBABA_QUOTA_RETRY_MS: '1000',
      SCANQ_WORKER_CONCURRENCY: '16',
    }),
  );
  const calls = async (): Promise<Totals> => (await simulatorCalls(sim.url)).totals;
  try {
    const { runtime } = worker;
    await runtime.accounts.create(simulatorAccountRequest('alibaba', 0, sim.url));
    const start = await calls();
    const t0 = performance.now();
    const { bulk } = await runtime.bulk.create({ selector: { providers: ['alibaba'] } });
    await waitFor(async () => ((await runtime.bulkScans.get(bulk.id))?.status !== 'planning' ? true : undefined), { timeoutMs: 120_000, what: 'planning', intervalMs: 20 });
    const planned = await calls();
    const done = await waitForEnded(() => runtime.bulkScans.get(bulk.id), { timeoutMs: 600_000, what: 'bulk run', intervalMs: 20 });
    const seconds = (performance.now() - t0) / 1000;
    const end = await calls();
    const state = await simulatorCalls(sim.url);
    const between = (a: Totals, b: Totals, api: string) => (b[`alibaba:${api}`] ?? 0) - (a[`alibaba:${api}`] ?? 0);
    const inventory = between(start, planned, 'DescribeImageInstances');
    const status = between(planned, end, 'DescribeImageInstances');
    const starts = ['PublicPreCheckImageScanTask', 'DescribeImageScanAuthCount', 'PublicCreateImageScanTask'].reduce((n, api) => n + between(start, end, api), 0);
    const findings = between(start, end, 'DescribeImageVulList');
    const all = Object.keys(end)
      .filter((k) => k.startsWith('alibaba:'))
      .reduce((n, k) => n + (end[k] ?? 0) - (start[k] ?? 0), 0);
    const { totals } = await runtime.bulkScans.totals(done);
    const scans = await runtime.db.scan.count({ where: { bulkScanId: bulk.id } });
    const storedFindings = await runtime.db.finding.count();
    const images = done.selected;
    const per = (n: number) => (n / images).toFixed(3);
    const control = inventory + starts + status;
    return {
      'bulk alibaba: images / tasks / time': `${images} images (${totals.succeeded} succeeded, ${totals.failed} failed) in ${scans} tasks, ${seconds.toFixed(1)} s; most tasks at once ${state.gauges['alibaba:sim-alibaba:runningTasks']?.max ?? '?'}`,
      'bulk alibaba: calls per image, all': `${per(all)} (${all} calls; goal <= 0.1)`,
      'bulk alibaba: calls per image, control': `${per(control)} (inventory ${inventory}, task starts ${starts}, status polls ${status})`,
      'bulk alibaba: calls per image, findings': `${per(findings)} (${findings} DescribeImageVulList calls for ${storedFindings} findings, 100 a page, cve + sca)`,
    };
  } finally {
    await worker.close();
    await sim.close();
    await drop();
  }
}

await runWhenMain(import.meta.url, 'Alibaba bulk', benchBulkAlibaba);
