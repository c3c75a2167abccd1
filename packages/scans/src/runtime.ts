import { FileBackedCredentialSets, redactEndpoint, type ScanqConfig } from '@scanq/core';
import { AccountRepository, ApiKeyRepository, BulkScanRepository, CreateIntentRepository, InventoryRepository, RetentionRepository, StreamEventRepository, WebhookDeliveryRepository, createDatabase, type Db, type SqlClient, ImageScanWindowRepository, QuotaLedgerRepository, ScanRepository, ScheduleRepository, type ScanWithImages } from '@scanq/db';
import { createRedis, quotaConnection, ProviderCallStats, QueueRepository, PacedCallGate, RedisKeyspace, type RedisClient } from '@scanq/queue';
import { createProviders } from '@scanq/providers';
import { pino, type Logger } from 'pino';
import { AccountResolver } from './account-resolver.js';
import { ApiKeyService } from './api-key.service.js';
import { callPaceKeyPrefix, QuotaService } from './quota.service.js';
import { WebhookService } from './webhook.service.js';
import { AccountApplyService } from './account-apply.service.js';
import { EventStreamService } from './event-stream.service.js';
import { IntakeService } from './intake.service.js';
import { BulkScanService } from './bulk-scan.service.js';
import { ScanLifecycleService } from './lifecycle.service.js';
import { ScheduleService } from './schedule.service.js';
import { ReconcileService } from './reconcile.service.js';
import { MaintenanceLoop } from './maintenance-loop.js';
import { RetentionService } from './retention.service.js';
import { createStartPolicies } from './start-policies/index.js';
import { SubmitService } from './submit.service.js';
import type { Tracing } from './observability/tracing.js';

/** Secrets never reach a log line. */
export const REDACT_PATHS = [
  'credentials',
  '*.credentials',
  '*.secretAccessKey',
  '*.accessKeySecret',
  '*.secretKey',
  '*.sk',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'config.credentials',
  'config.api.adminPassword',
  'config.api.apiKey',
  'config.webhooks.secret',
  // Account endpoints: shown without a user or password (censorLogValue), never dropped.
  'endpoint',
  '*.endpoint',
  '*.*.endpoint',
];

/** Pino's censor: an endpoint loses only its userinfo; everything else under REDACT_PATHS goes whole. */
export const censorLogValue = (value: unknown, path: string[]): unknown => (path.at(-1) === 'endpoint' && (typeof value === 'string' || value === null) ? redactEndpoint(value) : '[redacted]');

/** A task found by a look-up may have started this long before the intent's time (cloud vs Postgres clocks). */
const CREATE_LOOKUP_SKEW_MS = 60_000;

/** Where every process's cloud-call counts meet (read by /metrics). */
export const providerCallStatsKey = (config: ScanqConfig) => new RedisKeyspace(config.queuePrefix).providerCallStats;

export function createLogger(config: ScanqConfig, name: string): Logger {
  return pino({ name, level: config.logLevel, redact: { paths: REDACT_PATHS, censor: censorLogValue } });
}

/**
 * Everything a scanq process needs, wired once: Postgres (ledger), Redis (queues and
 * quotas), repositories and services. Each app takes what it uses and calls `close()`.
 */
export interface ScanqRuntime {
  config: ScanqConfig;
  log: Logger;
  db: Db;
  /** Plain SQL on the same pool (hot path). */
  sql: SqlClient;
  redis: RedisClient;
  /** Where every key lives (one hash tag per queue). */
  keyspace: RedisKeyspace;
  queues: QueueRepository;
  accounts: AccountRepository;
  /** `PUT /v1/accounts`: an accounts file applied as the desired set. */
  accountApply: AccountApplyService;
  scans: ScanRepository;
  windows: ImageScanWindowRepository;
  bulkScans: BulkScanRepository;
  scheduleRows: ScheduleRepository;
  submit: SubmitService;
  apiKeys: ApiKeyService;
  webhooks: WebhookService;
  /** Scan and bulk-scan ends appended to the `events` stream (outbox in Postgres). */
  events: EventStreamService;
  /** The `requests` intake queue's handlers. */
  intake: IntakeService;
  quotas: QuotaService;
  /** The cloud adapters, one per provider (what the lifecycle and the bulk planner call). */
  providers: ReturnType<typeof createProviders>;
  /** This process's cloud-call tallies (flushed to Redis periodically and on close). */
  callStats: ProviderCallStats;
  deliveries: WebhookDeliveryRepository;
  /** The cross-cloud inventory (images' current findings), read. */
  inventory: InventoryRepository;
  retention: RetentionService;
  bulk: BulkScanService;
  schedules: ScheduleService;
  lifecycle: ScanLifecycleService;
  reconciler: ReconcileService;
  /** The maintenance timer a worker serving the maintenance queue starts (not started here). */
  maintenance: MaintenanceLoop;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** A worker's shutdown: fired on SIGTERM, it cuts the adapters' cloud calls in flight (ProviderDeps.shutdownSignal). */
  shutdownSignal?: AbortSignal;
  /**
   * Connections that give up on a dead dependency within `config.api.dependencyTimeoutMs`
   * instead of waiting it out: for request paths (the API), whose callers should get a 503 in
   * seconds. Workers keep patient connections (BullMQ's blocking commands need them).
   */
  failFast?: boolean;
  /** A scan's start waits for quota (a worker's /metrics counts these). */
  onQuotaWait?: (provider: string, code: string) => void;
  /** Tracing on (startTracing): jobs carry trace context, SQL statements become spans. */
  tracing?: Tracing;
}

