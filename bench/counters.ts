/**
 * Round trips and CPU a bench run cost, counted by the servers and the kernel rather than by
 * scanq: Postgres transactions and rows of one database (pg_stat_database), Redis commands
 * (INFO commandstats, server-wide: exact only on a Redis of the bench's own), CPU ticks of
 * processes (/proc/<pid>/stat) including the Postgres backends serving one database.
 */
import { readFileSync } from 'node:fs';
import { createRedis } from '@scanq/queue';
import pg from 'pg';

/** Kernel clock ticks per second (USER_HZ); 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

export type Counts = Record<string, number>;

export function delta(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) out[k] = v - (before[k] ?? 0);
  return out;
}

/**
 * A database's transaction and row counters, read on a fresh connection to `postgres`. Backends
 * publish their counts when idle (at most once a second) and when they exit: read "after" once
 * the run's connections are closed.
 */
export async function pgDatabaseCounts(adminUrl: string, dbName: string): Promise<Counts> {
  const u = new URL(adminUrl);
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>(
      'SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched, tup_returned FROM pg_stat_database WHERE datname = $1',
      [dbName],
    );
    return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
  } finally {
    await client.end();
  }
}

/** Redis commands executed so far by name (commands inside Lua scripts included), plus the server's CPU seconds. */
export async function redisCounts(url: string): Promise<Counts> {
  const redis = createRedis(url);
  try {
    const out: Counts = {};
    for (const line of (await redis.info('commandstats')).split('\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
      if (m) out[m[1]!] = Number(m[2]);
    }
    const cpu = await redis.info('cpu');
    out['~cpu_s'] = ['used_cpu_sys', 'used_cpu_user'].reduce((s, k) => s + Number(new RegExp(`${k}:([\\d.]+)`).exec(cpu)?.[1] ?? 0), 0);
    return out;
  } finally {
    redis.disconnect();
  }
}

/** CPU milliseconds a process has used (user + system), 0 once it is gone. */
export function processCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU ms of every backend now connected to `dbName`, by pid (the local server only). */
export async function pgBackendCpuMs(adminUrl: string, dbName: string): Promise<Map<number, number>> {
  const u = new URL(adminUrl);
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName]);
    return new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)]));
  } finally {
    await client.end();
  }
}

/** CPU the backends used between two readings (a backend new since `before` counts from 0). */
export function backendCpuDelta(after: Map<number, number>, before: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

/** The `n` largest counts, as "name value" per scan. */
export function topPerScan(counts: Counts, scans: number, n: number): string {
  return Object.entries(counts)
    .filter(([k, v]) => !k.startsWith('~') && v > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${(v / scans).toFixed(2)}`)
    .join(', ');
}
