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

const credentialSchema = z.record(z.string(), z.record(z.string(), z.string()));

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/scanq'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Postgres connections per process (Postgres allows 100 by default: size workers × this below it). */
  SCANQ_DB_POOL_MAX: int(10, 1),
  /** false behind a pooler that does not keep prepared statements per client (PgBouncer transaction mode < 1.21). */
  SCANQ_DB_PREPARED_STATEMENTS: bool(true),
  /** BullMQ prefix and quota-key namespace. The braces are a Redis Cluster hash tag. */
  SCANQ_QUEUE_PREFIX: z.string().min(1).default('{scanq}'),

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
  /** HMAC-SHA256 secret that signs webhook bodies. Unset: webhooks are recorded as failed, never sent unsigned. */
  SCANQ_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Allow webhook targets on loopback/private/link-local addresses (off: such targets are refused). */
  SCANQ_WEBHOOK_ALLOW_PRIVATE: bool(false),
  SCANQ_WEBHOOK_ATTEMPTS: int(8, 1),
  /** First retry delay of a failed delivery; doubles per attempt. */
  SCANQ_WEBHOOK_BACKOFF_MS: int(1_000, 1),
  SCANQ_WEBHOOK_TIMEOUT_MS: int(10_000, 100),

  /** Account endpoints may be plain http:// to any host (off: https://, or http:// to loopback only). */
  SCANQ_ALLOW_HTTP_ENDPOINTS: bool(false),
  /** Account endpoints may be private, link-local, CGNAT or unspecified addresses (off: refused). */
  SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS: bool(false),

  /** JSON map credentialRef → secrets, e.g. {"aws-demo":{"accessKeyId":"…","secretAccessKey":"…"}}. */
  SCANQ_CREDENTIALS: z.string().optional(),

  SCANQ_WORKER_CONCURRENCY: int(32, 1),
  /** BullMQ job lock; a killed worker's active jobs are picked up again after about this long. */
  SCANQ_WORKER_LOCK_MS: int(30_000, 1_000),
  /** How often workers look for jobs whose lock lapsed (stalled: their process died). */
  SCANQ_WORKER_STALLED_CHECK_MS: int(15_000, 500),
  /** Comma list of provider queues this worker serves; empty = all. */
  SCANQ_WORKER_QUEUES: z.string().default(''),
  // 0: look once right after the start, inside the start job (reused and instant scans finish there).
  SCANQ_POLL_INITIAL_MS: int(5_000, 0),
  SCANQ_POLL_MAX_MS: int(60_000, 1),
  SCANQ_POLL_FACTOR: z.coerce.number().min(1).default(1.5),
  SCANQ_SCAN_TIMEOUT_MS: int(2 * 60 * 60 * 1000, 1),
  SCANQ_START_ATTEMPTS: int(6, 1),
  SCANQ_RETRY_BACKOFF_MS: int(2_000, 1),
  SCANQ_RECONCILE_EVERY_MS: int(60_000, 100),
  /** A job missing for this long (after its last update) counts as lost to the reconciler. */
  SCANQ_RECONCILE_GRACE_MS: int(30_000, 0),
  SCANQ_AWS_SCAN_WINDOW_MS: int(24 * 60 * 60 * 1000, 1),
  /** Alibaba SAS scan tasks in flight per account (the cloud's documented 10). */
  SCANQ_ALIBABA_TASK_LIMIT: int(10, 1),
  /** Lease of an Alibaba task slot, renewed on every poll. Unset: 3 × SCANQ_POLL_MAX_MS + 60 s (stalled-job recovery). */
  SCANQ_ALIBABA_SLOT_LEASE_MS: z.coerce.number().int().min(1).optional(),
  /** Fallback wait of a scan in quota_wait (a freed slot wakes the oldest waiter sooner). */
  SCANQ_ALIBABA_QUOTA_RETRY_MS: int(5_000, 1),
  /** How long room taken by tasks created outside scanq (CanCreate false / BeyondQuata) is assumed to stay taken. */
  SCANQ_ALIBABA_EXTERNAL_HOLD_MS: int(60_000, 1),
  /** Tencent TCSS calls per second per API per account (the cloud's documented 20). */
  SCANQ_TENCENT_RPS: int(20, 1),
  /** Tokens per second kept unused below SCANQ_TENCENT_RPS: room for a call delayed into the next second. */
  SCANQ_TENCENT_HEADROOM: int(1, 0),
  /** Tencent calls released at once inside a second (1: evenly spaced). */
  SCANQ_TENCENT_BURST: int(1, 1),
  /** No Tencent call is released in the last this-many ms of a second, so it lands in the second it was counted in. */
  SCANQ_TENCENT_GUARD_MS: z.coerce.number().int().min(0).max(800).default(300),
  SCANQ_KEEP_COMPLETED_JOBS: int(1_000, 0),
  SCANQ_KEEP_FAILED_JOBS: int(5_000, 0),
  /** Seed a demo account pointing at the simulator (used by `pnpm start`). */
  SCANQ_DEMO_ACCOUNTS: bool(false),

  SIM_HOST: z.string().default('127.0.0.1'),
  SIM_PORT: int(4566),
  SIM_SEED: z.string().default('scanq'),
  SIM_URL: z.string().url().optional(),
});

