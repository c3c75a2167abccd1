import { PROVIDERS, SCAN_STATUSES, TERMINAL_SCAN_STATUSES } from '@scanq/core';
import { Prisma } from '@scanq/db';
import { PROVIDER_CALL_BUCKETS, ProviderCallStats } from '@scanq/queue';
import { providerCallStatsKey, type ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import { basicAuth } from './admin.js';

export const METRICS_PATH = '/metrics';

/** Upper bounds (seconds) of the scan duration buckets: seconds for the simulator, hours for a slow cloud. */
export const SCAN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

interface DurationRow {
  provider: string;
  status: string;
  le: number;
  below: number;
  count: number;
  sum: number;
}

/** One labelled series of a histogram counted elsewhere: cumulative counts per bucket bound. */
interface PrecountedSeries {
  labels: Record<string, string>;
  buckets: { le: number; below: number }[];
  count: number;
  sum: number;
}

/**
 * A histogram whose buckets are counted elsewhere — in Postgres at scrape time (scan durations),
 * or by the workers into Redis (cloud call latency) — rendered through the registry's metric
 * interface (get / getForPromString). prom-client's Histogram only counts its own observe()
 * calls, which would miss whatever another process saw.
 */
class PrecountedHistogram {
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
}

/** The scanq metrics of one API process, read fresh from Postgres and Redis on each scrape. */
export class ScanqMetrics {
  readonly registry = new Registry();
  private readonly scans = new Gauge({ name: 'scanq_scans', help: 'Scans in Postgres by provider and status.', labelNames: ['provider', 'status'], registers: [this.registry] });
  private readonly jobs = new Gauge({ name: 'scanq_queue_jobs', help: 'BullMQ jobs per queue and state.', labelNames: ['queue', 'state'], registers: [this.registry] });
  private readonly duration = new PrecountedHistogram('scanq_scan_duration_seconds', 'Time from request to terminal status of finished scans, by provider and final status.');
  private readonly callLatency = new PrecountedHistogram('scanq_provider_call_duration_seconds', 'Latency of cloud API calls made by the workers, by provider and API.');
  private readonly calls = new Gauge({ name: 'scanq_provider_calls_total', help: 'Cloud API calls made by the workers (all processes), by provider, API and outcome (ok or the error code).', labelNames: ['provider', 'api', 'outcome'], registers: [this.registry] });
  private readonly quotaInUse = new Gauge({ name: 'scanq_quota_in_use', help: 'Quota in use per account: Alibaba task slots, Tencent requests this second (busiest API), AWS images inside their 24 h window.', labelNames: ['provider', 'account'], registers: [this.registry] });
  private readonly quotaLimit = new Gauge({ name: 'scanq_quota_limit', help: 'The quota limit per account: Alibaba task slots, Tencent requests per second.', labelNames: ['provider', 'account'], registers: [this.registry] });
  private readonly tencentRate = new Gauge({ name: 'scanq_tencent_requests_this_second', help: 'Tencent TCSS requests taken from the rate bucket in the current second, per account and API.', labelNames: ['account', 'api'], registers: [this.registry] });
  private readonly sourceUp = new Gauge({ name: 'scanq_metrics_source_up', help: '1 when the last scrape could read the source (postgres, redis), else 0.', labelNames: ['source'], registers: [this.registry] });
  private inFlight: Promise<string> | undefined;

  constructor(private readonly runtime: Pick<ScanqRuntime, 'db' | 'queues' | 'redis' | 'config' | 'quotas'>) {
    this.registry.registerMetric(this.duration as unknown as Metric);
    this.registry.registerMetric(this.callLatency as unknown as Metric);
    collectDefaultMetrics({ register: this.registry, prefix: 'scanq_api_' });
  }

  /** The exposition text; concurrent scrapes share one round of queries. */
  render(): Promise<string> {
    this.inFlight ??= this.collect()
      .then(() => this.registry.metrics())
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async collect(): Promise<void> {
    const [pgOk, redisOk] = await Promise.all([
      this.collectPostgres().then(
        () => true,
        () => false,
      ),
      Promise.all([this.collectQueues(), this.collectProviderCalls(), this.collectQuotas()]).then(
        () => true,
        () => false,
      ),
    ]);
    // A source that could not be read shows no numbers rather than stale ones.
    if (!pgOk) {
      this.scans.reset();
      this.duration.reset();
    }
    if (!redisOk) {
      this.jobs.reset();
      this.calls.reset();
      this.callLatency.reset();
      this.quotaInUse.reset();
      this.quotaLimit.reset();
      this.tencentRate.reset();
    }
    this.sourceUp.set({ source: 'postgres' }, pgOk ? 1 : 0);
    this.sourceUp.set({ source: 'redis' }, redisOk ? 1 : 0);
  }

  private async collectPostgres(): Promise<void> {
    const { db } = this.runtime;
    const terminal = Prisma.join(TERMINAL_SCAN_STATUSES.map((s) => Prisma.sql`${s}::"ScanStatus"`));
    const buckets = Prisma.join(SCAN_DURATION_BUCKETS.map((b) => Prisma.sql`${b}::float8`));
    const [byStatus, durations] = await Promise.all([
      db.$queryRaw<{ provider: string; status: string; n: number }[]>`SELECT provider::text AS provider, status::text AS status, count(*)::int AS n FROM "Scan" GROUP BY 1, 2`,
      db.$queryRaw<DurationRow[]>`
        WITH d AS (
          SELECT provider::text AS provider, status::text AS status, EXTRACT(EPOCH FROM ("finishedAt" - "createdAt"))::float8 AS s
          FROM "Scan" WHERE "finishedAt" IS NOT NULL AND status IN (${terminal})
        )
        SELECT d.provider, d.status, b.le, count(*) FILTER (WHERE d.s <= b.le)::int AS below,
               count(*)::int AS count, sum(d.s)::float8 AS sum
        FROM d CROSS JOIN (SELECT unnest(ARRAY[${buckets}]) AS le) b
        GROUP BY 1, 2, 3`,
    ]);
    // Every provider × status is present (0 when none), so a rate or an alert never sees a gap.
    this.scans.reset();
    for (const provider of PROVIDERS) for (const status of SCAN_STATUSES) this.scans.set({ provider, status }, 0);
    for (const r of byStatus) this.scans.set({ provider: r.provider, status: r.status }, r.n);
    const byKey = new Map<string, PrecountedSeries>();
    for (const r of durations) {
      const key = `${r.provider}|${r.status}`;
      let series = byKey.get(key);
      if (!series) byKey.set(key, (series = { labels: { provider: r.provider, status: r.status }, buckets: [], count: r.count, sum: r.sum }));
      series.buckets.push({ le: r.le, below: r.below });
    }
    this.duration.series = [...byKey.values()];
  }

  /** Every worker's cloud API calls, as the workers flushed them to Redis. */
  private async collectProviderCalls(): Promise<void> {
    const rows = await ProviderCallStats.read(this.runtime.redis, providerCallStatsKey(this.runtime.config));
    this.calls.reset();
    const latency = new Map<string, PrecountedSeries>();
    for (const r of rows) {
      this.calls.set({ provider: r.provider, api: r.api, outcome: r.outcome }, r.count);
      const key = `${r.provider}|${r.api}`;
      let series = latency.get(key);
      if (!series) latency.set(key, (series = { labels: { provider: r.provider, api: r.api }, buckets: PROVIDER_CALL_BUCKETS.map((le) => ({ le, below: 0 })), count: 0, sum: 0 }));
      series.count += r.count;
      series.sum += r.sumSeconds;
      r.buckets.forEach((n, i) => (series!.buckets[i]!.below += n));
    }
    this.callLatency.series = [...latency.values()];
  }

  /** The live quota view, as gauges. */
  private async collectQuotas(): Promise<void> {
    const views = await this.runtime.quotas.all();
    this.quotaInUse.reset();
    this.quotaLimit.reset();
    this.tencentRate.reset();
    for (const v of views) {
      const labels = { provider: v.provider, account: v.account };
      const q = v.quota;
      if (q.kind === 'concurrency_slots') {
        this.quotaInUse.set(labels, q.inUse + q.external);
        this.quotaLimit.set(labels, q.limit);
      } else if (q.kind === 'token_bucket') {
        this.quotaInUse.set(labels, Math.max(0, ...q.apis.map((a) => a.usedThisSecond)));
        this.quotaLimit.set(labels, q.ratePerSec);
        for (const a of q.apis) this.tencentRate.set({ account: v.account, api: a.api }, a.usedThisSecond);
      } else if (q.kind === 'scan_once_window') {
        this.quotaInUse.set(labels, q.imagesInWindow);
      }
    }
  }

  private async collectQueues(): Promise<void> {
    const counts = await this.runtime.queues.counts();
    this.jobs.reset();
    for (const [queue, states] of Object.entries(counts)) for (const [state, n] of Object.entries(states)) this.jobs.set({ queue, state }, n);
  }
}

/** GET /metrics (Prometheus text), behind the same Basic-auth credentials as Bull Board. */
export const metricsPlugin: FastifyPluginAsync<{ runtime: ScanqRuntime; credentials: { user: string; password: string } }> = async (app, { runtime, credentials }) => {
  const metrics = new ScanqMetrics(runtime);
  app.addHook('onRequest', basicAuth(credentials.user, credentials.password));
  app.get(METRICS_PATH, { schema: { hide: true } }, async (_request, reply) => {
    const text = await metrics.render();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
