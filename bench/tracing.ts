/**
 * Tracing's cost (issue 19, goal ≤ 10 %): the spine's end-to-end run (bench/spine.ts: AWS scans
 * over HTTP through API, worker and simulator processes) with tracing off, then on, exporting
 * OTLP/HTTP protobuf (the default protocol) to a sink in this process that answers every export,
 * twice each, alternating, so a machine whose load drifts weighs on both alike. The cost is read
 * two ways: scans/s lost, and CPU ms per scan added in the scanq processes (API + worker), the
 * steadier figure on a shared machine. Printed with the load average; timings never in tests.
 */
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { CONCURRENCY, endToEnd, SCANS } from './spine.js';

/** Answers every OTLP export with 200 (an empty protobuf message is a valid empty response) and counts them. */
async function startSink(): Promise<{ url: string; requests: () => number; bytes: () => number; close: () => Promise<void> }> {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests: () => requests, bytes: () => bytes, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchTracing(): Promise<Record<string, string>> {
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const loadStart = load();
  const sink = await startSink();
  const runs: Record<'off' | 'on', { rate: number; scanqCpuMs: number }[]> = { off: [], on: [] };
  try {
    for (const [i, mode] of (['off', 'on', 'off', 'on'] as const).entries()) {
      // Load shedding off: on a crowded machine a stalled event loop would refuse the submissions of one run and not the other's.
      const env: Record<string, string> = { SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '0', ...(mode === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } : {}) };
      const r = await endToEnd({ section: `tracing-${mode}-${i}`, env });
      const scanqCpuMs = Object.entries(r.cpuMs).filter(([name]) => name === 'api' || name.startsWith('worker-')).reduce((a, [, ms]) => a + ms, 0) / SCANS;
      runs[mode].push({ rate: r.rate, scanqCpuMs });
    }
  } finally {
    await sink.close();
  }
  const off = { rate: mean(runs.off.map((r) => r.rate)), cpu: mean(runs.off.map((r) => r.scanqCpuMs)) };
  const on = { rate: mean(runs.on.map((r) => r.rate)), cpu: mean(runs.on.map((r) => r.scanqCpuMs)) };
  const lost = 1 - on.rate / off.rate;
  const added = on.cpu / off.cpu - 1;
  const verdict = (x: number) => `${(x * 100).toFixed(1)} % (goal <= 10 %${x <= 0.1 ? '' : ' — not met'})`;
  const list = (xs: number[], digits: number) => xs.map((x) => x.toFixed(digits)).join(', ');
  return {
    'tracing: scans/s off / on': `${off.rate.toFixed(1)} / ${on.rate.toFixed(1)} (runs: off ${list(runs.off.map((r) => r.rate), 1)}; on ${list(runs.on.map((r) => r.rate), 1)}; ${SCANS} scans each, concurrency ${CONCURRENCY})`,
    'tracing: throughput lost': verdict(lost),
    'tracing: scanq CPU ms per scan off / on (API + worker)': `${off.cpu.toFixed(2)} / ${on.cpu.toFixed(2)} (runs: off ${list(runs.off.map((r) => r.scanqCpuMs), 2)}; on ${list(runs.on.map((r) => r.scanqCpuMs), 2)})`,
    'tracing: CPU added': verdict(added),
    'tracing: exported': `${sink.requests()} OTLP requests, ${(sink.bytes() / 1e6).toFixed(1)} MB (${((sink.bytes() / SCANS / 2) / 1024).toFixed(1)} KiB per scan)`,
    'tracing: load average (start / end)': `${loadStart} / ${load()}`,
  };
}
