/**
 * Huawei HSS bulk-scan figures (issue 6), in-process on the machine's Redis and Postgres:
 * provider API calls per scanned image for a bulk scan of one account (a few hundred images)
 * run to completion (goal ≤ 0.1), counted by the simulator (/_sim/calls) and split by API:
 * ListSwrImageRepository (inventory + polling), BatchScanSwrImage (starts) and
 * ListImageVulnerabilities (findings, one call per vulnerable image and 200 findings).
 * Run alone: `pnpm exec tsx bench/bulk-huawei.ts` (BENCH_BULK_HUAWEI_IMAGES, default 400).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, SIMULATOR_ACCOUNTS, simulatorAccountRequest } from '@scanq/core';
import { createFrontEnds } from '../apps/simulator/src/frontends.js';
import { startSimulator } from '../apps/simulator/src/core/server.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { waitForEnded } from '../test/support/wait.js';
import { benchEnv, createBenchStore, runWhenMain } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

const IMAGES = Number(process.env.BENCH_BULK_HUAWEI_IMAGES ?? 400);
/** Repositories that also tag their newest version `latest` (one more list entry, no new digest). */
const ALIASES = 10;

interface Scenario {
  label: string;
  scanMs: number;
  pollInitialMs: number;
  collectFindings: boolean;
}

const SCENARIOS: Scenario[] = [
  { label: 'instant scans, findings collected', scanMs: 0, pollInitialMs: 0, collectFindings: true },
  { label: 'instant scans, statuses only', scanMs: 0, pollInitialMs: 0, collectFindings: false },
  { label: '3 s scans, findings collected (polls while scanning)', scanMs: 3_000, pollInitialMs: 500, collectFindings: true },
];


export async function benchBulkHuawei(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const { databaseUrl, prefix, drop } = await createBenchStore('bulkhw', run);
  const sim = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    seed: 'bench',
    frontEnds: createFrontEnds({ SIM_HUAWEI_SCAN_MS: '0', SIM_HUAWEI_IMAGES: String(IMAGES), SIM_HUAWEI_LATEST_ALIASES: String(ALIASES) }),
  });
  const env = {
    ...benchEnv({ databaseUrl, prefix }),
  };
  const figures: Record<string, string> = {};
  const [hw] = SIMULATOR_ACCOUNTS.huawei;
  const calls = async () => (await simulatorCalls(sim.url)).totals;
  try {
    for (const s of SCENARIOS) {
      const configured = await fetch(`${sim.url}/_sim/config/huawei`, { method: 'POST', body: JSON.stringify({ scanDurationMs: s.scanMs }), headers: { 'content-type': 'application/json' } });
      if (!configured.ok) throw new Error(`simulator config: ${await configured.text()}`);
      const worker = await startWorker(loadConfig({ ...env, SCANQ_WORKER_QUEUES: 'maintenance,huawei', SCANQ_POLL_INITIAL_MS: String(s.pollInitialMs) }));
      try {
        const { runtime } = worker;
        const account = simulatorAccountRequest('huawei', 0, sim.url);
        await runtime.accounts.upsertByName({ ...account, settings: { ...account.settings, collectFindings: s.collectFindings } });
        const before = await calls();
        const t0 = performance.now();
        const { bulk } = await runtime.bulk.create({ selector: { accounts: [hw.name] } });
        const done = await waitForEnded(() => runtime.bulkScans.get(bulk.id), { timeoutMs: 600_000, what: 'bulk run', intervalMs: 50 });
        const seconds = (performance.now() - t0) / 1000;
        if (done.status !== 'succeeded') throw new Error(`bulk scan ${done.status}: ${done.error ?? ''}`);
        const { totals } = await runtime.bulkScans.totals(done);
        const scanned = totals.succeeded + totals.failed;
        if (scanned !== done.selected || scanned < 100) throw new Error(`${scanned} of ${done.selected} images ended`);
        const after = await calls();
        const byApi: Record<string, number> = {};
        for (const [k, v] of Object.entries(after)) if (k.startsWith('huawei:') && v - (before[k] ?? 0) > 0) byApi[k.slice('huawei:'.length)] = v - (before[k] ?? 0);
        const total = Object.values(byApi).reduce((a, b) => a + b, 0);
        const findingsCalls = byApi.ListImageVulnerabilities ?? 0;
        const scans = await runtime.db.scan.count({ where: { bulkScanId: bulk.id } });
        const plan = done.plan as { accounts: { listed: number }[] };
        figures[`bulk Huawei: calls per scanned image — ${s.label}`] =
          `${(total / scanned).toFixed(3)} (goal <= 0.1); without findings calls ${((total - findingsCalls) / scanned).toFixed(3)}; ` +
          `${total} calls for ${scanned} images (${plan.accounts[0]?.listed ?? '?'} listed, ${scans} scans, ${seconds.toFixed(1)} s): ` +
          Object.entries(byApi)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ');
      } finally {
        await worker.close();
      }
    }
    return figures;
  } finally {
    await sim.close();
    await drop();
  }
}

await runWhenMain(import.meta.url, 'Huawei bulk', benchBulkHuawei);
