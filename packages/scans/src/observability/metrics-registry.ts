import { PROVIDER_CALL_BUCKETS, type ProviderCallRow } from '@scanq/queue';
import { collectDefaultMetrics, type Counter, type Metric, Registry } from 'prom-client';

/** One labelled series of a histogram counted elsewhere: cumulative counts per bucket bound. */
export interface PrecountedSeries {
  labels: Record<string, string>;
  buckets: { le: number; below: number }[];
  count: number;
  sum: number;
}

/**
 * A histogram whose buckets are counted elsewhere — in Postgres (the API's scan durations), or by
 * ProviderCallStats (cloud call latency, a worker's own or every worker's from Redis) — rendered
 * through the registry's metric interface (get / getForPromString). prom-client's Histogram only
 * counts its own observe() calls, which would miss whatever another process or tally saw.
 */
export class PrecountedHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  series: PrecountedSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.series) {
      for (const b of [...s.buckets].sort((x, y) => x.le - y.le)) values.push({ labels: { ...s.labels, le: b.le }, value: b.below, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  getForPromString() {
    return this.get();
  }

  reset(): void {
    this.series = [];
  }

  /** Registers it on `registry` (prom-client types only know its own metric classes). */
  registerOn(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

/**
 * A registry for one scanq process with Node's process metrics (CPU, memory, event-loop lag,
 * handles, GC) under `prefix` (scanq_api_, scanq_worker_): one per process, so a test or two
 * apps in one process never register the same default collectors twice.
 */
export function createProcessRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/**
 * Cloud-call tallies (ProviderCallStats rows: every worker's from Redis for the API, one worker's
 * own for its pod) into a calls counter and a latency histogram, by provider and API.
 */
export function showProviderCalls(rows: ProviderCallRow[], calls: Counter<'provider' | 'api' | 'outcome'>, latency: PrecountedHistogram): void {
  calls.reset();
  const series = new Map<string, PrecountedSeries>();
  for (const r of rows) {
    calls.inc({ provider: r.provider, api: r.api, outcome: r.outcome }, r.count);
    const key = `${r.provider}|${r.api}`;
    let s = series.get(key);
    if (!s) series.set(key, (s = { labels: { provider: r.provider, api: r.api }, buckets: PROVIDER_CALL_BUCKETS.map((le) => ({ le, below: 0 })), count: 0, sum: 0 }));
    s.count += r.count;
    s.sum += r.sumSeconds;
    r.buckets.forEach((n, i) => (s!.buckets[i]!.below += n));
  }
  latency.series = [...series.values()];
}
