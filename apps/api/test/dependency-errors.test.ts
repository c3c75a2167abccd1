import { createServer, type Server, type Socket } from 'node:net';
import { dependencyOutage, DependencyUnavailableError } from '@scanq/core';
import { createDatabase } from '@scanq/db';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { freePort } from '../../../test/support/processes.js';

/**
 * dependencyOutage against the errors the real drivers throw (node-postgres, Prisma over the pg
 * adapter, ioredis, BullMQ): what an outage looks like is classified, and nothing else is.
 */

const caught = async (p: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
};

/** A TCP server that accepts and then does `behave` with each socket. */
async function fakeServer(behave: (s: Socket) => void): Promise<{ port: number; server: Server }> {
  const server = createServer(behave);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

describe('dependencyOutage', () => {
  let env: TestEnv;
  const servers: Server[] = [];
  let closedPort = 0;
  beforeAll(async () => {
    env = await createTestEnv('deperrors');
    closedPort = await freePort();
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    await env?.cleanup();
  });

  it('Postgres unreachable, through node-postgres and through Prisma', async () => {
    const database = createDatabase(`postgresql://postgres@127.0.0.1:${closedPort}/x`);
    try {
      expect(dependencyOutage(await caught(database.sql.rows('SELECT 1')))).toBe('postgres'); // ECONNREFUSED
      expect(dependencyOutage(await caught(database.db.scan.findMany({ take: 1 })))).toBe('postgres'); // P1001
      expect(dependencyOutage(await caught(database.db.$queryRaw`SELECT 1`))).toBe('postgres'); // P2010 wrapping DatabaseNotReachable
    } finally {
      await database.close();
    }
  });

  it('a connection cut or never answered: terminated unexpectedly, connection timeout', async () => {
    const slam = await fakeServer((s) => s.once('data', () => s.destroy()));
    const silent = await fakeServer(() => undefined);
    servers.push(slam.server, silent.server);
    for (const port of [slam.port, silent.port]) {
      const database = createDatabase(`postgresql://postgres@127.0.0.1:${port}/x`, { connectionTimeoutMs: 300 });
      try {
        expect(dependencyOutage(await caught(database.sql.rows('SELECT 1')))).toBe('postgres');
        expect(dependencyOutage(await caught(database.db.scan.count()))).toBe('postgres');
      } finally {
        await database.close();
      }
    }
  });

  it('a session the server terminates (57P01), raw and through Prisma; a statement error is no outage', async () => {
    const database = createDatabase(env.databaseUrl, { max: 1 });
    try {
      const admin = new pg.Client({ connectionString: env.databaseUrl });
      await admin.connect();
      try {
        const terminate = async () => {
          await new Promise((r) => setTimeout(r, 300));
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep%'`);
        };
        const [raw] = await Promise.all([caught(database.sql.rows('SELECT pg_sleep(10)')), terminate()]);
        expect((raw as { code?: string }).code).toBe('57P01');
        expect(dependencyOutage(raw)).toBe('postgres');
        const [viaPrisma] = await Promise.all([caught(database.db.$queryRaw`SELECT pg_sleep(10)`), terminate()]);
        expect(dependencyOutage(viaPrisma)).toBe('postgres');
      } finally {
        await admin.end();
      }
      expect(dependencyOutage(await caught(database.sql.rows('SELEC 1')))).toBeNull(); // 42601
      expect(dependencyOutage(await caught(database.db.$queryRaw`SELECT 1/0`))).toBeNull(); // 22012
      const account = { provider: 'aws' as const, name: 'dup', region: 'us-east-1', credentialRef: 'x', settings: {} };
      await database.db.cloudAccount.create({ data: account });
      expect(dependencyOutage(await caught(database.db.cloudAccount.create({ data: account })))).toBeNull(); // P2002
    } finally {
      await database.close();
    }
  });

  it('Redis: offline without a queue, out of retries, timed out, closed; BullMQ failing to add; a Redis reply error is no outage', async () => {
    const offline = new Redis(`redis://127.0.0.1:${closedPort}`, { enableOfflineQueue: false, retryStrategy: () => 1_000 });
    offline.on('error', () => undefined);
    const retries = new Redis(`redis://127.0.0.1:${closedPort}`, { maxRetriesPerRequest: 1, retryStrategy: () => 10 });
    retries.on('error', () => undefined);
    const mute = await fakeServer(() => undefined);
    servers.push(mute.server);
    const hung = new Redis(`redis://127.0.0.1:${mute.port}`, { commandTimeout: 300, enableReadyCheck: false });
    hung.on('error', () => undefined);
    const closed = new Redis(env.redisUrl);
    const live = new Redis(env.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    const queue = new Queue('outage-test', { connection: live, prefix: env.keyspace.tag('test') });
    try {
      expect(dependencyOutage(await caught(offline.get('k')))).toBe('redis');
      expect(dependencyOutage(await caught(retries.get('k')))).toBe('redis');
      expect(dependencyOutage(await caught(hung.get('k')))).toBe('redis');
      await closed.quit();
      expect(dependencyOutage(await caught(closed.get('k')))).toBe('redis');
      await queue.waitUntilReady();
      live.disconnect();
      expect(dependencyOutage(await caught(queue.add('x', {})))).toBe('redis');
      const other = new Redis(env.redisUrl);
      try {
        expect(dependencyOutage(await caught(other.call('NOSUCHCOMMAND')))).toBeNull();
      } finally {
        other.disconnect();
      }
    } finally {
      for (const r of [offline, retries, hung]) r.disconnect();
      await queue.close().catch(() => undefined);
    }
  });

  it("scanq's own give-up names its dependency; errors without a cause are no outage", () => {
    expect(dependencyOutage(new DependencyUnavailableError('redis'))).toBe('redis');
    expect(dependencyOutage(new Error('wrapped', { cause: new DependencyUnavailableError('postgres') }))).toBe('postgres');
    expect(dependencyOutage(new TypeError('x is undefined'))).toBeNull();
    expect(dependencyOutage('a string')).toBeNull();
    expect(dependencyOutage(null)).toBeNull();
  });
});
