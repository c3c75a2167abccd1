import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './processes.js';
import type { PostgresServer } from './servers.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
export const PGBOUNCER_BIN = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'].find((p) => existsSync(p));

export interface PgBouncerOptions {
  poolMode?: 'session' | 'transaction' | 'statement';
  /** Server connections per database/user pair: what Postgres sees, whatever the clients open. */
  defaultPoolSize: number;
  /** Hand out server connections round robin instead of the most recently used: a client's next transaction lands on another server connection. */
  roundRobin?: boolean;
}

/**
 * A pgbouncer of the test's own in front of a PostgresServer's `scanq` database, in a temp dir
 * (trust auth, user postgres). As root it runs as the `postgres` user: pgbouncer refuses root.
 */
export class PgBouncerServer {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly log: () => string,
  ) {}

  /** The `scanq` database through the bouncer. */
  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/scanq`;
  }

  /** The admin console (SHOW CLIENTS, SHOW POOLS): simple-protocol queries only. */
  get adminUrl(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/pgbouncer`;
  }

  static async start(postgres: PostgresServer, options: PgBouncerOptions): Promise<PgBouncerServer> {
    if (!PGBOUNCER_BIN) throw new Error('pgbouncer not installed');
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'scanq-test-pgbouncer-'));
    writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `scanq = host=127.0.0.1 port=${postgres.port} dbname=scanq`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        "unix_socket_dir = ''",
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        `pool_mode = ${options.poolMode ?? 'transaction'}`,
        `default_pool_size = ${options.defaultPoolSize}`,
        'reserve_pool_size = 0',
        'max_client_conn = 500',
        `server_round_robin = ${options.roundRobin ? 1 : 0}`,
        'admin_users = postgres',
        'ignore_startup_parameters = extra_float_digits,options',
        '',
      ].join('\n'),
    );
    if (isRoot) {
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, f), Number(uid.stdout.trim()), Number(gid.stdout.trim()));
    }
    const args = [join(dir, 'pgbouncer.ini')];
    const child = isRoot ? spawn('runuser', ['-u', 'postgres', '--', PGBOUNCER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(PGBOUNCER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out = (out + d.toString()).slice(-8000)));
    child.stderr?.on('data', (d) => (out = (out + d.toString()).slice(-8000)));
    const server = new PgBouncerServer(port, dir, child, () => out);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`pgbouncer exited (${child.exitCode}):\n${out}`);
      }
      if (await server.answers()) return server;
      if (Date.now() > deadline) {
        await server.destroy();
        throw new Error(`pgbouncer not ready on ${port}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  output(): string {
    return this.log();
  }

  private async answers(): Promise<boolean> {
    const c = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SHOW VERSION');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Rows of an admin console command (SHOW CLIENTS, SHOW POOLS …). */
  async show<R extends Record<string, unknown>>(command: string): Promise<R[]> {
    const c = new pg.Client({ connectionString: this.adminUrl });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query<R & pg.QueryResultRow>(command)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async destroy(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
      // runuser passes the signal on; SIGTERM: immediate shutdown.
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
