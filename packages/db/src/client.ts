import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';
import { SqlClient } from './sql.js';
import { tracePool } from './traced-pool.js';

export type Db = PrismaClient;

/** Prisma client over node-postgres: no native query engine needed. */
export function createDb(databaseUrl: string, options: { max?: number } = {}): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.max ?? 10 });
  return new PrismaClient({ adapter });
}

export interface Database {
  /** Prisma: every query but the per-scan hot path. */
  db: Db;
  /** Plain SQL on the same pool: the hot path (see SqlClient). */
  sql: SqlClient;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  max?: number;
  prepared?: boolean;
  /** Longest wait for a connection (a new one, or a free one of the pool) before the query fails. Unset: no bound. */
  connectionTimeoutMs?: number;
  /** An idle connection failed (server shut down, network cut): the pool drops it and opens another when asked. */
  onIdleError?: (err: Error) => void;
  /** Every statement a span (tracing on); unset: the pool is left untouched. */
  traced?: boolean;
}

/** One pool shared by Prisma and the hot path, so SCANQ_DB_POOL_MAX bounds both. */
export function createDatabase(databaseUrl: string, options: DatabaseOptions = {}): Database {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.max ?? 10, ...(options.connectionTimeoutMs ? { connectionTimeoutMillis: options.connectionTimeoutMs } : {}) });
  // Without a listener an idle connection's error (Postgres restarting: 57P01) would crash the process.
  pool.on('error', (err) => options.onIdleError?.(err));
  // The pool listens only while a connection is idle. One that is checked out (a transaction
  // between statements, Prisma's interactive transactions) and told 57P01 by a stopping server
  // emits 'error' with no listener: an uncaught exception that killed workers in the Postgres
  // outage test. The holder hears of it from its next statement, and the pool drops the
  // connection on release (no longer queryable), so this listener only has to be there.
  pool.on('connect', (client) => client.on('error', () => undefined));
  if (options.traced) tracePool(pool);
  const db = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    db,
    sql: new SqlClient(pool, { prepared: options.prepared ?? true }),
    async close() {
      await db.$disconnect();
      await pool.end();
    },
  };
}
