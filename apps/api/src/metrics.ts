import { PROVIDERS, SCAN_STATUSES, TERMINAL_SCAN_STATUSES } from '@scanq/core';
import { Prisma } from '@scanq/db';
import { PROVIDER_CALL_BUCKETS, ProviderCallStats } from '@scanq/queue';
import { createProcessRegistry, IntakeService, PrecountedHistogram, type PrecountedSeries, providerCallStatsKey, type ScanqRuntime, showProviderCalls } from '@scanq/scans';
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import { basicAuth } from './admin.js';

export const METRICS_PATH = '/metrics';

/** Upper bounds (seconds) of the scan duration buckets: seconds for the simulator, hours for a slow cloud. */
export const SCAN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/**
 * How far behind Postgres' clock the settled bound stays. A scan gets "finishedAt" = its finishing
 * transaction's start in the statement that makes it terminal, and that statement commits on its
 * own (autocommit; cancelling is one short transaction), so a row finished longer ago than this
 * has long committed: none can still appear at or below the bound once it is settled.
 */
const SETTLE_MARGIN_MS = 5 * 60_000;

/** A status list for `status IN (…)`, typed as the enum so the ("status", …) indexes serve it. */
const statusList = (statuses: readonly string[]) => Prisma.join(statuses.map((s) => Prisma.sql`${s}::"ScanStatus"`));
const OPEN_STATUSES = statusList(SCAN_STATUSES.filter((s) => !TERMINAL_SCAN_STATUSES.includes(s)));
const TERMINAL_STATUSES = statusList(TERMINAL_SCAN_STATUSES);

/** Finished scans of one provider, final status and duration bucket, in the settled or the fresh window. */
interface FinishedRow {
  fresh: boolean;
  provider: string;
  status: string;
  /** Index of the smallest SCAN_DURATION_BUCKETS bound holding the duration; its length when none does (+Inf only). */
  bucket: number;
  count: number;
  sum: number;
}

/** Finished scans of one provider and final status; perBucket is per bucket index (not cumulative). */
interface FinishedTally {
  provider: string;
  status: string;
  count: number;
  sum: number;
  perBucket: number[];
}

function addFinished(tallies: Map<string, FinishedTally>, rows: FinishedRow[]): void {
  for (const r of rows) {
    const key = `${r.provider}|${r.status}`;
    let t = tallies.get(key);
    if (!t) tallies.set(key, (t = { provider: r.provider, status: r.status, count: 0, sum: 0, perBucket: new Array<number>(SCAN_DURATION_BUCKETS.length + 1).fill(0) }));
    t.count += r.count;
    t.sum += r.sum;
    t.perBucket[r.bucket]! += r.count;
  }
}

/**
 * The scanq metrics of one API process, read from Postgres and Redis on each scrape. Finished
 * scans are tallied incrementally (see collectPostgres), so a scrape costs the live and recent
 * work, not the history.
 */
export class ScanqMetrics {
  readonly registry = createProcessRegistry('scanq_api_');
  private readonly scans = new Gauge({
    name: 'scanq_scans',
    help: 'Scans by provider and status: open statuses counted live, terminal ones cumulative since the records began.',
    labelNames: ['provider', 'status'],
    registers: [this.registry],
  });
  private readonly jobs = new Gauge({ name: 'scanq_queue_jobs', help: 'BullMQ jobs per queue and state.', labelNames: ['queue', 'state'], registers: [this.registry] });
  private readonly duration = new PrecountedHistogram('scanq_scan_duration_seconds', 'Time from request to terminal status of finished scans, by provider and final status, cumulative since the records began.');
  private readonly callLatency = new PrecountedHistogram('scanq_provider_call_duration_seconds', 'Latency of cloud API calls made by the workers, by provider and API.');
  // A counter (rate() works on it): set to the workers' running totals at each scrape.
  private readonly calls = new Counter({ name: 'scanq_provider_calls_total', help: 'Cloud API calls made by the workers (all processes), by provider, API and outcome (ok or the error code).', labelNames: ['provider', 'api', 'outcome'], registers: [this.registry] });
  private readonly quotaInUse = new Gauge({ name: 'scanq_quota_in_use', help: 'Quota in use per account: Alibaba task slots, Tencent requests in the last second (busiest API), AWS images inside their 24 h window.', labelNames: ['provider', 'account'], registers: [this.registry] });
  private readonly quotaLimit = new Gauge({ name: 'scanq_quota_limit', help: 'The quota limit per account: Alibaba task slots, Tencent requests per second.', labelNames: ['provider', 'account'], registers: [this.registry] });
  private readonly tencentRate = new Gauge({ name: 'scanq_tencent_requests_this_second', help: 'Tencent TCSS requests the workers sent in the last second (sliding; reservations given up by late callers included), per account and API.', labelNames: ['account', 'api'], registers: [this.registry] });
  private readonly intakeRejected = new Counter({ name: 'scanq_intake_rejected_total', help: 'Intake jobs (requests queue) refused without retry, by job and error (validation_error, unknown_account, idempotency_key_reused, no_matching_account); the queue depth is scanq_queue_jobs{queue="requests"}.', labelNames: ['job', 'error'], registers: [this.registry] });
  private readonly sourceUp = new Gauge({ name: 'scanq_metrics_source_up', help: '1 when the last scrape could read the source (postgres, redis), else 0.', labelNames: ['source'], registers: [this.registry] });
  private inFlight: Promise<string> | undefined;
  /**
   * Finished scans with "finishedAt" ≤ settledUpTo, added up once each. The bound is Postgres
   * timestamp text, handed back verbatim so no client clock, time zone or rounding touches it.
   * Only one collect runs at a time (render shares the in-flight one), so nothing adds twice.
   */
  private readonly settled = new Map<string, FinishedTally>();
  private settledUpTo = '-infinity';
  private readonly settleMarginMs: number;

