import pg from 'pg';

export interface TestServices {
  databaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

const LOCAL_DB = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

/** Is a Docker engine reachable (not just the client binary)? */
async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * REDIS_URL / DATABASE_URL when given; otherwise containers via testcontainers when Docker is
 * available; otherwise the local servers on their standard ports.
 */
export async function resolveServices(): Promise<TestServices> {
  const givenDb = process.env.DATABASE_URL;
  const givenRedis = process.env.REDIS_URL;
  if (givenDb && givenRedis) return { databaseUrl: givenDb, redisUrl: givenRedis, stop: async () => undefined };
  if (await dockerAvailable()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const { RedisContainer } = await import('@testcontainers/redis');
    const [pgC, redisC] = await Promise.all([
      givenDb ? null : new PostgreSqlContainer('postgres:16-alpine').start(),
      givenRedis ? null : new RedisContainer('redis:7-alpine').start(),
    ]);
    return {
      databaseUrl: givenDb ?? pgC!.getConnectionUri(),
      redisUrl: givenRedis ?? redisC!.getConnectionUrl(),
      stop: async () => {
        await Promise.all([pgC?.stop(), redisC?.stop()]);
      },
    };
  }
  return { databaseUrl: givenDb ?? LOCAL_DB, redisUrl: givenRedis ?? LOCAL_REDIS, stop: async () => undefined };
}

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

/** The run's template and every clone of it still on the server. */
export const runDatabases = (databaseUrl: string, runId: string): Promise<string[]> =>
  onAdmin(databaseUrl, async (c) => (await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`scanq_test_${runId}%`])).rows.map((r) => r.datname));

export async function dropRunDatabases(databaseUrl: string, runId: string): Promise<void> {
  const dbs = await runDatabases(databaseUrl, runId);
  await onAdmin(databaseUrl, async (client) => {
    // Clones first, the template last.
    for (const datname of dbs.sort((a, b) => b.length - a.length)) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  });
}
