import { randomBytes } from 'node:crypto';
import { loadConfig, type ScanqConfig, simulatorCredentials } from '@scanq/core';
import { Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';

/** The bootstrap API key every test environment's API accepts. */
export const TEST_API_KEY = 'scanq-test-api-key-0123456789';
/** Headers that authenticate a test request against /v1. */
export const AUTH = { authorization: `Bearer ${TEST_API_KEY}` } as const;

export interface TestEnv {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  /** Environment for child processes and loadConfig: isolated DB and queue prefix. */
  env: Record<string, string>;
  config(overrides?: Record<string, string>): ScanqConfig;
  cleanup(): Promise<void>;
}

/** The credentials of the simulator's seeded accounts, as SCANQ_CREDENTIALS expects them. */
/** SCANQ_CREDENTIALS for every simulator account of every cloud. */
export const SIMULATOR_CREDENTIALS = JSON.stringify(simulatorCredentials());

/** Removes every Redis key under `prefix` (a test file's or benchmark's queues and quotas). */
export async function deleteKeysByPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * A database of its own (cloned from the run's migrated template) and a queue prefix of its
 * own, for one test file: files run in parallel without seeing each other's scans or jobs.
 */
export async function createTestEnv(name: string): Promise<TestEnv> {
  const { runId, templateUrl, redisUrl } = inject('scanqTest');
  const suffix = `${name.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomBytes(3).toString('hex')}`;
  const dbName = `scanq_test_${runId}_${suffix}`;
  const admin = new URL(templateUrl);
  const template = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    // CREATE DATABASE … TEMPLATE fails while another session uses the template: retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${dbName}" TEMPLATE "${template}"`);
        break;
      } catch (err) {
        if (attempt > 50 || (err as { code?: string }).code !== '55006') throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await client.end();
  }
  const dbUrl = new URL(templateUrl);
  dbUrl.pathname = `/${dbName}`;
  const databaseUrl = dbUrl.toString();
  const prefix = `{scanq-test-${runId}-${suffix}}`;
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    SCANQ_QUEUE_PREFIX: prefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    SCANQ_CREDENTIALS: SIMULATOR_CREDENTIALS,
    // The simulator listens on 127.0.0.1: account endpoints may lead to loopback, nothing else private.
    SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS: 'true',
    SCANQ_POLL_INITIAL_MS: '100',
    SCANQ_POLL_MAX_MS: '500',
    SCANQ_POLL_FACTOR: '1.5',
    SCANQ_RETRY_BACKOFF_MS: '100',
    SCANQ_START_ATTEMPTS: '3',
    SCANQ_RECONCILE_EVERY_MS: '60000',
    SCANQ_RECONCILE_GRACE_MS: '0',
    // The simulator answers in milliseconds: a create whose answer was lost is looked up soon.
    SCANQ_CREATE_SETTLE_MS: '1500',
    SCANQ_WORKER_CONCURRENCY: '8',
    SCANQ_ADMIN_PASSWORD: 'test-admin-password',
    SCANQ_API_KEY: TEST_API_KEY,
    // Test files run side by side, several with 4–5 processes each: keep under Postgres's 100 connections.
    SCANQ_DB_POOL_MAX: '4',
  };
  return {
    databaseUrl,
    redisUrl,
    prefix,
    env,
    config: (overrides = {}) => loadConfig({ ...env, ...overrides }),
    cleanup: () => deleteKeysByPrefix(redisUrl, prefix),
  };
}
