/** What every benchmark section shares: its own database and queue prefix on the machine's servers, removed afterwards. */
import { pathToFileURL } from 'node:url';
import { ensureDatabase, migrate } from '@scanq/db';
import pg from 'pg';
import { deleteKeysByPrefix } from '../test/support/env.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface BenchStore {
  /** A migrated database of this section's own. */
  databaseUrl: string;
  /** Queue and quota key prefix (a Redis Cluster hash tag) of this section's own. */
  prefix: string;
  /** Drops the database and every Redis key under the prefix. */
  drop(): Promise<void>;
}

export async function createBenchStore(section: string, run: string): Promise<BenchStore> {
  const dbName = `scanq_bench_${run}_${section}`;
  const u = new URL(DATABASE_URL);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  await ensureDatabase(databaseUrl);
  await migrate(databaseUrl);
  const prefix = `{scanq-bench-${run}-${section}}`;
  return {
    databaseUrl,
    prefix,
    async drop() {
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await admin.end();
      await deleteKeysByPrefix(REDIS_URL, prefix);
    },
  };
}

/** Runs a section and prints its figures when its file is run directly (`pnpm exec tsx bench/<file>.ts`). */
export async function runWhenMain(moduleUrl: string, title: string, section: () => Promise<Record<string, string>>): Promise<void> {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  const figures = await section();
  console.log(`\nscanq bench: ${title} (${new Date().toISOString()})`);
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(48)} ${v}`);
  process.exit(0);
}

/** POSTs `count` scan requests (`body(i)`) to the API, `inFlight` at a time; any answer but 202 throws. */
export async function submitScans(apiUrl: string, headers: Record<string, string>, count: number, body: (i: number) => unknown, inFlight: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = next++;
        const res = await fetch(`${apiUrl}/v1/scans`, { method: 'POST', headers, body: JSON.stringify(body(i)) });
        if (res.status !== 202) throw new Error(`submit ${i}: ${res.status} ${await res.text()}`);
      }
    }),
  );
}

/** Waits until `count` scans of the section's database have ended; returns how many did not succeed. */
export async function waitForScansEnded(client: pg.Client, count: number, everyMs: number): Promise<number> {
  for (;;) {
    const { rows } = await client.query<{ done: string; unsucceeded: string }>(
      `SELECT count(*) FILTER (WHERE status IN ('succeeded','failed','cancelled')) AS done, count(*) FILTER (WHERE status <> 'succeeded') AS unsucceeded FROM "Scan"`,
    );
    if (Number(rows[0]!.done) >= count) return Number(rows[0]!.unsucceeded);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
