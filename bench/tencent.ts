/**
 * Tencent TCSS under full load: 4 worker processes share one TCSS account and keep every API
 * busy; the simulator counts the calls it receives per API per wall-clock second. Reports the
 * sustained requests/s of the busiest API (goal ≥ 18: the token bucket leaves little of the
 * 20/s unused) and the peak count in any one second (must be ≤ 20), from the simulator's own
 * counter. Standalone: `pnpm exec tsx bench/tencent.ts`. Timings live here, never in tests.
 */
import { randomBytes } from 'node:crypto';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { runWhenMain, startBenchStack, submitScans, waitForScansEnded } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

const SCANS = Number(process.env.BENCH_TENCENT_SCANS ?? 600);
const WORKERS = Number(process.env.BENCH_TENCENT_WORKERS ?? 4);
const CONCURRENCY = Number(process.env.BENCH_TENCENT_CONCURRENCY ?? 32);
const LIMIT = 20;

interface SimImage {
  Id: number;
  special: string | null;
}

interface ApiFigures {
  calls: number;
  /** Mean calls/s over the full seconds the API was in use (first and last, partial, left out). */
  mean: number;
  /** Mean calls/s in steady state: the middle 80% of those seconds (ramp-up and drain left out). */
  sustained: number;
  peak: number;
  /** Full seconds at or above 18 calls. */
  secondsAt18: number;
  fullSeconds: number;
}

function figures(perSecond: Record<string, number>): ApiFigures {
  const seconds = Object.keys(perSecond).map(Number).sort((a, b) => a - b);
  const calls = Object.values(perSecond).reduce((a, b) => a + b, 0);
  const first = seconds[0] ?? 0;
  const last = seconds[seconds.length - 1] ?? 0;
  const inner: number[] = [];
  for (let s = first + 1; s < last; s++) inner.push(perSecond[String(s)] ?? 0);
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const trim = Math.floor(inner.length * 0.1);
  const steady = inner.slice(trim, inner.length - trim);
  return {
    calls,
    mean: inner.length ? avg(inner) : calls,
    sustained: steady.length ? avg(steady) : calls,
    peak: Math.max(0, ...Object.values(perSecond)),
    secondsAt18: inner.filter((n) => n >= 18).length,
    fullSeconds: inner.length,
  };
}

export async function benchTencent(): Promise<Record<string, string>> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const stack = await startBenchStack('tencent', run, {
    workers: WORKERS,
    queue: 'tencent',
    env: {
      SCANQ_WORKER_CONCURRENCY: String(CONCURRENCY),
      SCANQ_WORKER_QUEUES: 'tencent',
      SCANQ_POLL_INITIAL_MS: '200',
      SCANQ_POLL_MAX_MS: '5000',
      // Scans take a second of simulated work, so polls see SCANNING and follow ScanRemainTime.
      SIM_TENCENT_SCAN_MS: '1000',
      SIM_TENCENT_IMAGES: String(SCANS + 50),
    },
  });
  const { sim, api, client, headers: JSON_AUTH } = stack;
  try {
    const tc = SIMULATOR_ACCOUNTS.tencent[0];
    const created = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: JSON_AUTH, body: JSON.stringify({ provider: 'tencent', name: tc.name, region: tc.region, endpoint: sim, credentialRef: tc.name }) });
    if (created.status !== 201) throw new Error(`account: ${created.status} ${await created.text()}`);
    const state = (await (await fetch(`${sim}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: SimImage[] }[] };
    const images = state.accounts.find((a) => a.name === tc.name)!.images.filter((i) => i.special === null).slice(0, SCANS);
    if (images.length < SCANS) throw new Error(`the simulator seeded only ${images.length} images`);
    await fetch(`${sim}/_sim/reset`, { method: 'POST' }); // count only the run itself

    const start = performance.now();
    await submitScans(api, JSON_AUTH, SCANS, (i) => ({ provider: 'tencent', account: tc.name, repositoryIds: [images[i]!.Id] }), 32);
    const unsucceeded = await waitForScansEnded(client, SCANS, 200);
    if (unsucceeded > 0) throw new Error(`${unsucceeded} scans did not succeed`);
    const seconds = (performance.now() - start) / 1000;

    const calls = await simulatorCalls(sim);
    const perApi = Object.fromEntries(
      Object.entries(calls.perSecond)
        .filter(([k]) => k.startsWith('tencent:'))
        .map(([k, v]) => [k.slice('tencent:'.length), figures(v)]),
    );
    const busiest = Object.entries(perApi).sort((a, b) => b[1].calls - a[1].calls)[0];
    if (!busiest) throw new Error('the simulator counted no Tencent calls');
    const peak = Math.max(...Object.values(perApi).map((f) => f.peak));
    const throttled = Object.entries(calls.outcomes)
      .filter(([k]) => k.startsWith('tencent:') && k.endsWith(':RequestLimitExceeded'))
      .reduce((a, [, n]) => a + n, 0);
    const out: Record<string, string> = {
      'tencent sustained requests/s': `${busiest[1].sustained.toFixed(1)}   (${busiest[0]}, the busiest API, steady state; goal >= 18; whole run ${busiest[1].mean.toFixed(1)}/s, ${busiest[1].secondsAt18}/${busiest[1].fullSeconds} full seconds at >= 18)`,
      'tencent peak requests in 1 s': `${peak}   (any API, any second; limit ${LIMIT})`,
      'tencent RequestLimitExceeded': `${throttled}`,
      'tencent scans/s': `${(SCANS / seconds).toFixed(2)}   (${SCANS} scans, ${WORKERS} workers x concurrency ${CONCURRENCY})`,
    };
    for (const [name, f] of Object.entries(perApi)) out[`  ${name}`] = `${f.calls} calls, steady ${f.sustained.toFixed(1)}/s, whole run ${f.mean.toFixed(1)}/s, peak ${f.peak}`;
    return out;
  } finally {
    await stack.close();
  }
}

await runWhenMain(import.meta.url, 'Tencent TCSS rate limit', benchTencent);
