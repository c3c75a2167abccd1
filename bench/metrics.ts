/**
 * Metrics scrape cost (`pnpm bench metrics`): how long a /metrics collect takes over a Scan table
 * with a long history. The first scrape of an API process tallies every finished scan once; the
 * ones after read only the open scans and the recent window (apps/api/src/metrics.ts). For
 * comparison, the same figures from the two whole-table queries a scrape used to run.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, simulatorAccountRequest } from '@scanq/core';
import { createRuntime } from '@scanq/scans';
import { ScanqMetrics } from '../apps/api/src/metrics.js';
import { benchEnv, createBenchStore, runWhenMain } from './support.js';

const FINISHED = Number(process.env.BENCH_METRICS_SCANS ?? 1_000_000);
const OPEN = Number(process.env.BENCH_METRICS_OPEN ?? 10_000);
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

const ms = (t0: number) => performance.now() - t0;

export async function benchMetrics(): Promise<Record<string, string>> {
  const store = await createBenchStore('metrics', run);
  const runtime = createRuntime(loadConfig({ ...benchEnv(store), LOG_LEVEL: 'silent' }));
  try {
    const account = await runtime.accounts.create(simulatorAccountRequest('aws', 0, 'http://127.0.0.1:9'));
    // A year of history in one statement: finished scans spread over 365 days, then a backlog.
    await runtime.sql.execute(
      `INSERT INTO "Scan" ("id", "provider", "accountId", "status", "target", "deadlineAt", "createdAt", "finishedAt", "updatedAt")
       SELECT gen_random_uuid(), 'aws', $1::uuid, (CASE WHEN n % 10 = 0 THEN 'failed' ELSE 'succeeded' END)::"ScanStatus", '{}', t.f, t.f - (n % 600) * interval '1 second', t.f, t.f
       FROM generate_series(1, $2::int) AS n,
            LATERAL (SELECT timezone('UTC', now()) - (n::float8 / $2::int) * interval '365 days' - interval '10 minutes' AS f) t`,
      [account.id, FINISHED],
    );
    await runtime.sql.execute(
      `INSERT INTO "Scan" ("id", "provider", "accountId", "status", "target", "deadlineAt", "updatedAt")
       SELECT gen_random_uuid(), 'aws', $1::uuid, 'queued', '{}', timezone('UTC', now()) + interval '1 day', timezone('UTC', now()) FROM generate_series(1, $2::int)`,
      [account.id, OPEN],
    );
    await runtime.sql.execute('ANALYZE "Scan"');

    // The two whole-table queries every scrape used to run (before the incremental tally).
    let t0 = performance.now();
    await runtime.sql.rows(`SELECT provider, status, count(*)::int FROM "Scan" GROUP BY 1, 2`);
    await runtime.sql.rows(
      `WITH d AS (SELECT provider, status, EXTRACT(EPOCH FROM ("finishedAt" - "createdAt"))::float8 AS s FROM "Scan"
                  WHERE "finishedAt" IS NOT NULL AND status IN ('succeeded', 'failed', 'cancelled'))
       SELECT d.provider, d.status, b.le, count(*) FILTER (WHERE d.s <= b.le)::int, count(*)::int, sum(d.s)
       FROM d CROSS JOIN (SELECT unnest(ARRAY[1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400]::float8[]) AS le) b GROUP BY 1, 2, 3`,
    );
    const wholeTable = ms(t0);

    const metrics = new ScanqMetrics(runtime);
    t0 = performance.now();
    await metrics.render();
    const first = ms(t0);
    const later: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      t0 = performance.now();
      await metrics.render();
      later.push(ms(t0));
    }
    later.sort((a, b) => a - b);
    return {
      'metrics: whole-table scrape queries (before)': `${wholeTable.toFixed(0)} ms (${FINISHED.toLocaleString('en')} finished + ${OPEN.toLocaleString('en')} open scans)`,
      'metrics: first scrape of a process': `${first.toFixed(0)} ms (tallies every finished scan once)`,
      'metrics: later scrapes (median of 5)': `${later[2]!.toFixed(0)} ms (open scans + the recent window; includes Redis and process metrics)`,
    };
  } finally {
    await runtime.close();
    await store.drop();
  }
}

await runWhenMain(import.meta.url, 'metrics scrape', benchMetrics);
