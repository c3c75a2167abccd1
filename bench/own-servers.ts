/**
 * `pnpm exec tsx bench/own-servers.ts [section…]`: the named bench sections (as `pnpm bench`)
 * against a Redis and a PostgreSQL of their own (fsync on, like a real server), started in temp
 * dirs and removed afterwards. On the shared machine this keeps other work's commits and
 * commands out of the counts: `INFO commandstats` is exact and no WAL flush queues behind
 * another run's.
 */
import { spawn } from 'node:child_process';
import { PostgresServer, RedisServer } from '../test/support/servers.js';

const redis = await RedisServer.start();
const postgres = await PostgresServer.create({ fsync: true });
let code = 1;
try {
  console.log(`own servers: ${redis.url}, ${postgres.adminUrl}`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, REDIS_URL: redis.url, DATABASE_URL: postgres.adminUrl },
  });
  code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
} finally {
  await redis.destroy();
  await postgres.destroy();
}
process.exit(code);
