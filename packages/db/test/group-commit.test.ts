import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { GroupCommit } from '../src/index.js';

/**
 * Group commit against a real Postgres: concurrent callers share one statement and each gets its
 * own row's result; nothing is acknowledged before the statement committed; a failing statement
 * rejects every caller of its batch, and only them.
 */
describe('GroupCommit', () => {
  let env: TestEnv;
  let pool: pg.Pool;
  const statements: number[][] = [];

  beforeAll(async () => {
    env = await createTestEnv('groupcommit');
    pool = new pg.Pool({ connectionString: env.databaseUrl, max: 4 });
    await pool.query('CREATE TABLE gc_rows (n int PRIMARY KEY CHECK (n >= 0))');
  });
  afterAll(async () => {
    await pool?.end();
    await env?.cleanup();
  });

  /** Inserts the batch in one statement; each item's result is its row's doubled value, read back from Postgres. */
  const batcher = (maxSize: number, maxWaitMs: number) =>
    new GroupCommit<number, number>(async (items) => {
      statements.push(items);
      const { rows } = await pool.query<{ n: number; twice: number }>('INSERT INTO gc_rows (n) SELECT unnest($1::int[]) RETURNING n, n * 2 AS twice', [items]);
      const byN = new Map(rows.map((r) => [r.n, r.twice]));
      return items.map((n) => byN.get(n)!);
    }, { maxSize, maxWaitMs });

  const committed = async (ns: number[]) => (await pool.query<{ n: number }>('SELECT n FROM gc_rows WHERE n = ANY($1::int[]) ORDER BY n', [ns])).rows.map((r) => r.n);

  it('sends concurrent callers as one statement, each caller getting its own result once the rows are committed', async () => {
    statements.length = 0;
    const gc = batcher(100, 20);
    const ns = [1, 2, 3, 4, 5];
    const results = await Promise.all(
      ns.map(async (n) => {
        const twice = await gc.submit(n);
        // Acknowledged: the row is visible to another connection, i.e. committed.
        expect(await committed([n])).toEqual([n]);
        return twice;
      }),
    );
    expect(results).toEqual([2, 4, 6, 8, 10]);
    expect(statements).toEqual([ns]);
  });

  it('flushes at maxSize without waiting for the timer', async () => {
    statements.length = 0;
    const gc = batcher(3, 60_000);
    const results = await Promise.all([10, 11, 12, 13, 14, 15].map((n) => gc.submit(n)));
    expect(results).toEqual([20, 22, 24, 26, 28, 30]);
    expect(statements).toEqual([[10, 11, 12], [13, 14, 15]]);
  });

  it('rejects every caller of a failing batch, commits none of its rows, and leaves the next batch alone', async () => {
    statements.length = 0;
    const gc = batcher(3, 60_000);
    // -1 breaks the CHECK constraint: its whole statement fails.
    const failing = [20, -1, 21].map((n) => gc.submit(n).then(() => 'ok', (err: Error) => err.message));
    const next = [22, 23, 24].map((n) => gc.submit(n));
    expect(await Promise.all(failing)).toEqual(Array(3).fill(expect.stringContaining('gc_rows_n_check')));
    expect(await Promise.all(next)).toEqual([44, 46, 48]);
    expect(await committed([20, 21, 22, 23, 24])).toEqual([22, 23, 24]);
  });

  it('refuses a write that returns a result count other than its items', async () => {
    const gc = new GroupCommit<number, number>(async () => [1], { maxSize: 2, maxWaitMs: 0 });
    await expect(Promise.all([gc.submit(1), gc.submit(2)])).rejects.toThrow(/returned 1 results for 2 items/);
    expect(() => new GroupCommit(async () => [], { maxSize: 0, maxWaitMs: 1 })).toThrow(/maxSize/);
  });
});