  constructor(
    private readonly runtime: Pick<ScanqRuntime, 'db' | 'queues' | 'redis' | 'config' | 'quotas' | 'keyspace'>,
    options: { settleMarginMs?: number } = {},
  ) {
    this.settleMarginMs = options.settleMarginMs ?? SETTLE_MARGIN_MS;
    this.duration.registerOn(this.registry);
    this.callLatency.registerOn(this.registry);
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
      Promise.all([this.collectQueues(), this.collectProviderCalls(), this.collectQuotas(), this.collectIntake()]).then(
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
      this.intakeRejected.reset();
      this.callLatency.reset();
      this.quotaInUse.reset();
      this.quotaLimit.reset();
      this.tencentRate.reset();
    }
    this.sourceUp.set({ source: 'postgres' }, pgOk ? 1 : 0);
    this.sourceUp.set({ source: 'redis' }, redisOk ? 1 : 0);
  }

  /**
   * Open scans are counted live. Finished ones never change again, so each is added to the
   * settled tally once, when its "finishedAt" falls behind the bound (Postgres' now minus the
   * margin): a scrape reads the rows between the last bound and the new one, plus the fresh
   * ones above it, re-read every time until they settle. The first scrape settles everything
   * up to its bound (one full pass per process). Nothing is kept unless every query succeeded.
   */
  private async collectPostgres(): Promise<void> {
    const { db } = this.runtime;
    const from = this.settledUpTo;
    const [[bound], open] = await Promise.all([
      db.$queryRaw<{ upto: string }[]>`
        SELECT GREATEST(${from}::timestamp, timezone('UTC', now()) - ${this.settleMarginMs}::float8 * interval '1 millisecond')::text AS upto`,
      db.$queryRaw<{ provider: string; status: string; n: number }[]>`
        SELECT provider::text AS provider, status::text AS status, count(*)::int AS n
        FROM "Scan" WHERE status IN (${OPEN_STATUSES}) GROUP BY 1, 2`,
    ]);
    const upto = bound!.upto;
    // date_part gives float8 (EXTRACT's numeric doubles the first pass); width_bucket counts the
    // bounds ≤ seconds, less one when seconds is a bound, which holds it (le is "less or equal").
    const finished = await db.$queryRaw<FinishedRow[]>`
      WITH f AS (
        SELECT "finishedAt" > ${upto}::timestamp AS fresh, provider, status, date_part('epoch', "finishedAt" - "createdAt") AS seconds
        FROM "Scan" WHERE "finishedAt" > ${from}::timestamp AND status IN (${TERMINAL_STATUSES})
      )
      SELECT fresh, provider::text AS provider, status::text AS status,
             width_bucket(seconds, ${SCAN_DURATION_BUCKETS}::float8[]) - (seconds = ANY(${SCAN_DURATION_BUCKETS}::float8[]))::int AS bucket,
             count(*)::int AS count, sum(seconds) AS sum
      FROM f GROUP BY 1, 2, 3, 4`;

    addFinished(this.settled, finished.filter((r) => !r.fresh));
    this.settledUpTo = upto;
    const shown = new Map([...this.settled].map(([key, t]) => [key, { ...t, perBucket: [...t.perBucket] }]));
    addFinished(shown, finished.filter((r) => r.fresh));

    // Every provider × status is present (0 when none), so a rate or an alert never sees a gap.
    this.scans.reset();
    for (const provider of PROVIDERS) for (const status of SCAN_STATUSES) this.scans.set({ provider, status }, 0);
    for (const r of open) this.scans.set({ provider: r.provider, status: r.status }, r.n);
    for (const t of shown.values()) this.scans.set({ provider: t.provider, status: t.status }, t.count);
    this.duration.series = [...shown.values()].map((t) => {
      let below = 0;
      const buckets = SCAN_DURATION_BUCKETS.map((le, i) => ({ le, below: (below += t.perBucket[i]!) }));
      return { labels: { provider: t.provider, status: t.status }, buckets, count: t.count, sum: t.sum };
    });
  }

  /** Every worker's cloud API calls, as the workers flushed them to Redis. */
  private async collectProviderCalls(): Promise<void> {
    showProviderCalls(await ProviderCallStats.read(this.runtime.redis, providerCallStatsKey(this.runtime.config)), this.calls, this.callLatency);
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
      } else if (q.kind === 'sliding_window') {
        this.quotaInUse.set(labels, Math.max(0, ...q.apis.map((a) => a.lastSecond)));
        this.quotaLimit.set(labels, q.limitPerSec);
        for (const a of q.apis) this.tencentRate.set({ account: v.account, api: a.api }, a.lastSecond);
      } else if (q.kind === 'scan_once_window') {
        this.quotaInUse.set(labels, q.imagesInWindow);
      }
    }
  }

  /** Intake refusals, as the workers counted them in Redis. */
  private async collectIntake(): Promise<void> {
    const rows = await IntakeService.rejected(this.runtime.redis, this.runtime.keyspace.intakeStats);
    this.intakeRejected.reset();
    for (const r of rows) this.intakeRejected.inc({ job: r.job, error: r.error }, r.count);
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
