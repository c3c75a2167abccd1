import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { ensureDatabase, migrate } from '../../packages/db/src/migrate.js';
import { deleteKeysByPrefix, keysByPrefix } from './redis-keys.js';
import { dropRunDatabases, resolveServices, runDatabases } from './services.js';

/**
 * Once per test run: find Redis and Postgres (REDIS_URL/DATABASE_URL, else testcontainers
 * when a Docker engine answers, else the local servers), create this run's template database
 * and migrate it. Each test file then clones the template (createTestEnv), so runs and files
 * never collide.
 */
export default async function setup(project: TestProject) {
  const services = await resolveServices();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const templateName = `scanq_test_${runId}`;
  const templateUrl = withDatabase(services.databaseUrl, templateName);
  await ensureDatabase(templateUrl);
  await migrate(templateUrl);
  project.provide('scanqTest', { runId, databaseUrl: services.databaseUrl, redisUrl: services.redisUrl, templateUrl });
  return async () => {
    // Each file removes its own keys and database (leak-check.ts fails a file that does not);
    // what is left now outlived its file (a process still writing, a file that never finished).
    const keys = await keysByPrefix(services.redisUrl, `{scanq-test-${runId}-`);
    const clones = (await runDatabases(services.databaseUrl, runId)).filter((db) => db !== templateName);
    await dropRunDatabases(services.databaseUrl, runId);
    for (const prefix of new Set(keys.map((k) => k.slice(0, k.indexOf('}') + 1)))) await deleteKeysByPrefix(services.redisUrl, prefix);
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
    scanqTest: { runId: string; databaseUrl: string; redisUrl: string; templateUrl: string };
  }
}