export type Env = z.input<typeof envSchema>;

export interface ScanqConfig {
  env: string;
  logLevel: string;
  databaseUrl: string;
  dbPoolMax: number;
  dbPreparedStatements: boolean;
  redisUrl: string;
  queuePrefix: string;
  api: { host: string; port: number; publicUrl: string; adminUser: string; adminPassword?: string; apiKey?: string; dependencyTimeoutMs: number };
  /** What an account's `endpoint` may point at (see accountEndpointIssues). */
  endpoints: { allowHttp: boolean; allowPrivate: boolean };
  webhooks: { secret?: string; allowPrivate: boolean; attempts: number; backoffMs: number; timeoutMs: number };
  credentials: Record<string, Record<string, string>>;
  worker: {
    concurrency: number;
    lockMs: number;
    stalledCheckMs: number;
    queues: string[];
    pollInitialMs: number;
    pollMaxMs: number;
    pollFactor: number;
    scanTimeoutMs: number;
    startAttempts: number;
    retryBackoffMs: number;
    reconcileEveryMs: number;
    reconcileGraceMs: number;
    awsScanWindowMs: number;
    alibaba: { taskLimit: number; slotLeaseMs: number; quotaRetryMs: number; externalHoldMs: number };
    /** Tencent call rate the workers keep to: ratePerSec = SCANQ_TENCENT_RPS − SCANQ_TENCENT_HEADROOM. */
    tencent: { ratePerSec: number; limitPerSec: number; burst: number; guardMs: number };
    keepCompletedJobs: number;
    keepFailedJobs: number;
  };
  demoAccounts: boolean;
  simulator: { host: string; port: number; seed: string; url: string; options: Record<string, string> };
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
    queuePrefix: e.SCANQ_QUEUE_PREFIX,
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      publicUrl: e.SCANQ_PUBLIC_URL ?? `http://${e.API_HOST}:${e.API_PORT}`,
      adminUser: e.SCANQ_ADMIN_USER,
      adminPassword: e.SCANQ_ADMIN_PASSWORD,
      apiKey: e.SCANQ_API_KEY,
      dependencyTimeoutMs: e.SCANQ_API_DEPENDENCY_TIMEOUT_MS,
    },
    endpoints: { allowHttp: e.SCANQ_ALLOW_HTTP_ENDPOINTS, allowPrivate: e.SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS },
    webhooks: {
      secret: e.SCANQ_WEBHOOK_SECRET,
      allowPrivate: e.SCANQ_WEBHOOK_ALLOW_PRIVATE,
      attempts: e.SCANQ_WEBHOOK_ATTEMPTS,
      backoffMs: e.SCANQ_WEBHOOK_BACKOFF_MS,
      timeoutMs: e.SCANQ_WEBHOOK_TIMEOUT_MS,
    },
    credentials,
    worker: {
      concurrency: e.SCANQ_WORKER_CONCURRENCY,
      lockMs: e.SCANQ_WORKER_LOCK_MS,
      stalledCheckMs: e.SCANQ_WORKER_STALLED_CHECK_MS,
      queues: e.SCANQ_WORKER_QUEUES.split(',').map((s) => s.trim()).filter(Boolean),
      pollInitialMs: e.SCANQ_POLL_INITIAL_MS,
      pollMaxMs: e.SCANQ_POLL_MAX_MS,
      pollFactor: e.SCANQ_POLL_FACTOR,
      scanTimeoutMs: e.SCANQ_SCAN_TIMEOUT_MS,
      startAttempts: e.SCANQ_START_ATTEMPTS,
      retryBackoffMs: e.SCANQ_RETRY_BACKOFF_MS,
      reconcileEveryMs: e.SCANQ_RECONCILE_EVERY_MS,
      reconcileGraceMs: e.SCANQ_RECONCILE_GRACE_MS,
      awsScanWindowMs: e.SCANQ_AWS_SCAN_WINDOW_MS,
      alibaba: {
        taskLimit: e.SCANQ_ALIBABA_TASK_LIMIT,
        slotLeaseMs: e.SCANQ_ALIBABA_SLOT_LEASE_MS ?? 3 * e.SCANQ_POLL_MAX_MS + 60_000,
        quotaRetryMs: e.SCANQ_ALIBABA_QUOTA_RETRY_MS,
        externalHoldMs: e.SCANQ_ALIBABA_EXTERNAL_HOLD_MS,
      },
      tencent: { ratePerSec: Math.max(1, e.SCANQ_TENCENT_RPS - e.SCANQ_TENCENT_HEADROOM), limitPerSec: e.SCANQ_TENCENT_RPS, burst: e.SCANQ_TENCENT_BURST, guardMs: e.SCANQ_TENCENT_GUARD_MS },
      keepCompletedJobs: e.SCANQ_KEEP_COMPLETED_JOBS,
      keepFailedJobs: e.SCANQ_KEEP_FAILED_JOBS,
    },
    demoAccounts: e.SCANQ_DEMO_ACCOUNTS,
    simulator: {
      host: e.SIM_HOST,
      port: e.SIM_PORT,
      seed: e.SIM_SEED,
      url: e.SIM_URL ?? `http://${e.SIM_HOST}:${e.SIM_PORT}`,
      options: simOptions,
    },
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
