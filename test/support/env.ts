import { randomBytes } from 'node:crypto';
import { loadConfig, type RedisTopologyConfig, type ScanqConfig, simulatorCredentials } from '@scanq/core';
import { RedisKeyspace } from '@scanq/queue';
import { deleteKeysByPrefix } from './redis-keys.js';
import pg from 'pg';
import { inject } from 'vitest';

/** The bootstrap API key every test environment's API accepts. */
export const TEST_API_KEY = 'scanq-test-api-key-0123456789';
/** Headers that authenticate a test request against /v1. */
export const AUTH = { authorization: `Bearer ${TEST_API_KEY}` } as const;

export interface TestEnv {
  databaseUrl: string;
  /** This env's own database (a clone of the run's template). */
  databaseName: string;
  /** A standalone URL to the run's Redis (on a cluster: one node; on a sentinel group: the first master). */
  redisUrl: string;
  /** The run's Redis as scanq reaches it (the topology the run's project chose): give it to createRedis. */
  redisTopology: RedisTopologyConfig;
  /** The key namespace (SCANQ_QUEUE_PREFIX, no braces): every key is under `{<prefix>:<group>}`. */
  prefix: string;
  /** Where this env's keys live (hash tag per group: `keyspace.tag('test')` for a test's own keys). */
  keyspace: RedisKeyspace;
  /** Environment for child processes and loadConfig: isolated DB and queue prefix. */
  env: Record<string, string>;
  config(overrides?: Record<string, string>): ScanqConfig;
  /** Removes the env's Redis keys and drops its database: call it in afterAll, after closing what the file started. */
  cleanup(): Promise<void>;
}

/** Every env created by the test file running in this worker (test/support/leak-check.ts checks them after the file). */
const createdHere: TestEnv[] = [];
export const testEnvsCreatedHere = (): readonly TestEnv[] => createdHere;

/** The credentials of the simulator's seeded accounts, as SCANQ_CREDENTIALS expects them. */
/** SCANQ_CREDENTIALS for every simulator account of every cloud. */
export const SIMULATOR_CREDENTIALS = JSON.stringify(simulatorCredentials());

export { deleteKeysByPrefix, keysByPrefix } from './redis-keys.js';

/** Runs `fn` on a connection to the server's `postgres` database. */
async function onAdmin<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Does database `name` exist on the server of `databaseUrl`? */
export const databaseExists = (databaseUrl: string, name: string): Promise<boolean> =>
  onAdmin(databaseUrl, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);

/**
 * A database of its own (cloned from the run's migrated template) and a queue prefix of its
 * own, for one test file: files run in parallel without seeing each other's scans or jobs.
 */
export async function createTestEnv(name: string): Promise<TestEnv> {
  const { runId, templateUrl, redisUrl, redisEnv } = inject('scanqTest');
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
  const prefix = `scanq-test-${runId}-${suffix}`;
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    // cluster / sentinel projects (vitest.config.ts): SCANQ_REDIS_MODE and its nodes.
    ...redisEnv,
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
    // The simulator answers in milliseconds: a create is cut after 1 s (the least allowed) and
    // one whose answer was lost is looked up soon after.
    SCANQ_CREATE_TIMEOUT_MS: '1000',
    SCANQ_CREATE_SETTLE_MS: '1500',
    SCANQ_WORKER_CONCURRENCY: '8',
    SCANQ_ADMIN_PASSWORD: 'test-admin-password',
    SCANQ_API_KEY: TEST_API_KEY,
    // Load shedding off: on this loaded machine a test process's loop may lag past a second (imports,
    // descheduling), and a 503 there would fail tests about something else. load.test.ts turns it on.
    SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '0',
    // Test files run side by side, several with 4–5 processes each: keep under Postgres's 100 connections.
    SCANQ_DB_POOL_MAX: '4',
    // Many workers share this host: no health/metrics port unless a test asks for one (freePort()).
    SCANQ_WORKER_HTTP_PORT: '0',
  };
  const redisTopology = loadConfig(env).redis;
  const testEnv: TestEnv = {
    databaseUrl,
    databaseName: dbName,
    redisUrl,
    redisTopology,
    prefix,
    keyspace: new RedisKeyspace(prefix),
    env,
    config: (overrides = {}) => loadConfig({ ...env, ...overrides }),
    cleanup: async () => {
      await deleteKeysByPrefix(redisTopology, prefix);
      // FORCE: a connection the file forgot to close must not keep its database alive.
      await onAdmin(databaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
    },
  };
  createdHere.push(testEnv);
  return testEnv;
}
