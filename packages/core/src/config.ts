import { z } from 'zod';
import { HTTP_URL_PATTERN } from './targets/common.js';

/**
 * The one place that reads the environment (cf. Immich's config.repository): the environment
 * is parsed once into a validated, typed tree; everything else receives a config object.
 */

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Unset and empty are the same for the OTEL_* variables (the SDK's convention). */
const emptyAsUnset = (v: unknown) => (v === '' ? undefined : v);

const credentialSchema = z.record(z.string(), z.record(z.string(), z.string()));

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/scanq'),
  /** Standalone Redis (and a Sentinel group's data nodes' password/TLS defaults): redis://[user:pass@]host:port[/db], rediss:// for TLS. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** standalone (REDIS_URL), cluster (SCANQ_REDIS_NODES) or sentinel (SCANQ_REDIS_SENTINELS + SCANQ_REDIS_SENTINEL_MASTER). */
  SCANQ_REDIS_MODE: z.enum(['standalone', 'cluster', 'sentinel']).default('standalone'),
  /** Cluster seed nodes, comma-separated host:port (a few suffice: the client learns the rest). */
  SCANQ_REDIS_NODES: z.string().default(''),
  /** Sentinels, comma-separated host:port. */
  SCANQ_REDIS_SENTINELS: z.string().default(''),
  /** The master name the sentinels monitor. */
  SCANQ_REDIS_SENTINEL_MASTER: z.string().optional(),
  /** ACL user / password for cluster and sentinel-managed nodes (standalone: in REDIS_URL, or here to override). */
  SCANQ_REDIS_USERNAME: z.string().optional(),
  SCANQ_REDIS_PASSWORD: z.string().optional(),
  /** TLS to the data nodes in cluster and sentinel mode (standalone: use rediss://). */
  SCANQ_REDIS_TLS: bool(false),
  /**
   * Replicas that must hold a quota grant (Tencent pacer reservation, Alibaba slot) before it
   * counts: WAIT after the write, so a failover that promotes a replica cannot hand it out again.
   * Default 0 standalone, 1 cluster and sentinel; 0 turns the WAIT off (a topology without replicas).
   */
  SCANQ_REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).optional(),
  /** How long a quota grant waits for those replicas before its call fails (covers a failover's gap without a replica). */
  SCANQ_REDIS_WAIT_TIMEOUT_MS: int(30_000, 100),
  /** Postgres connections per process (Postgres allows 100 by default: size workers × this below it). */
  SCANQ_DB_POOL_MAX: int(10, 1),
  /** false behind a pooler that does not keep prepared statements per client (PgBouncer transaction mode < 1.21). */
  SCANQ_DB_PREPARED_STATEMENTS: bool(true),
  /**
   * Namespace of every Redis key. scanq wraps it in one Redis Cluster hash tag per queue,
   * `{<prefix>:<queue>}` (a provider queue's quota keys with it), so a cluster spreads providers.
   */
  SCANQ_QUEUE_PREFIX: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits and . _ : - only (no braces: scanq adds a hash tag per queue, {<prefix>:<queue>})')
    .default('scanq'),

  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: int(3000),
  SCANQ_ADMIN_USER: z.string().min(1).default('admin'),
  /** Bull Board password. Unset: the API makes a random one and logs it at start. */
  SCANQ_ADMIN_PASSWORD: z.string().min(8).optional(),
  SCANQ_PUBLIC_URL: z.string().url().optional(),
  /** How long an API request waits on Redis (per command) or for a Postgres connection before it answers 503. */
  SCANQ_API_DEPENDENCY_TIMEOUT_MS: int(3_000, 100),
  /** A key /v1 accepts without a database row (first start, CI); keys made with `scanq keys create` live hashed in Postgres. */
  SCANQ_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Load shedding (@fastify/under-pressure): the API answers 503 + Retry-After while the mean
   * event-loop delay of the last second is over this (0: off). 1 s of lag per timer is far past
   * any answer a client waits for, and well before dependency timeouts start failing requests.
   */
  SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: int(1_000, 0),
  /** …or while the event loop was busy more than this share of the last second (0: off; 0 < x ≤ 1). Off: a saturated loop still serves. */
  SCANQ_API_MAX_EVENT_LOOP_UTILIZATION: z.coerce.number().min(0).max(1).default(0),
  /** …or while the V8 heap in use is over this (0: off). Unset: 90% of the process's heap limit (near it, GC thrashes and then the process dies). */
  SCANQ_API_MAX_HEAP_USED_MB: z.coerce.number().int().min(0).optional(),
  /** …or while the resident set is over this (0: off, the default: set it under the container's memory limit). */
  SCANQ_API_MAX_RSS_MB: int(0, 0),
  /** Requests per API key (anonymous and admin requests: per client IP) per window; 0 = no rate limit (the default). */
  SCANQ_API_RATE_LIMIT_MAX: int(0, 0),
  /** The rate limit's window; the budget is counted in Redis, so all API replicas share it. */
  SCANQ_API_RATE_LIMIT_WINDOW_MS: int(60_000, 1_000),
  /**
   * Group commit of scan submits (API, intake): submits arriving together are written in one
   * INSERT and one enqueue, at most this many per batch (1: every submit alone)…
   */
  SCANQ_SUBMIT_BATCH_MAX: int(256, 1),
  /** …and at most this many batches out at once (what arrives meanwhile waits for the next batch; keep it under SCANQ_DB_POOL_MAX). */
  SCANQ_SUBMIT_BATCH_IN_FLIGHT: int(4, 1),
  /** HMAC-SHA256 secret that signs webhook bodies. Unset: webhooks are recorded as failed, never sent unsigned. */
  SCANQ_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Allow webhook targets on loopback/private/link-local addresses (off: such targets are refused). */
  SCANQ_WEBHOOK_ALLOW_PRIVATE: bool(false),
  SCANQ_WEBHOOK_ATTEMPTS: int(8, 1),
  /** First retry delay of a failed delivery; doubles per attempt. */
  SCANQ_WEBHOOK_BACKOFF_MS: int(1_000, 1),
  SCANQ_WEBHOOK_TIMEOUT_MS: int(10_000, 100),
  /**
   * Approximate cap of the `events` stream (scan and bulk-scan ends, for consumers): XADD MAXLEN ~,
   * so Redis trims whole macro nodes and the stream may run a little past it.
   */
  SCANQ_EVENTS_MAXLEN: int(100_000, 1),

  /** Every cloud API call fails (retryably) when its answer has not come within this; SDK defaults would wait far longer or only warn. */
  SCANQ_PROVIDER_TIMEOUT_MS: int(30_000, 1),
  /** A cloud connection not made within this fails the call (where the SDK sets it apart: AWS, Alibaba; elsewhere the call's own timeout covers it). */
  SCANQ_PROVIDER_CONNECT_TIMEOUT_MS: int(5_000, 1),
  /** Let account endpoints lead to private, link-local, CGNAT and loopback addresses (checked where workers connect). */
  SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS: bool(false),
  /** Let account endpoints lead to loopback (the simulator on 127.0.0.1: `pnpm start`, tests); other private ranges stay refused. */
  SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS: bool(false),
  /** Account endpoints may be plain http:// to any host (off: https://, or http:// to loopback only). */
  SCANQ_ALLOW_HTTP_ENDPOINTS: bool(false),

  /** JSON map credentialRef → secrets, e.g. {"aws-demo":{"accessKeyId":"…","secretAccessKey":"…"}}. */
  SCANQ_CREDENTIALS: z.string().optional(),
  /**
   * Secret sets from a file as well: a JSON file of the SCANQ_CREDENTIALS shape, or a directory
   * of one JSON file per set (a mounted Kubernetes Secret). Re-read on change, no restart
   * (credential-sets.ts); its sets win over SCANQ_CREDENTIALS's of the same name.
   */
  SCANQ_CREDENTIALS_FILE: z.string().min(1).optional(),

  SCANQ_WORKER_CONCURRENCY: int(32, 1),
  /**
   * BullMQ job lock. A killed worker's active jobs move on at most lock + stalled check later
   * (the check that finds the lock gone): 15 + 2 = 17 s, inside the 30 s promised for a dead
   * worker's scans and quota slots with room for the pick-up on a loaded machine. The lock is
   * renewed every half of it, so an event loop may stall 7.5 s before a live job is taken away.
   */
  SCANQ_WORKER_LOCK_MS: int(15_000, 1_000),
  /**
   * A worker still closing this long after SIGTERM exits anyway (docker compose kills at 10 s);
   * jobs it still held come back through the stalled check, no attempt spent.
   */
  SCANQ_WORKER_SHUTDOWN_GRACE_MS: int(8_000, 100),
  /**
   * How often workers look for jobs whose lock lapsed (stalled: their process died); see
   * SCANQ_WORKER_LOCK_MS. 2 s, not 5: with 5 a dead worker's Alibaba slot was idle 32.9 s in a
   * clean-clone kill -9 run (goal 30); the check is one small Lua call per queue per worker.
   */
  SCANQ_WORKER_STALLED_CHECK_MS: int(2_000, 500),
  /** Comma list of provider queues this worker serves; empty = all. */
  SCANQ_WORKER_QUEUES: z.string().default(''),
  /**
   * Port of a worker's own /healthz, /readyz and /metrics (9464: Prometheus' exporter range);
   * 0 = no HTTP server (several workers on one host without ports of their own, tests).
   */
  SCANQ_WORKER_HTTP_PORT: int(9464, 0),
  /** Address that server listens on; 0.0.0.0 in a pod, so the kubelet and Prometheus reach it. */
  SCANQ_WORKER_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  /** Bound of each /readyz check of a worker (Postgres, Redis): keep it below the probe's timeoutSeconds. */
  SCANQ_WORKER_PROBE_TIMEOUT_MS: int(2_000, 100),
  // 0: look once right after the start, inside the start job (reused and instant scans finish there).
  SCANQ_POLL_INITIAL_MS: int(5_000, 0),
  SCANQ_POLL_MAX_MS: int(60_000, 1),
  SCANQ_POLL_FACTOR: z.coerce.number().min(1).default(1.5),
  SCANQ_SCAN_TIMEOUT_MS: int(2 * 60 * 60 * 1000, 1),
  SCANQ_START_ATTEMPTS: int(6, 1),
  SCANQ_RETRY_BACKOFF_MS: int(2_000, 1),
  /** How often a maintenance worker's timer re-derives job schedulers and reconciles the ledger with Redis. */
  SCANQ_RECONCILE_EVERY_MS: int(10_000, 100),
  /** Retention: successful runs per image kept with full findings, its current one included (older keep counts only). 0 keeps all. */
  SCANQ_RETENTION_FULL_RUNS: int(3, 0),
  /** Retention: raw cloud payloads (runs' and findings') older than this many days are dropped. 0 keeps them. */
  SCANQ_RETENTION_RAW_DAYS: int(90, 0),
  /**
   * Retention: runs per image kept as counts-only rows beyond the full ones; older run rows are
   * deleted (their scans list fewer images). 90 (about three months of nightly runs) so the tables
   * stop growing with repeated scans by default; 0 keeps all.
   */
  SCANQ_RETENTION_HISTORY_RUNS: int(90, 0),
  /** Retention: runs pruned per statement (one short statement each, so completions never wait long). */
  SCANQ_RETENTION_BATCH: int(200, 1),
  /** Retention: statements per maintenance pass at most (the rest waits for the next pass). */
  SCANQ_RETENTION_MAX_BATCHES: int(50, 1),
  /** A job missing for this long (after its last update) counts as lost to the reconciler. */
  SCANQ_RECONCILE_GRACE_MS: int(30_000, 0),
  SCANQ_AWS_SCAN_WINDOW_MS: int(24 * 60 * 60 * 1000, 1),
  /**
   * A create call's hard end, counted from its intent (the compare-and-set in Postgres): by then
   * its requests are cut and their connections reset, so nothing of it reaches the cloud later,
   * even from a host whose network was cut mid-call (the kernel would otherwise deliver the
   * request when the network came back). Any wait for a rate gate counts in it.
   */
  SCANQ_CREATE_TIMEOUT_MS: int(10_000, 1_000),
  /**
   * How long after its intent an unanswered create call is surely over: a retry waits this long
   * before creating when a look-up found no task. It must exceed SCANQ_CREATE_TIMEOUT_MS; the
   * rest is margin for a late timer (a starved event loop) and for the cloud making a received
   * create visible to its lists. Unset: SCANQ_CREATE_TIMEOUT_MS + 10 s (20 s keeps a dead
   * worker's Alibaba slot idle under 30 s when it died before its create left).
   */
  SCANQ_CREATE_SETTLE_MS: z.coerce.number().int().min(0).optional(),
  /** How long a job waits while Postgres is unreachable before trying again (no attempt spent). */
  SCANQ_OUTAGE_RETRY_MS: int(5_000, 100),
  /** Alibaba SAS scan tasks in flight per account (the cloud's documented 10). */
  SCANQ_ALIBABA_TASK_LIMIT: int(10, 1),
  /**
   * Lease of an Alibaba slot whose task exists, renewed on every poll. It only frees a slot whose
   * scan is never polled again (a dead worker's scan is polled by another within the lock + check),
   * so it may be long. Unset: 3 × SCANQ_POLL_MAX_MS + 60 s. A slot whose task is still being
   * created has the short lease SCANQ_WORKER_LOCK_MS, renewed by the creating process.
   */
  SCANQ_ALIBABA_SLOT_LEASE_MS: z.coerce.number().int().min(1).optional(),
  /** Fallback wait of a scan in quota_wait (a freed slot wakes the oldest waiter sooner). */
  SCANQ_ALIBABA_QUOTA_RETRY_MS: int(5_000, 1),
  /** How long room taken by tasks created outside scanq (CanCreate false / BeyondQuata) is assumed to stay taken. */
  SCANQ_ALIBABA_EXTERNAL_HOLD_MS: int(60_000, 1),
  /** Tencent TCSS calls per API per account in any second (the cloud's documented 20). */
  SCANQ_TENCENT_RPS: int(20, 1),
  /**
   * Workers keep to SCANQ_TENCENT_RPS calls in any (1000 + this) ms: room for calls that reach the
   * cloud later than others (latency spread, a late timer). 300: a third for a caller's lateness,
   * 200 ms for the spread; costs a fifth of the rate (20 per 1.3 s, about 15.4/s).
   */
  SCANQ_TENCENT_MARGIN_MS: z.coerce.number().int().min(0).max(5_000).default(300),
  SCANQ_KEEP_COMPLETED_JOBS: int(1_000, 0),
  SCANQ_KEEP_FAILED_JOBS: int(5_000, 0),
  /** The API registers the simulator's demo accounts (sim-aws, sim-alibaba, sim-tencent, sim-huawei) at SIM_URL when it starts (compose's demo; `pnpm start` always does). */
  SCANQ_DEMO_ACCOUNTS: bool(false),

  // Tracing (OpenTelemetry): the SDK's standard variables. Off unless an exporter is configured.
  /** `otlp` or `console` turn tracing on, `none` keeps it off; unset: on (otlp) only when an OTLP endpoint is set. */
  OTEL_TRACES_EXPORTER: z.preprocess(emptyAsUnset, z.enum(['otlp', 'console', 'none']).optional()),
  /** OTLP/HTTP base URL: traces go to <this>/v1/traces. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(emptyAsUnset, z.string().url().optional()),
  /** The full URL traces are POSTed to (wins over OTEL_EXPORTER_OTLP_ENDPOINT). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.preprocess(emptyAsUnset, z.string().url().optional()),
  /** http/protobuf (default) or http/json; grpc is not bundled. */
  OTEL_EXPORTER_OTLP_PROTOCOL: z.preprocess(emptyAsUnset, z.enum(['http/protobuf', 'http/json']).optional()),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.preprocess(emptyAsUnset, z.enum(['http/protobuf', 'http/json']).optional()),
  /** Extra headers on every export, `key=value,key2=value2` (an authorization token). */
  OTEL_EXPORTER_OTLP_HEADERS: z.string().default(''),
  /** Unset: scanq-api / scanq-worker. */
  OTEL_SERVICE_NAME: z.preprocess(emptyAsUnset, z.string().optional()),
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
    .default('parentbased_always_on'),
  /** The ratio of the *traceidratio samplers, 0–1. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  /** Spans are batched this long before an export. */
  OTEL_BSP_SCHEDULE_DELAY: int(5_000, 0),
  /**
   * Longest attribute value kept (longer ones are cut). The SDK's default is no limit; scanq's is
   * 1024 characters: a completion statement's text (`db.query.text`) is 6.6 KB, twice per scan,
   * which made up two thirds of what a traced scan exported (18.9 → 8.2 KiB per scan).
   */
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: int(1024, 32),
  /** true turns tracing off whatever else is set. */
  OTEL_SDK_DISABLED: bool(false),

  SIM_HOST: z.string().default('127.0.0.1'),
  SIM_PORT: int(4566),
  SIM_SEED: z.string().default('scanq'),
  SIM_URL: z.string().url().optional(),
});

