import { PROVIDERS, SCAN_STATUSES, TERMINAL_SCAN_STATUSES } from '@scanq/core';
import { Prisma } from '@scanq/db';
import type { ScanqRuntime } from '@scanq/scans';
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

/**
 * A histogram whose buckets are counted in Postgres at scrape time over every finished scan,
 * instead of observed in this process: exact, the same from every API replica, and never
 * missing a scan that another process finished (or one committed late). prom-client's
 * Histogram only counts its own observe() calls, so this renders the counted buckets itself
 * through the registry's metric interface (get / getForPromString).
 */
class ScanDurationHistogram {
  readonly name = 'scanq_scan_duration_seconds';
  readonly help = 'Time from request to terminal status of finished scans, by provider and final status.';
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  rows: DurationRow[] = [];

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    const groups = new Map<string, DurationRow[]>();
    for (const r of this.rows) {
      const key = `${r.provider}|${r.status}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    for (const rows of groups.values()) {
      const { provider, status, count, sum } = rows[0]!;
      for (const r of rows.sort((a, b) => a.le - b.le)) values.push({ labels: { provider, status, le: r.le }, value: r.below, metricName: `${this.name}_bucket` });
      values.push({ labels: { provider, status, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels: { provider, status }, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: { provider, status }, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  getForPromString() {
    return this.get();
  }

  reset(): void {
    this.rows = [];
  }
}

/** The scanq metrics of one API process, read fresh from Postgres and Redis on each scrape. */
export class ScanqMetrics {
  readonly registry = new Registry();
  private readonly scans = new Gauge({ name: 'scanq_scans', help: 'Scans in Postgres by provider and status.', labelNames: ['provider', 'status'], registers: [this.registry] });
  private readonly jobs = new Gauge({ name: 'scanq_queue_jobs', help: 'BullMQ jobs per queue and state.', labelNames: ['queue', 'state'], registers: [this.registry] });
  private readonly duration = new ScanDurationHistogram();
  private readonly sourceUp = new Gauge({ name: 'scanq_metrics_source_up', help: '1 when the last scrape could read the source (postgres, redis), else 0.', labelNames: ['source'], registers: [this.registry] });
  private inFlight: Promise<string> | undefined;

  constructor(private readonly runtime: Pick<ScanqRuntime, 'db' | 'queues'>) {
    this.registry.registerMetric(this.duration as unknown as Metric);
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
      this.collectQueues().then(
        () => true,
        () => false,
      ),
    ]);
    // A source that could not be read shows no numbers rather than stale ones.
    if (!pgOk) {
      this.scans.reset();
      this.duration.rows = [];
    }
    if (!redisOk) this.jobs.reset();
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
    this.duration.rows = durations;
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
