import { OtlpCollector } from './test/support/otlp-collector.js';
process.env.BENCH_SCANS = '200';
const { endToEnd } = await import('./bench/spine.js');
const c = await OtlpCollector.start();
await endToEnd({ section: 'spans', env: { OTEL_EXPORTER_OTLP_ENDPOINT: c.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' } });
await new Promise((r) => setTimeout(r, 3000));
const by = new Map<string, { n: number; bytes: number }>();
for (const s of c.spans) {
  const k = `${s.service} ${s.name}`;
  const e = by.get(k) ?? { n: 0, bytes: 0 };
  e.n++; e.bytes += JSON.stringify(s.attributes).length + s.name.length;
  by.set(k, e);
}
console.log('spans', c.spans.length, 'per scan', (c.spans.length / 200).toFixed(1));
for (const [k, v] of [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 30)) console.log(String(v.n).padStart(6), String(Math.round(v.bytes / v.n)).padStart(6), k);
process.exit(0);
