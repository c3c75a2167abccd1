import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { ensureDatabase, migrate } from '../../packages/db/src/migrate.js';
import { dropRunDatabases, resolveServices } from './services.js';

/**
 * Once per test run: find Redis and Postgres (REDIS_URL/DATABASE_URL, else testcontainers
 * when a Docker engine answers, else the local servers), create this run's template database
 * and migrate it. Each test file then clones the template (createTestEnv), so runs and files
 * never collide.
 */
export default async function setup(project: TestProject) {
  const services = await resolveServices();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const templateUrl = withDatabase(services.databaseUrl, `scanq_test_${runId}`);
  await ensureDatabase(templateUrl);
  await migrate(templateUrl);
  project.provide('scanqTest', { runId, databaseUrl: services.databaseUrl, redisUrl: services.redisUrl, templateUrl });
  return async () => {
    await dropRunDatabases(services.databaseUrl, runId);
    await services.stop();
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