export type Env = z.input<typeof envSchema>;

/** Every variable loadConfig reads by name (SIM_* options aside): deployment manifests are checked against it. */
export const CONFIG_ENV_NAMES: readonly string[] = Object.keys(envSchema.shape);

export interface ScanqConfig {
  env: string;
  logLevel: string;
  databaseUrl: string;
  dbPoolMax: number;
  dbPreparedStatements: boolean;
  /** Standalone REDIS_URL (kept for tools that speak to one server). */
  redisUrl: string;
  /** How to reach Redis: the queue package's createRedis builds the client from this. */
  redis: RedisTopologyConfig;
  /** Key namespace (no braces): see SCANQ_QUEUE_PREFIX. */
  queuePrefix: string;
  api: {
    host: string;
    port: number;
    publicUrl: string;
    adminUser: string;
    adminPassword?: string;
    apiKey?: string;
    dependencyTimeoutMs: number;
    /** Load-shedding thresholds (0: that check is off; heap undefined: 90% of the heap limit). */
    pressure: { maxEventLoopDelayMs: number; maxEventLoopUtilization: number; maxHeapUsedMb?: number; maxRssMb: number };
    /** Per-key request budget; max 0 = off. */
    rateLimit: { max: number; windowMs: number };
  };
  /** Group commit of scan submits: batch size and batches in flight at most. */
  submitBatch: { maxBatch: number; maxInFlight: number };
  /** What an account's `endpoint` may point at (see accountEndpointIssues). */
  endpoints: { allowHttp: boolean; allowPrivate: boolean };
  webhooks: { secret?: string; allowPrivate: boolean; attempts: number; backoffMs: number; timeoutMs: number };
  /** The `events` stream: every scan and bulk-scan end, for consumers on Redis. */
  events: { maxLen: number };
  credentials: Record<string, Record<string, string>>;
  /** SCANQ_CREDENTIALS_FILE: where more secret sets are read from (FileBackedCredentialSets). */
  credentialsFile?: string;
  /** Bounds of every cloud API call (handed to the adapters). */
  providers: { timeoutMs: number; connectTimeoutMs: number; allowPrivateEndpoints: boolean; allowLoopbackEndpoints: boolean };
  worker: {
    concurrency: number;
    lockMs: number;
    stalledCheckMs: number;
    shutdownGraceMs: number;
    queues: string[];
    /** The worker's health/metrics server; port 0 = none. */
    http: { host: string; port: number; probeTimeoutMs: number };
    pollInitialMs: number;
    pollMaxMs: number;
    pollFactor: number;
    scanTimeoutMs: number;
    startAttempts: number;
    retryBackoffMs: number;
    reconcileEveryMs: number;
    reconcileGraceMs: number;
    awsScanWindowMs: number;
    createTimeoutMs: number;
    createSettleMs: number;
    outageRetryMs: number;
    alibaba: { taskLimit: number; slotLeaseMs: number; createLeaseMs: number; quotaRetryMs: number; externalHoldMs: number };
    /** Tencent: the cloud allows `limitPerSec` calls per API in any second; workers keep to that many per 1000 + marginMs ms. */
    tencent: { limitPerSec: number; marginMs: number };
    keepCompletedJobs: number;
    keepFailedJobs: number;
  };
  /** Bounded growth of findings (see RetentionService). */
  retention: { fullRuns: number; historyRuns: number; rawDays: number; batch: number; maxBatches: number };
  demoAccounts: boolean;
  simulator: { host: string; port: number; seed: string; url: string; options: Record<string, string> };
  /** OpenTelemetry tracing; null: off (no SDK loaded, the API's no-op tracer). */
  tracing: TracingConfig | null;
}

