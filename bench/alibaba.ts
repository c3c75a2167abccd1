/**
 * Alibaba quota utilization: how close scanq keeps an account at its 10 SAS scan tasks in
 * flight. Separate processes (simulator, API, BENCH_ALIBABA_WORKERS workers) on the machine's
 * Redis and Postgres; the simulator scans every image in exactly D ms (spread 0), N scans of
 * one image each are submitted over HTTP at once.
 *
 *   utilization = (completed scans / s) ÷ (10 / D)      goal ≥ 0.95
 *   violations  = BeyondQuata answers + (most tasks running at once > 10)   goal 0
 *
 * Standalone: `pnpm exec tsx bench/alibaba.ts`. Timings live here, never in pass/fail tests.
 */
import { randomBytes } from 'node:crypto';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { runWhenMain, startBenchStack, submitScans, waitForScansEnded } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

// 200 scans of 5 s: 100 s of saturated slots, so the fixed ramp-up (~2 s) and drain weigh little.
const SCANS = Number(process.env.BENCH_ALIBABA_SCANS ?? 200);
const TASK_MS = Number(process.env.BENCH_ALIBABA_TASK_MS ?? 5_000);
const WORKERS = Number(process.env.BENCH_ALIBABA_WORKERS ?? 4);
const TASK_LIMIT = 10;

interface SimAccount {
  name: string;
  beyondQuataCount: number;
  images: { digest: string; behaviour: string; supportedRegion: boolean }[];
  finishedTasks: { createdAt: number; finishAt: number }[];
  runningTasks: unknown[];
}

export async function benchAlibaba(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const stack = await startBenchStack('alibaba', run, {
    workers: WORKERS,
    queue: 'alibaba',
    env: {
      SCANQ_WORKER_QUEUES: 'alibaba',
      SCANQ_WORKER_CONCURRENCY: '16',
      // Polls well inside a task's duration, so a finished task is seen (and its slot freed) soon.
      SCANQ_POLL_INITIAL_MS: String(Math.max(50, Math.round(TASK_MS / 2))),
      SCANQ_POLL_FACTOR: '1.5',
      // Polls every D/50 (a 10-minute task polled every 12 s): a finished task is seen within ~1 % of D.
      SCANQ_POLL_MAX_MS: String(Math.max(50, Math.round(TASK_MS / 50))),
      // Waiters are woken when a slot frees; the retry is only the fallback.
      SCANQ_ALIBABA_QUOTA_RETRY_MS: '3000',
      SIM_ALIBABA_SCAN_MS: String(TASK_MS),
      SIM_ALIBABA_SCAN_SPREAD: '0',
      SIM_ALIBABA_IMAGES: String(SCANS + 40),
    },
  });
  const { sim, api, client, headers: JSON_AUTH } = stack;
  try {
    const account = SIMULATOR_ACCOUNTS.alibaba[0];
    const reg = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: JSON_AUTH, body: JSON.stringify({ provider: 'alibaba', name: account.name, region: account.region, endpoint: sim, credentialRef: account.name }) });
    if (reg.status !== 201) throw new Error(`account: ${reg.status} ${await reg.text()}`);
    const simAccount = async () => ((await (await fetch(`${sim}/_sim/state/alibaba`)).json()) as { accounts: SimAccount[] }).accounts.find((a) => a.name === account.name)!;
    const images = (await simAccount()).images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).slice(0, SCANS);
    if (images.length < SCANS) throw new Error(`the simulator has only ${images.length} scannable images`);

    const start = performance.now();
    const startEpoch = Date.now();
    // Submit over HTTP, 16 requests in flight.
    await submitScans(api, JSON_AUTH, images.length, (i) => ({ provider: 'alibaba', account: account.name, digests: [images[i]!.digest] }), 16);
    const failed = await waitForScansEnded(client, SCANS, 20);
    const seconds = (performance.now() - start) / 1000;
    const failures = await client.query<{ reason: string | null; error: string | null; n: string }>(`SELECT reason, left(error, 160) AS error, count(*) AS n FROM "Scan" WHERE status <> 'succeeded' GROUP BY 1, 2`);
    const rate = SCANS / seconds;
    const utilization = rate / (TASK_LIMIT / (TASK_MS / 1000));

    const calls = await simulatorCalls(sim);
    const beyondQuata = calls.outcomes['alibaba:PublicCreateImageScanTask:BeyondQuata'] ?? 0;
    const maxRunning = calls.gauges[`alibaba:${account.name}:runningTasks`]?.max ?? 0;
    const violations = beyondQuata + (maxRunning > TASK_LIMIT ? 1 : 0);
    const state = await simAccount();
    const tasks = state.finishedTasks;
    const meanTaskMs = tasks.reduce((s, t) => s + (t.finishAt - t.createdAt), 0) / Math.max(1, tasks.length);
    // Slot handoff: the k-th creation beyond the limit takes the slot of the (k − 10)-th finish.
    const created = tasks.map((t) => t.createdAt).sort((a, b) => a - b);
    const finished = tasks.map((t) => t.finishAt).sort((a, b) => a - b);
    const gaps = created.slice(TASK_LIMIT).map((c, i) => c - finished[i]!).sort((a, b) => a - b);
    // Steady state: from the 10th creation to the 10th-to-last finish (ramp-up and drain left out).
    const from = created[TASK_LIMIT - 1] ?? 0;
    const to = finished[finished.length - TASK_LIMIT] ?? 0;
    const busy = tasks.reduce((sum, t) => sum + Math.max(0, Math.min(t.finishAt, to) - Math.max(t.createdAt, from)), 0);
    const steady = to > from ? busy / (TASK_LIMIT * (to - from)) : 0;
    const pct = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))] ?? 0;
    return {
      'alibaba scans': `${SCANS} (one image each, ${WORKERS} worker processes, task D = ${TASK_MS} ms, simulator mean ${meanTaskMs.toFixed(0)} ms)`,
      'alibaba wall time s': seconds.toFixed(1),
      'alibaba completed scans/s': rate.toFixed(3),
      'alibaba ideal scans/s (10/D)': (TASK_LIMIT / (TASK_MS / 1000)).toFixed(3),
      'alibaba utilization': `${utilization.toFixed(3)} (goal >= 0.95)`,
      'alibaba steady-state utilization': `${steady.toFixed(3)} (slot-time busy between the 10th creation and the 10th-to-last finish)`,
      'alibaba max tasks running at once': String(maxRunning),
      'alibaba BeyondQuata answers': String(beyondQuata),
      'alibaba violations': `${violations} (goal 0)`,
      'alibaba slot handoff ms': `mean ${(gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length)).toFixed(0)}, p50 ${pct(0.5)}, p95 ${pct(0.95)} (task finished in the cloud → next task created)`,
      'alibaba ramp-up ms': `${created[Math.min(TASK_LIMIT, created.length) - 1]! - Math.round(startEpoch)} (submit → 10th task created)`,
      'alibaba failed scans': `${failed}${failures.rows.map((r) => ` [${r.n}× ${r.reason}: ${r.error}]`).join('')}`,
      'alibaba tasks created': String(tasks.length + state.runningTasks.length),
    };
  } finally {
    await stack.close();
  }
}

await runWhenMain(import.meta.url, 'Alibaba quota', benchAlibaba);
