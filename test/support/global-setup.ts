import { randomBytes } from 'node:crypto';
import { loadConfig } from '@scanq/core';
import type { TestProject } from 'vitest/node';
import { ensureDatabase, migrate } from '../../packages/db/src/migrate.js';
import { deleteKeysByPrefix, keysMatching } from './redis-keys.js';
import { dropRunDatabases, resolveServices, runDatabases } from './services.js';
import { RedisClusterTopology, RedisSentinelTopology } from './topologies.js';

/**
 * Once per test run (per project): find Redis and Postgres (REDIS_URL/DATABASE_URL, else
 * testcontainers when a Docker engine answers, else the local servers), create this run's
 * template database and migrate it. Each test file then clones the template (createTestEnv), so
 * runs and files never collide. The `cluster` and `sentinel` projects start a Redis topology of
 * their own (test/support/topologies.ts) and point every test env at it.
 */
export default async function setup(project: TestProject) {
  const services = await resolveServices();
  const topology = project.name === 'cluster' ? await RedisClusterTopology.start({ replicas: 1 }) : project.name === 'sentinel' ? await RedisSentinelTopology.start() : undefined;
  const redisEnv: Record<string, string> = topology?.env ?? {};
  const redisUrl = redisEnv.REDIS_URL ?? services.redisUrl;
  const redisTopology = loadConfig({ REDIS_URL: redisUrl, ...redisEnv }).redis;
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const templateName = `scanq_test_${runId}`;
  const templateUrl = withDatabase(services.databaseUrl, templateName);
  await ensureDatabase(templateUrl);
  await migrate(templateUrl);
  project.provide('scanqTest', { runId, databaseUrl: services.databaseUrl, redisUrl, redisEnv, templateUrl });
  return async () => {
    // Each file removes its own keys and database (leak-check.ts fails a file that does not);
    // what is left now outlived its file (a process still writing, a file that never finished).
    const keys = await keysMatching(redisTopology, `{scanq-test-${runId}-*`);
    const clones = (await runDatabases(services.databaseUrl, runId)).filter((db) => db !== templateName);
    await dropRunDatabases(services.databaseUrl, runId);
    for (const base of new Set(keys.map((k) => k.slice(1, k.indexOf(':'))))) await deleteKeysByPrefix(redisTopology, base);
    await topology?.destroy();
    await services.stop();
    if (keys.length || clones.length) {
      // A teardown that throws does not fail a vitest run; the exit code does.
      console.error(`\ntest run left behind ${keys.length} Redis key(s) (${keys.slice(0, 5).join(', ')}) and ${clones.length} database(s) (${clones.join(', ')})`);
      process.exitCode = 1;
    }
  };
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** redisEnv: SCANQ_REDIS_MODE and its nodes for the cluster/sentinel projects ({} on standalone). */
    scanqTest: { runId: string; databaseUrl: string; redisUrl: string; redisEnv: Record<string, string>; templateUrl: string };
  }
}
