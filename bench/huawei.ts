/**
 * Huawei HSS benchmark: provider calls per scanned image (goal ≤ 0.01) and images/s for large
 * operate_all scans through the whole pipeline (HTTP API → Postgres → BullMQ → worker →
 * huaweicloud-sdk-core → simulator → Postgres), counted by the simulator itself (/_sim/calls).
 * Run alone: `pnpm exec tsx bench/huawei.ts` (same REDIS_URL / DATABASE_URL as `pnpm bench`);
 * BENCH_HUAWEI_SCENARIOS=0,2 picks scenarios by index.
 */
import { randomBytes } from 'node:crypto';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { runWhenMain, startBenchStack } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

/** Regular images seeded per simulator account: 24,987 make exactly 20,000 private_image. */
const SEEDED_IMAGES = process.env.BENCH_HUAWEI_IMAGES ?? '24987';

interface Scenario {
  label: string;
  /** Simulated time a scan takes. */
  scanMs: number;
  /** Worker poll settings (instant scans: look right after starting). */
  pollInitialMs: number;
  pollMaxMs: number;
  collectFindings: boolean;
  /** Extra operate_all filters (e.g. one namespace, to keep the findings run short). */
  filters?: Record<string, unknown>;
}

interface Outcome {
  images: number;
  failedImages: number;
  seconds: number;
  calls: Record<string, number>;
  findings: number;
}

/** Starts simulator, worker and API, runs one operate_all scan of account sim-huawei, tears down. */
async function runScenario(s: Scenario, run: string): Promise<Outcome> {
  const stack = await startBenchStack('hw', run, {
    workers: 1,
    queue: 'huawei',
    env: {
      SCANQ_WORKER_QUEUES: 'huawei',
      SCANQ_POLL_INITIAL_MS: String(s.pollInitialMs),
      SCANQ_POLL_MAX_MS: String(s.pollMaxMs),
      SIM_HUAWEI_SCAN_MS: String(s.scanMs),
      SIM_HUAWEI_IMAGES: SEEDED_IMAGES,
    },
  });
  const { sim, api, client, headers: API_HEADERS } = stack;
  try {
    const hw = SIMULATOR_ACCOUNTS.huawei[0];
    const account = await fetch(`${api}/v1/accounts`, {
      method: 'POST',
      headers: API_HEADERS,
      body: JSON.stringify({ provider: 'huawei', name: hw.name, region: hw.region, endpoint: sim, credentialRef: hw.name, settings: { projectId: hw.projectId, collectFindings: s.collectFindings } }),
    });
    if (!account.ok) throw new Error(`account: ${account.status} ${await account.text()}`);
    const callsBefore = (await simulatorCalls(sim)).totals;
    const start = performance.now();
    const res = await fetch(`${api}/v1/scans`, {
      method: 'POST',
      headers: API_HEADERS,
      body: JSON.stringify({ provider: 'huawei', account: hw.name, image_type: 'private_image', operate_all: true, ...s.filters }),
    });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
    const scanId = ((await res.json()) as { id: string }).id;
    for (;;) {
      const { rows } = await client.query<{ status: string; error: string | null }>('SELECT status, error FROM "Scan" WHERE id = $1', [scanId]);
      const status = rows[0]?.status;
      if (status === 'succeeded') break;
      if (status === 'failed' || status === 'cancelled') throw new Error(`scan ${status}: ${rows[0]?.error}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - start) / 1000;
    const after = (await simulatorCalls(sim)).totals;
    const calls: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (k.startsWith('huawei:')) calls[k.slice('huawei:'.length)] = v - (callsBefore[k] ?? 0);
    const images = await client.query<{ n: string; failed: string }>(`SELECT count(*) AS n, count(*) FILTER (WHERE status = 'failed') AS failed FROM "ImageScan" WHERE "scanId" = $1`, [scanId]);
    const findings = await client.query<{ n: string }>('SELECT count(*) AS n FROM "Finding" WHERE "scanId" = $1', [scanId]);
    return { images: Number(images.rows[0]!.n), failedImages: Number(images.rows[0]!.failed), seconds, calls, findings: Number(findings.rows[0]!.n) };
  } finally {
    await stack.close();
  }
}

const SCENARIOS: Scenario[] = [
  { label: 'instant scans, statuses only', scanMs: 0, pollInitialMs: 0, pollMaxMs: 1_000, collectFindings: false },
  { label: 'instant scans, findings collected (one namespace)', scanMs: 0, pollInitialMs: 0, pollMaxMs: 1_000, collectFindings: true, filters: { namespace: 'payments' } },
  { label: '30 s scans, statuses only (polls while scanning)', scanMs: 30_000, pollInitialMs: 2_000, pollMaxMs: 10_000, collectFindings: false },
];

/** Runs every scenario; figures keyed by what they measure. */
export async function benchHuawei(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const figures: Record<string, string> = {};
  const only = process.env.BENCH_HUAWEI_SCENARIOS?.split(',').map(Number);
  for (const [i, s] of SCENARIOS.entries()) {
    if (only && !only.includes(i)) continue;
    let o: Outcome;
    try {
      o = await runScenario(s, `${run}${i}`);
    } catch (err) {
      figures[`Huawei — ${s.label}`] = `FAILED: ${(err as Error).message.split('\n')[0]}`;
      console.error(`[bench/huawei] ${s.label}: failed`, err);
      continue;
    }
    const total = Object.values(o.calls).reduce((a, b) => a + b, 0);
    const byApi = Object.entries(o.calls)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    figures[`Huawei provider calls per scanned image — ${s.label}`] = `${(total / o.images).toFixed(4)} (goal <= 0.01; ${total} calls for ${o.images} images: ${byApi})`;
    figures[`Huawei images/s — ${s.label}`] = `${(o.images / o.seconds).toFixed(0)} (${o.images} images, ${o.failedImages} failed, ${o.findings} findings, ${o.seconds.toFixed(1)} s)`;
    console.error(`[bench/huawei] ${s.label}: ${figures[`Huawei provider calls per scanned image — ${s.label}`]}; ${figures[`Huawei images/s — ${s.label}`]}`);
  }
  return figures;
}

await runWhenMain(import.meta.url, 'Huawei batch scans', benchHuawei);
