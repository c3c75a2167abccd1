/**
 * `pnpm exec tsx bench/own-servers.ts [section…]`: the named bench sections (as `pnpm bench`)
 * against a Redis and a PostgreSQL of their own (fsync on, like a real server), started in temp
 * dirs and removed afterwards. On the shared machine this keeps other work's commits and
 * commands out of the counts: `INFO commandstats` is exact and no WAL flush queues behind
 * another run's.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresServer, RedisServer } from '../test/support/servers.js';

/** BENCH_PG_STATEMENTS=1: pg_stat_statements on, its top statements by total time printed at the end. */
const STATEMENTS = process.env.BENCH_PG_STATEMENTS === '1';

const redis = await RedisServer.start();
const postgres = await PostgresServer.create({ fsync: true });
let code = 1;
try {
  if (STATEMENTS) {
    await postgres.stop();
    appendFileSync(join(postgres.dataDir, 'postgresql.conf'), "\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = 'all'\n");
    await postgres.start();
    await query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  }
  console.log(`own servers: ${redis.url}, ${postgres.adminUrl}`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, REDIS_URL: redis.url, DATABASE_URL: postgres.adminUrl },
  });
  code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  if (STATEMENTS) {
    const rows = await query(
      `SELECT calls, round(total_exec_time)::int AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, rows, shared_blks_hit AS hits,
              left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
         FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25`,
    );
    console.log('\npg_stat_statements, top 25 by total time:');
    for (const r of rows) console.log(`  ${String(r.calls).padStart(7)} calls ${String(r.total_ms).padStart(7)} ms ${String(r.mean_ms).padStart(8)} ms/call ${String(r.rows).padStart(8)} rows ${String(r.hits).padStart(9)} hits  ${r.query}`);
  }
} finally {
  await redis.destroy();
  await postgres.destroy();
}
process.exit(code);

async function query(text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: postgres.adminUrl });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}
