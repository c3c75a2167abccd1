/**
 * Tencent TCSS under full load: 4 worker processes (BENCH_TENCENT_WORKERS) share one TCSS account
 * and keep every API busy. Reports the sustained requests/s of the busiest API (the pacer keeps
 * 20 per 1000 + SCANQ_TENCENT_MARGIN_MS ms: 15.4/s at the default 300) and the peak in one second
 * (must be ≤ 20) two ways: the simulator's own counter, per whole wall-clock second, and the most
 * calls in any sliding 1000 ms, from the arrival times a recording proxy in front of the simulator
 * sees (the simulator keeps no times). Standalone: `pnpm exec tsx bench/tencent.ts`. Timings live
 * here, never in tests.
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { runWhenMain, startBenchStack, submitScans, waitForScansEnded } from './support.js';
import { simulatorCalls } from '../test/support/simulator-calls.js';

const SCANS = Number(process.env.BENCH_TENCENT_SCANS ?? 600);
const WORKERS = Number(process.env.BENCH_TENCENT_WORKERS ?? process.env.BENCH_WORKERS ?? 4);
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
  /** Full seconds at or above 15 calls (the default ceiling is 15.4/s). */
  secondsAt15: number;
  fullSeconds: number;
}

/**
 * An HTTP proxy in front of the simulator that records when each Tencent call arrives, per API
 * (the X-TC-Action header), so the bench can count calls in any sliding second. It forwards
 * every header untouched, so the simulator still checks the SDK's signatures.
 */
async function startArrivalRecorder(target: string): Promise<{ url: string; arrivals: Map<string, number[]>; close(): Promise<void> }> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const arrivals = new Map<string, number[]>();
  const server = createServer((req, res) => {
    const at = performance.timeOrigin + performance.now();
    const api = req.headers['x-tc-action'];
    if (typeof api === 'string') {
      const list = arrivals.get(api) ?? [];
      list.push(at);
      arrivals.set(api, list);
    }
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

/** The most calls in any window [x, x + 1000) ms. */
function slidingPeak(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= 1000) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
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
    secondsAt15: inner.filter((n) => n >= 15).length,
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
  const recorder = await startArrivalRecorder(sim);
  try {
    const tc = SIMULATOR_ACCOUNTS.tencent[0];
    const created = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: JSON_AUTH, body: JSON.stringify({ provider: 'tencent', name: tc.name, region: tc.region, endpoint: recorder.url, credentialRef: tc.name }) });
    if (created.status !== 201) throw new Error(`account: ${created.status} ${await created.text()}`);
    const state = (await (await fetch(`${sim}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: SimImage[] }[] };
    const images = state.accounts.find((a) => a.name === tc.name)!.images.filter((i) => i.special === null).slice(0, SCANS);
    if (images.length < SCANS) throw new Error(`the simulator seeded only ${images.length} images`);
    await fetch(`${sim}/_sim/reset`, { method: 'POST' }); // count only the run itself
    recorder.arrivals.clear();

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
    const sliding = Object.fromEntries([...recorder.arrivals].map(([name, times]) => [name, slidingPeak(times)]));
    const slidingMax = Math.max(0, ...Object.values(sliding));
    // The simulator's own sliding count, where it keeps one.
    const simSliding = (calls as { maxPerSlidingSecond?: Record<string, number> }).maxPerSlidingSecond;
    const simSlidingMax = simSliding ? Math.max(0, ...Object.entries(simSliding).filter(([k]) => k.startsWith('tencent:')).map(([, n]) => n)) : null;
    const throttled = Object.entries(calls.outcomes)
      .filter(([k]) => k.startsWith('tencent:') && k.endsWith(':RequestLimitExceeded'))
      .reduce((a, [, n]) => a + n, 0);
    const out: Record<string, string> = {
      'tencent sustained requests/s': `${busiest[1].sustained.toFixed(1)}   (${busiest[0]}, the busiest API, steady state; the pacer's ceiling is 20 per 1000 + margin ms; whole run ${busiest[1].mean.toFixed(1)}/s, ${busiest[1].secondsAt15}/${busiest[1].fullSeconds} full seconds at >= 15)`,
      'tencent peak requests in 1 s': `${peak}   (any API, any whole second of the simulator's counter; limit ${LIMIT})`,
      'tencent peak in any sliding 1 s': `${slidingMax}   (goal <= ${LIMIT}: ${slidingMax <= LIMIT && (simSlidingMax ?? 0) <= LIMIT ? 'met' : 'NOT met'}; any API, arrival times at a proxy in front of the simulator${simSlidingMax === null ? '' : `; simulator's own: ${simSlidingMax}`})`,
      'tencent RequestLimitExceeded': `${throttled}   (goal 0: ${throttled === 0 ? 'met' : 'NOT met'})`,
      'tencent scans/s': `${(SCANS / seconds).toFixed(2)}   (${SCANS} scans, ${WORKERS} workers x concurrency ${CONCURRENCY})`,
    };
    for (const [name, f] of Object.entries(perApi)) out[`  ${name}`] = `${f.calls} calls, steady ${f.sustained.toFixed(1)}/s, whole run ${f.mean.toFixed(1)}/s, peak ${f.peak}, sliding peak ${sliding[name] ?? '?'}`;
    return out;
  } finally {
    await recorder.close();
    await stack.close();
  }
}

await runWhenMain(import.meta.url, 'Tencent TCSS rate limit', benchTencent);
