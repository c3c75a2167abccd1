import { loadConfig } from '@scanq/core';
import { ensureDatabase, migrate } from './migrate.js';

// `pnpm migrate`: create the database if needed and apply prisma/migrations.
const config = loadConfig();
try {
  if (await ensureDatabase(config.databaseUrl)) console.log('created database');
  const result = await migrate(config.databaseUrl, { log: (m) => console.log(m) });
  console.log(`migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);
} catch (err) {
  console.error(`migrate failed: ${(err as Error).message}`);
  process.exit(1);
}