/**
 * Logs a connection's trouble once, not once per reconnect attempt, and when it is back: an
 * outage is one warning and one recovery line (the clients reconnect by themselves).
 */
function outageLogger(log: Logger, dependency: string) {
  let down = false;
  return {
    failed(err: Error) {
      if (down) return;
      down = true;
      log.warn({ dependency, err: { message: err.message, code: (err as { code?: string }).code } }, `${dependency} connection lost; reconnecting`);
    },
    recovered() {
      if (!down) return;
      down = false;
      log.info({ dependency }, `${dependency} connection back`);
    },
  };
}

export function createRuntime(config: ScanqConfig, log: Logger = createLogger(config, 'scanq'), options: RuntimeOptions = {}): ScanqRuntime {
  const timeoutMs = config.api.dependencyTimeoutMs;
  const pgOutage = outageLogger(log, 'postgres');
  const database = createDatabase(config.databaseUrl, {
    max: config.dbPoolMax,
    prepared: config.dbPreparedStatements,
    onIdleError: (err) => pgOutage.failed(err),
    traced: !!options.tracing?.telemetry,
    ...(options.failFast ? { connectionTimeoutMs: timeoutMs } : {}),
  });
  const { db, sql } = database;
  sql.pool.on('connect', () => pgOutage.recovered());
  const keyspace = new RedisKeyspace(config.queuePrefix);
  const redis = createRedis(
    config.redis,
    options.failFast
      ? // Commands fail at once while disconnected (no offline queue) and after timeoutMs on a server that does not answer; reconnects come at least every second.
        { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: timeoutMs, connectTimeout: timeoutMs, retryStrategy: (n) => Math.min(n * 100, 1_000) }
      : {},
  );
  const redisOutage = outageLogger(log, 'redis');
  redis.on('error', (err: Error) => redisOutage.failed(err));
  redis.on('ready', () => redisOutage.recovered());
  // Quota grants WAIT for replicas on a replicated topology: on a connection of their own, so a
  // WAIT (seconds, while a failover leaves the new master without a replica) blocks no other command.
  const quotaRedis = quotaConnection(redis);
  if (quotaRedis !== redis) quotaRedis.on('error', (err: Error) => redisOutage.failed(err));
  const queues = new QueueRepository(redis, {
    keyspace,
    keepCompleted: config.worker.keepCompletedJobs,
    keepFailed: config.worker.keepFailedJobs,
    startAttempts: config.worker.startAttempts,
    retryBackoffMs: config.worker.retryBackoffMs,
    ...(options.failFast ? { readyTimeoutMs: timeoutMs } : {}),
    ...(options.tracing?.telemetry ? { telemetry: options.tracing.telemetry } : {}),
  });
  const accounts = new AccountRepository(db);
  const scans = new ScanRepository(db, sql);
  const windows = new ImageScanWindowRepository(db, sql);
  const bulkScans = new BulkScanRepository(db);
  const scheduleRows = new ScheduleRepository(db);
  const accountResolver = new AccountResolver(
    new FileBackedCredentialSets(config.credentials, config.credentialsFile, {
      onError: (err) => log.error({ err: { type: err.name, message: err.message } }, 'credential file unreadable: keeping the sets read before'),
      onReload: (names) => log.info({ sets: names }, 'credential file read'),
    }),
  );
  // Per-API call rates across every worker (Tencent: 20 per API per account in any second); others pass through.
  const callStats = new ProviderCallStats(redis, providerCallStatsKey(config));
  const providers = createProviders({
    callGate: new PacedCallGate(quotaRedis, callPaceKeyPrefix(config), { tencent: { limit: config.worker.tencent.limitPerSec, marginMs: config.worker.tencent.marginMs } }),
    observer: callStats,
    timeouts: { requestMs: config.providers.timeoutMs, connectMs: config.providers.connectTimeoutMs },
    endpoints: { allowPrivate: config.providers.allowPrivateEndpoints, allowLoopback: config.providers.allowLoopbackEndpoints },
    ...(options.shutdownSignal ? { shutdownSignal: options.shutdownSignal } : {}),
  });
  const deliveries = new WebhookDeliveryRepository(db);
  const inventory = new InventoryRepository(sql);
  const webhooks = new WebhookService(deliveries, accounts, queues, config.webhooks, log);
  const events = new EventStreamService(new StreamEventRepository(db, sql), accounts, redis, { key: keyspace.eventsStream, maxLen: config.events.maxLen, timeoutMs: timeoutMs, graceMs: config.worker.reconcileGraceMs }, log);
  const bulk = new BulkScanService(bulkScans, scans, accounts, accountResolver, queues, providers, { scanTimeoutMs: config.worker.scanTimeoutMs, planLeaseMs: config.worker.lockMs }, log, redis, webhooks, events);
  const lifecycle = new ScanLifecycleService(
    scans,
    new CreateIntentRepository(sql),
    accounts,
    accountResolver,
    queues,
    providers,
    createStartPolicies({ config, redis, quotaRedis, windows, quotaLedger: new QuotaLedgerRepository(sql) }),
    {
      pollInitialMs: config.worker.pollInitialMs,
      pollMaxMs: config.worker.pollMaxMs,
      pollFactor: config.worker.pollFactor,
      create: { timeoutMs: config.worker.createTimeoutMs, settleMs: config.worker.createSettleMs, lookupSkewMs: CREATE_LOOKUP_SKEW_MS, lockMs: config.worker.lockMs },
      outageRetryMs: config.worker.outageRetryMs,
    },
    log,
    {
      endEvent: (scan) => events.endEventFor(scan),
      onScanEnded: async (scan, recorded) => {
        if (scan.bulkScanId) await bulk.scanFinished(scan.bulkScanId);
        else {
          // `scan` is as the handler last saw it; the events carry the stored end state, read
          // once and only when needed (the ending statement records the stream's row itself).
          let finished: Promise<ScanWithImages> | undefined;
          const loadFinished = () => (finished ??= scans.get(scan.id).then((f) => f ?? scan));
          // The stream's outbox row first: Postgres only, so an end while Redis is down keeps its event.
          if (recorded?.event) await events.appendRecorded(recorded.event);
          else await events.scanEnded(await loadFinished());
          await webhooks.scanEnded(scan, loadFinished);
        }
        // Read once the run is stored: which images' current findings gained critical/high ids
        // (not asked when no webhook could carry them).
        if (!(await webhooks.mayNotifyVulnerabilityChanges(scan))) return;
        const changes = await inventory.newSevereVulnerabilities(scan.id);
        if (changes.length > 0) await webhooks.vulnerabilitiesChanged(scan, changes, scan.bulkScanId ? (await bulkScans.get(scan.bulkScanId))?.webhookUrl : null);
      },
      onQuotaWait: (scan, code) => options.onQuotaWait?.(scan.provider, code),
    },
  );
  const schedules = new ScheduleService(scheduleRows, bulk, queues, redis, keyspace.lock('schedules'), log);
  const retention = new RetentionService(new RetentionRepository(sql), config.retention, log);
  const reconciler = new ReconcileService(scans, queues, lifecycle, { graceMs: config.worker.reconcileGraceMs }, log, { service: bulk, rows: bulkScans }, events);
  const submit = new SubmitService(accounts, scans, queues, { scanTimeoutMs: config.worker.scanTimeoutMs, batch: config.submitBatch }, log, events);
  return {
    config,
    log,
    db,
    sql,
    redis,
    keyspace,
    queues,
    accounts,
    accountApply: new AccountApplyService(accounts),
    scans,
    windows,
    bulkScans,
    scheduleRows,
    bulk,
    webhooks,
    events,
    intake: new IntakeService(submit, bulk, redis, keyspace.intakeStats, { outageRetryMs: config.worker.outageRetryMs }, log),
    deliveries,
    callStats,
    providers,
    quotas: new QuotaService(redis, config, accounts, windows),
    apiKeys: new ApiKeyService(new ApiKeyRepository(db), config.api.apiKey),
    schedules,
    submit,
    lifecycle,
    reconciler,
    inventory,
    retention,
    maintenance: new MaintenanceLoop(reconciler, schedules, redis, keyspace.lock('maintenance'), config.worker.reconcileEveryMs, log, retention),
    async close() {
      await callStats.close().catch(() => undefined);
      await queues.close();
      if (quotaRedis !== redis) await quotaRedis.quit().catch(() => quotaRedis.disconnect());
      await redis.quit().catch(() => redis.disconnect());
      await database.close();
      await options.tracing?.shutdown().catch(() => undefined);
    },
  };
}
