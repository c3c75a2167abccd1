import type { ScanqConfig } from '@scanq/core';
import { AccountRepository, createDb, type Db, ImageScanWindowRepository, ScanRepository } from '@scanq/db';
import { createRedis, QueueRepository } from '@scanq/queue';
import { createProviders } from '@scanq/providers';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { AccountResolver } from './account-resolver.js';
import { ScanLifecycleService } from './lifecycle.service.js';
import { ReconcileService } from './reconcile.service.js';
import { createStartPolicies } from './start-policies/index.js';
import { SubmitService } from './submit.service.js';

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
];

export function createLogger(config: ScanqConfig, name: string): Logger {
  return pino({ name, level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

/**
 * Everything a scanq process needs, wired once: Postgres (ledger), Redis (queues and
 * quotas), repositories and services. Each app takes what it uses and calls `close()`.
 */
export interface ScanqRuntime {
  config: ScanqConfig;
  log: Logger;
  db: Db;
  redis: Redis;
  queues: QueueRepository;
  accounts: AccountRepository;
  scans: ScanRepository;
  windows: ImageScanWindowRepository;
  submit: SubmitService;
  lifecycle: ScanLifecycleService;
  reconciler: ReconcileService;
  close(): Promise<void>;
}

export function createRuntime(config: ScanqConfig, log: Logger = createLogger(config, 'scanq')): ScanqRuntime {
  const db = createDb(config.databaseUrl);
  const redis = createRedis(config.redisUrl);
  const queues = new QueueRepository(redis, {
    prefix: config.queuePrefix,
    keepCompleted: config.worker.keepCompletedJobs,
    keepFailed: config.worker.keepFailedJobs,
    startAttempts: config.worker.startAttempts,
    retryBackoffMs: config.worker.retryBackoffMs,
  });
  const accounts = new AccountRepository(db);
  const scans = new ScanRepository(db);
  const windows = new ImageScanWindowRepository(db);
  const lifecycle = new ScanLifecycleService(
    scans,
    accounts,
    new AccountResolver(config.credentials),
    queues,
    createProviders(),
    createStartPolicies({ config, redis, windows }),
    { pollInitialMs: config.worker.pollInitialMs, pollMaxMs: config.worker.pollMaxMs, pollFactor: config.worker.pollFactor },
    log,
  );
  return {
    config,
    log,
    db,
    redis,
    queues,
    accounts,
    scans,
    windows,
    submit: new SubmitService(accounts, scans, queues, { scanTimeoutMs: config.worker.scanTimeoutMs }),
    lifecycle,
    reconciler: new ReconcileService(scans, queues, lifecycle, { graceMs: config.worker.reconcileGraceMs }, log),
    async close() {
      await queues.close();
      await redis.quit().catch(() => redis.disconnect());
      await db.$disconnect();
    },
  };
}
