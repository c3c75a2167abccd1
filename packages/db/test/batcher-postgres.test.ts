import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { Batcher } from '@scanq/core';

/**
 * Group commit (core's Batcher, as the stream marks use it) against a real Postgres: concurrent callers share one statement and each gets its
 * own row's result; nothing is acknowledged before the statement committed; a failing statement
 * rejects every caller of its batch, and only them.
 */
describe('Batcher against Postgres (group commit)', () => {
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
  const batcher = (maxBatch: number, maxWaitMs: number) =>
    new Batcher<number, number>(async (items) => {
      statements.push(items);
      const { rows } = await pool.query<{ n: number; twice: number }>('INSERT INTO gc_rows (n) SELECT unnest($1::int[]) RETURNING n, n * 2 AS twice', [items]);
      const byN = new Map(rows.map((r) => [r.n, r.twice]));
      return items.map((n) => ({ ok: true, value: byN.get(n)! }));
    }, { maxBatch, maxInFlight: 4, maxWaitMs });

  const committed = async (ns: number[]) => (await pool.query<{ n: number }>('SELECT n FROM gc_rows WHERE n = ANY($1::int[]) ORDER BY n', [ns])).rows.map((r) => r.n);

  it('sends concurrent callers as one statement, each caller getting its own result once the rows are committed', async () => {
    statements.length = 0;
    const gc = batcher(100, 20);
    const ns = [1, 2, 3, 4, 5];
    const results = await Promise.all(
      ns.map(async (n) => {
        const twice = await gc.add(n);
        // Acknowledged: the row is visible to another connection, i.e. committed.
        expect(await committed([n])).toEqual([n]);
        return twice;
      }),
    );
    expect(results).toEqual([2, 4, 6, 8, 10]);
    expect(statements).toEqual([ns]);
  });

  it('flushes at maxBatch without waiting for the timer', async () => {
    statements.length = 0;
    const gc = batcher(3, 60_000);
    const results = await Promise.all([10, 11, 12, 13, 14, 15].map((n) => gc.add(n)));
    expect(results).toEqual([20, 22, 24, 26, 28, 30]);
    expect(statements).toEqual([[10, 11, 12], [13, 14, 15]]);
  });

  it('rejects every caller of a failing batch, commits none of its rows, and leaves the next batch alone', async () => {
    statements.length = 0;
    const gc = batcher(3, 60_000);
    // -1 breaks the CHECK constraint: its whole statement fails.
    const failing = [20, -1, 21].map((n) => gc.add(n).then(() => 'ok', (err: Error) => err.message));
    const next = [22, 23, 24].map((n) => gc.add(n));
    expect(await Promise.all(failing)).toEqual(Array(3).fill(expect.stringContaining('gc_rows_n_check')));
    expect(await Promise.all(next)).toEqual([44, 46, 48]);
    expect(await committed([20, 21, 22, 23, 24])).toEqual([22, 23, 24]);
  });
});
