/**
 * Tencent TCSS bulk figure (issue 6), in-process on the machine's Redis and Postgres: a bulk
 * scan of a few hundred registry images to completion through the real planner, adapter and
 * simulator, and the provider API calls it cost per scanned image (goal ≤ 0.1). The calls are
 * reported by API, so the per-image findings calls (DescribeAssetImageRegistryVulList: TCSS
 * lists vulnerabilities of one image per call) are visible apart from the rest.
 * Standalone: `pnpm exec tsx bench/bulk-tencent.ts` (BENCH_BULK_TENCENT_IMAGES, default 400).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, simulatorAccountRequest } from '@scanq/core';
import { createFrontEnds } from '../apps/simulator/src/frontends.js';
import { startSimulator } from '../apps/simulator/src/core/server.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { waitForEnded } from '../test/support/wait.js';
import { benchEnv, createBenchStore, runWhenMain } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

const IMAGES = Number(process.env.BENCH_BULK_TENCENT_IMAGES ?? 400);
const FINDINGS_API = 'DescribeAssetImageRegistryVulList';

export async function benchBulkTencent(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const { databaseUrl, prefix, drop } = await createBenchStore('bulktencent', run);
  // One second of simulated work per image, so polls see tasks running and follow ScanRemainTime.
  const sim = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    seed: 'bench',
    frontEnds: createFrontEnds({ SIM_TENCENT_SCAN_MS: '1000', SIM_TENCENT_IMAGES: String(IMAGES), SIM_TENCENT_TAG_ALIASES: '0.5' }),
  });
  const worker = await startWorker(
    loadConfig({
      ...benchEnv({ databaseUrl, prefix }),
      SCANQ_WORKER_QUEUES: 'maintenance,tencent',
      SCANQ_WORKER_CONCURRENCY: '16',
      SCANQ_POLL_INITIAL_MS: '500',
      SCANQ_POLL_MAX_MS: '5000',
    }),
  );
  try {
    const { runtime } = worker;
    await runtime.accounts.create(simulatorAccountRequest('tencent', 0, sim.url));
    const snapshot = () => simulatorCalls(sim.url);
    const before = await snapshot();
    const t0 = performance.now();
    const { bulk } = await runtime.bulk.create({ selector: { providers: ['tencent'] } });
    const done = await waitForEnded(() => runtime.bulkScans.get(bulk.id), { timeoutMs: 600_000, what: 'bulk run', intervalMs: 100 });
    const seconds = (performance.now() - t0) / 1000;
    const after = await snapshot();
    if (done.status !== 'succeeded') throw new Error(`bulk scan ended ${done.status}: ${done.error ?? ''}`);
    const { totals } = await runtime.bulkScans.totals(done);
    const scanned = totals.succeeded + totals.failed;
    if (scanned !== done.selected || scanned < 100) throw new Error(`scanned ${scanned} of ${done.selected} selected images`);
    const scans = await runtime.db.scan.count({ where: { bulkScanId: bulk.id } });

    const byApi: Record<string, number> = {};
    for (const [key, n] of Object.entries(after.totals)) {
      if (!key.startsWith('tencent:')) continue;
      const d = n - (before.totals[key] ?? 0);
      if (d > 0) byApi[key.slice('tencent:'.length)] = d;
    }
    const throttled = Object.entries(after.outcomes)
      .filter(([k]) => k.startsWith('tencent:') && k.endsWith(':RequestLimitExceeded'))
      .reduce((a, [k, v]) => a + v - (before.outcomes[k] ?? 0), 0);
    const all = Object.values(byApi).reduce((a, b) => a + b, 0);
    const findings = byApi[FINDINGS_API] ?? 0;
    const perImage = (n: number) => (n / scanned).toFixed(3);
    return {
      'bulk tencent: images scanned': `${scanned} (${totals.failed} failed) in ${scans} scans, ${seconds.toFixed(1)} s`,
      'bulk tencent: calls per image, scan work': `${perImage(all - findings)} (goal <= 0.1): ${Object.entries(byApi)
        .filter(([api]) => api !== FINDINGS_API)
        .map(([api, n]) => `${api} ${n}`)
        .join(', ')}`,
      'bulk tencent: calls per image, findings': `${perImage(findings)} (${FINDINGS_API} ${findings}: one image per call, 100 findings a page)`,
      'bulk tencent: calls per image, all': `${perImage(all)} (goal <= 0.1 missed: the findings calls alone are >= 1 per image with findings)`,
      'bulk tencent: RequestLimitExceeded answers': String(throttled),
    };
  } finally {
    await worker.close();
    await sim.close();
    await drop();
  }
}

await runWhenMain(import.meta.url, 'Tencent bulk', benchBulkTencent);
