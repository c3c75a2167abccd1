import { loadConfig } from '@scanq/core';
import { ensureDatabase, migrate, pendingMigrations } from './migrate.js';

/**
 * `pnpm migrate` (image: `node dist/migrate.js`): create the database if needed and apply
 * prisma/migrations.
 * `--wait [--timeout-ms N]`: apply nothing; wait until every migration this build carries has
 * been applied by someone else (the Kubernetes migration Job), then exit 0; exit 1 after N ms
 * (default 600000). Pods run it as an init container, so a new version never starts on an old schema.
 */
const config = loadConfig();
const args = process.argv.slice(2);

if (args.includes('--wait')) {
  const at = args.indexOf('--timeout-ms');
  const timeoutMs = at >= 0 ? Number(args[at + 1]) : 600_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    console.error('migrate --wait: --timeout-ms must be a positive whole number of milliseconds');
    process.exit(2);
  }
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const pending = await pendingMigrations(config.databaseUrl);
      if (pending.length === 0) {
        console.log('migrations: all applied');
        process.exit(0);
      }
      last = `${pending.length} pending (${pending.join(', ')})`;
    } catch (err) {
      last = `database not reachable: ${(err as Error).message}`;
    }
    if (Date.now() > deadline) {
      console.error(`migrate --wait: gave up after ${timeoutMs} ms: ${last}`);
      process.exit(1);
    }
    console.log(`migrate --wait: ${last}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

try {
  if (await ensureDatabase(config.databaseUrl)) console.log('created database');
  const result = await migrate(config.databaseUrl, { log: (m) => console.log(m) });
  console.log(`migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);
} catch (err) {
  console.error(`migrate failed: ${(err as Error).message}`);
  process.exit(1);
}
