import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * `timestamp(3)` columns hold UTC (Prisma writes them so); node-postgres would read them as
 * local time. int8 ids come back as bigint, as Prisma returns them.
 */
const UTC_TIMESTAMP = 1114;
const INT8 = 20;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === UTC_TIMESTAMP) return (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
    if (oid === INT8) return (value: string) => BigInt(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * Plain SQL over the pool Prisma also uses, for the per-scan hot path. A Prisma model query
 * costs ≈ 0.4–0.5 ms of client CPU (query compiler + adapter), a node-postgres one ≈ 0.1 ms
 * (bench/RESULTS.md): the worker spent half its CPU in Prisma at ~50 scans/s.
 */
export class SqlClient {
  /** Statement text → its prepared-statement name. The texts are a fixed set (see `named`). */
  private readonly names = new Map<string, string>();

  /**
   * `prepared: false` sends every statement unnamed: for a pooler that does not keep
   * prepared statements per client (PgBouncer in transaction mode before 1.21).
   */
  constructor(
    readonly pool: pg.Pool,
    private readonly options: { prepared?: boolean } = {},
  ) {}

  async rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T & pg.QueryResultRow>(this.named(text, values))).rows;
  }

  async execute(text: string, values: unknown[] = []): Promise<number> {
    return (await this.pool.query(this.named(text, values))).rowCount ?? 0;
  }

  /**
   * Runs `fn` in one transaction on one connection; `tx` runs its statements there. READ
   * COMMITTED: each statement sees what committed before it began, so a row lock taken first
   * orders the statements after it behind any other holder of that row.
   */
  async transaction<T>(fn: (tx: Pick<SqlClient, 'rows' | 'execute'>) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const tx: Pick<SqlClient, 'rows' | 'execute'> = {
        rows: async <R>(text: string, values: unknown[] = []) => (await client.query<R & pg.QueryResultRow>(this.named(text, values))).rows,
        execute: async (text: string, values: unknown[] = []) => (await client.query(this.named(text, values))).rowCount ?? 0,
      };
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      // A connection that could not even roll back is dropped, not handed to the next caller.
      client.release(broken);
    }
  }

  /**
   * Hot-path statements run as named prepared statements: each connection parses and plans a
   * text once instead of on every call (≈ 1 ms of Postgres CPU for the completion statement).
   * Texts only vary by which columns a patch sets, so a connection holds a few dozen at most.
   */
  private named(text: string, values: unknown[]): pg.QueryConfig {
    if (this.options.prepared === false) return { text, values, types };
    let name = this.names.get(text);
    if (name === undefined) {
      name = `scanq_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      this.names.set(text, name);
    }
    return { name, text, values, types };
  }
}

/** Now as a `timestamp(3)` value the way Prisma writes them (UTC wall time), whatever the session's TimeZone. */
export const SQL_NOW = `timezone('UTC', now())`;

/** A UUID in text form: ids that are not one cannot match a uuid column (and would make it throw). */
export const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** JSON timestamps from `json_agg` of `timestamp(3)` columns, read as UTC like the columns. */
export function utcFromJson(value: string | null): Date | null {
  return value === null ? null : new Date(value.endsWith('Z') ? value : `${value}Z`);
}