export interface TracingConfig {
  exporter: 'otlp' | 'console';
  /** Where OTLP/HTTP exports go (the traces URL itself). */
  endpoint: string;
  protocol: 'http/protobuf' | 'http/json';
  headers: Record<string, string>;
  /** Unset: each process names itself (scanq-api, scanq-worker). */
  serviceName?: string;
  sampler: { name: 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio'; ratio: number };
  batchDelayMs: number;
  /** Attribute values longer than this are cut (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT). */
  attributeValueLengthLimit: number;
}

export interface RedisHostPort {
  host: string;
  port: number;
}

/** Replicas a quota grant waits for (WAIT), and how long: see SCANQ_REDIS_WAIT_REPLICAS. */
export interface RedisReplicaAck {
  replicas: number;
  timeoutMs: number;
}

export type RedisTopologyConfig = (
  | { mode: 'standalone'; url: string; username?: string; password?: string }
  | { mode: 'cluster'; nodes: RedisHostPort[]; username?: string; password?: string; tls: boolean }
  | { mode: 'sentinel'; sentinels: RedisHostPort[]; masterName: string; username?: string; password?: string; tls: boolean }
) & { replicaAck?: RedisReplicaAck };

/** `host:port,host:port` → addresses; names the variable and the rule on a bad entry. */
function hostPortList(variable: string, raw: string, mode: string): RedisHostPort[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new ConfigError(`invalid configuration:\n  ${variable}: required when SCANQ_REDIS_MODE=${mode}: comma-separated host:port, e.g. 10.0.0.1:6379,10.0.0.2:6379`);
  return entries.map((entry) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65_535) throw new ConfigError(`invalid configuration:\n  ${variable}: "${entry}" must be host:port with a port 1-65535`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function redisTopology(e: z.output<typeof envSchema>): RedisTopologyConfig {
  const auth = { ...(e.SCANQ_REDIS_USERNAME ? { username: e.SCANQ_REDIS_USERNAME } : {}), ...(e.SCANQ_REDIS_PASSWORD ? { password: e.SCANQ_REDIS_PASSWORD } : {}) };
  // Cluster and Sentinel exist to fail over to a replica; one standalone server usually has none.
  const replicaAck = { replicas: e.SCANQ_REDIS_WAIT_REPLICAS ?? (e.SCANQ_REDIS_MODE === 'standalone' ? 0 : 1), timeoutMs: e.SCANQ_REDIS_WAIT_TIMEOUT_MS };
  switch (e.SCANQ_REDIS_MODE) {
    case 'standalone':
      return { mode: 'standalone', url: e.REDIS_URL, ...auth, replicaAck };
    case 'cluster':
      return { mode: 'cluster', nodes: hostPortList('SCANQ_REDIS_NODES', e.SCANQ_REDIS_NODES, 'cluster'), tls: e.SCANQ_REDIS_TLS, ...auth, replicaAck };
    case 'sentinel': {
      const sentinels = hostPortList('SCANQ_REDIS_SENTINELS', e.SCANQ_REDIS_SENTINELS, 'sentinel');
      if (!e.SCANQ_REDIS_SENTINEL_MASTER) throw new ConfigError('invalid configuration:\n  SCANQ_REDIS_SENTINEL_MASTER: required when SCANQ_REDIS_MODE=sentinel: the master name the sentinels monitor');
      return { mode: 'sentinel', sentinels, masterName: e.SCANQ_REDIS_SENTINEL_MASTER, tls: e.SCANQ_REDIS_TLS, ...auth, replicaAck };
    }
  }
}

/** `k=v,k2=v2` (values percent-decoded, as the OTel spec has them). */
/** The settle time: unset, the create timeout + 10 s; set, it must leave the create call time to end. */
function createSettleMs(timeoutMs: number, settleMs: number | undefined): number {
  if (settleMs === undefined) return timeoutMs + 10_000;
  if (settleMs <= timeoutMs)
    throw new ConfigError(`invalid configuration:\n  SCANQ_CREATE_SETTLE_MS: ${settleMs} must exceed SCANQ_CREATE_TIMEOUT_MS (${timeoutMs}): a retry would create a task while the earlier create call may still reach the cloud`);
  return settleMs;
}

function otlpHeaders(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError(`invalid configuration:\n  OTEL_EXPORTER_OTLP_HEADERS: "${pair.split('=')[0]}…" must be key=value (comma-separated pairs)`);
    out[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

/** Tracing is on only when an exporter is asked for: OTEL_TRACES_EXPORTER=otlp|console, or an OTLP endpoint with no exporter named. */
function tracingConfig(e: z.output<typeof envSchema>): TracingConfig | null {
  if (e.OTEL_SDK_DISABLED || e.OTEL_TRACES_EXPORTER === 'none') return null;
  const endpointSet = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporter = e.OTEL_TRACES_EXPORTER ?? (endpointSet ? 'otlp' : null);
  if (!exporter) return null;
  const endpoint = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${(e.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  return {
    exporter,
    endpoint,
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    headers: otlpHeaders(e.OTEL_EXPORTER_OTLP_HEADERS),
    ...(e.OTEL_SERVICE_NAME ? { serviceName: e.OTEL_SERVICE_NAME } : {}),
    sampler: { name: e.OTEL_TRACES_SAMPLER, ratio: e.OTEL_TRACES_SAMPLER_ARG },
    batchDelayMs: e.OTEL_BSP_SCHEDULE_DELAY,
    attributeValueLengthLimit: e.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses `source` (default: process.env) into the typed config; throws naming each bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): ScanqConfig {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  // A slot lease shorter than a poll interval would expire under a live scan.
  if (e.SCANQ_ALIBABA_SLOT_LEASE_MS !== undefined && e.SCANQ_ALIBABA_SLOT_LEASE_MS <= 2 * e.SCANQ_POLL_MAX_MS) {
    throw new ConfigError(`invalid configuration:\n  SCANQ_ALIBABA_SLOT_LEASE_MS: must exceed 2 × SCANQ_POLL_MAX_MS (${2 * e.SCANQ_POLL_MAX_MS} ms)`);
  }
  let credentials: Record<string, Record<string, string>> = {};
  if (e.SCANQ_CREDENTIALS) {
    let raw: unknown;
    try {
      raw = JSON.parse(e.SCANQ_CREDENTIALS);
    } catch {
      throw new ConfigError('invalid configuration:\n  SCANQ_CREDENTIALS: must be a JSON object');
    }
    const creds = credentialSchema.safeParse(raw);
    if (!creds.success) throw new ConfigError('invalid configuration:\n  SCANQ_CREDENTIALS: must map names to string records');
    credentials = creds.data;
  }
  const simOptions = Object.fromEntries(
    Object.entries(source).filter((kv): kv is [string, string] => kv[0].startsWith('SIM_') && typeof kv[1] === 'string'),
  );
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    dbPoolMax: e.SCANQ_DB_POOL_MAX,
    dbPreparedStatements: e.SCANQ_DB_PREPARED_STATEMENTS,
    redisUrl: e.REDIS_URL,
    redis: redisTopology(e),
    queuePrefix: e.SCANQ_QUEUE_PREFIX,
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      publicUrl: e.SCANQ_PUBLIC_URL ?? `http://${e.API_HOST}:${e.API_PORT}`,
      adminUser: e.SCANQ_ADMIN_USER,
      adminPassword: e.SCANQ_ADMIN_PASSWORD,
      apiKey: e.SCANQ_API_KEY,
      dependencyTimeoutMs: e.SCANQ_API_DEPENDENCY_TIMEOUT_MS,
      pressure: {
        maxEventLoopDelayMs: e.SCANQ_API_MAX_EVENT_LOOP_DELAY_MS,
        maxEventLoopUtilization: e.SCANQ_API_MAX_EVENT_LOOP_UTILIZATION,
        maxHeapUsedMb: e.SCANQ_API_MAX_HEAP_USED_MB,
        maxRssMb: e.SCANQ_API_MAX_RSS_MB,
      },
      rateLimit: { max: e.SCANQ_API_RATE_LIMIT_MAX, windowMs: e.SCANQ_API_RATE_LIMIT_WINDOW_MS },
    },
    submitBatch: { maxBatch: e.SCANQ_SUBMIT_BATCH_MAX, maxInFlight: e.SCANQ_SUBMIT_BATCH_IN_FLIGHT },
    endpoints: { allowHttp: e.SCANQ_ALLOW_HTTP_ENDPOINTS, allowPrivate: e.SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS },
    webhooks: {
      secret: e.SCANQ_WEBHOOK_SECRET,
      allowPrivate: e.SCANQ_WEBHOOK_ALLOW_PRIVATE,
      attempts: e.SCANQ_WEBHOOK_ATTEMPTS,
      backoffMs: e.SCANQ_WEBHOOK_BACKOFF_MS,
      timeoutMs: e.SCANQ_WEBHOOK_TIMEOUT_MS,
    },
    events: { maxLen: e.SCANQ_EVENTS_MAXLEN },
    credentials,
    ...(e.SCANQ_CREDENTIALS_FILE ? { credentialsFile: e.SCANQ_CREDENTIALS_FILE } : {}),
    providers: {
      timeoutMs: e.SCANQ_PROVIDER_TIMEOUT_MS,
      connectTimeoutMs: e.SCANQ_PROVIDER_CONNECT_TIMEOUT_MS,
      allowPrivateEndpoints: e.SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS,
      allowLoopbackEndpoints: e.SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS,
    },
    worker: {
      concurrency: e.SCANQ_WORKER_CONCURRENCY,
      lockMs: e.SCANQ_WORKER_LOCK_MS,
      stalledCheckMs: e.SCANQ_WORKER_STALLED_CHECK_MS,
      shutdownGraceMs: e.SCANQ_WORKER_SHUTDOWN_GRACE_MS,
      queues: e.SCANQ_WORKER_QUEUES.split(',').map((s) => s.trim()).filter(Boolean),
      http: { host: e.SCANQ_WORKER_HTTP_HOST, port: e.SCANQ_WORKER_HTTP_PORT, probeTimeoutMs: e.SCANQ_WORKER_PROBE_TIMEOUT_MS },
      pollInitialMs: e.SCANQ_POLL_INITIAL_MS,
      pollMaxMs: e.SCANQ_POLL_MAX_MS,
      pollFactor: e.SCANQ_POLL_FACTOR,
      scanTimeoutMs: e.SCANQ_SCAN_TIMEOUT_MS,
      startAttempts: e.SCANQ_START_ATTEMPTS,
      retryBackoffMs: e.SCANQ_RETRY_BACKOFF_MS,
      reconcileEveryMs: e.SCANQ_RECONCILE_EVERY_MS,
      reconcileGraceMs: e.SCANQ_RECONCILE_GRACE_MS,
      awsScanWindowMs: e.SCANQ_AWS_SCAN_WINDOW_MS,
      createTimeoutMs: e.SCANQ_CREATE_TIMEOUT_MS,
      createSettleMs: createSettleMs(e.SCANQ_CREATE_TIMEOUT_MS, e.SCANQ_CREATE_SETTLE_MS),
      outageRetryMs: e.SCANQ_OUTAGE_RETRY_MS,
      alibaba: {
        taskLimit: e.SCANQ_ALIBABA_TASK_LIMIT,
        slotLeaseMs: e.SCANQ_ALIBABA_SLOT_LEASE_MS ?? 3 * e.SCANQ_POLL_MAX_MS + 60_000,
        // Before its task exists a slot is renewed by the creating process itself: a dead one's
        // slot comes back within this, no later than the dead process's jobs (the lock).
        createLeaseMs: e.SCANQ_WORKER_LOCK_MS,
        quotaRetryMs: e.SCANQ_ALIBABA_QUOTA_RETRY_MS,
        externalHoldMs: e.SCANQ_ALIBABA_EXTERNAL_HOLD_MS,
      },
      tencent: { limitPerSec: e.SCANQ_TENCENT_RPS, marginMs: e.SCANQ_TENCENT_MARGIN_MS },
      keepCompletedJobs: e.SCANQ_KEEP_COMPLETED_JOBS,
      keepFailedJobs: e.SCANQ_KEEP_FAILED_JOBS,
    },
    retention: { fullRuns: e.SCANQ_RETENTION_FULL_RUNS, historyRuns: e.SCANQ_RETENTION_HISTORY_RUNS, rawDays: e.SCANQ_RETENTION_RAW_DAYS, batch: e.SCANQ_RETENTION_BATCH, maxBatches: e.SCANQ_RETENTION_MAX_BATCHES },
    demoAccounts: e.SCANQ_DEMO_ACCOUNTS,
    simulator: {
      host: e.SIM_HOST,
      port: e.SIM_PORT,
      seed: e.SIM_SEED,
      url: e.SIM_URL ?? `http://${e.SIM_HOST}:${e.SIM_PORT}`,
      options: simOptions,
    },
    tracing: tracingConfig(e),
  };
}

/** An empty variable is an unset one (`SCANQ_API_KEY= scanq …`). */
const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);
const clientEnvSchema = z.object({
  SCANQ_API_URL: z.preprocess(unsetIfEmpty, z.string().regex(HTTP_URL_PATTERN, 'must be an http(s) URL, e.g. http://127.0.0.1:3000').default('http://127.0.0.1:3000')),
  SCANQ_API_KEY: z.preprocess(unsetIfEmpty, z.string().optional()),
  SCANQ_API_TIMEOUT_MS: int(30_000, 1),
});

/** What a client of the API (the `scanq` CLI) reads: apart from loadConfig, so a CLI never trips over server settings. */
export interface ScanqClientConfig {
  apiUrl: string;
  apiKey?: string;
  timeoutMs: number;
}

export function loadClientConfig(source: NodeJS.ProcessEnv = process.env): ScanqClientConfig {
  const parsed = clientEnvSchema.safeParse(source);
  if (!parsed.success) throw new ConfigError(`invalid configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return { apiUrl: parsed.data.SCANQ_API_URL, apiKey: parsed.data.SCANQ_API_KEY, timeoutMs: parsed.data.SCANQ_API_TIMEOUT_MS };
}
