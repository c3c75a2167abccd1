import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './processes.js';

/**
 * Redis topologies of a test's own, in temp dirs, on free loopback ports: a Redis Cluster (3
 * masters, optionally one replica each) and a Sentinel group (1 master, 1 replica, 3 sentinels).
 * They are driven with redis-cli (the admin side: no scanq code), and each exposes the
 * environment that points scanq at it (SCANQ_REDIS_MODE and friends).
 */

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One redis-server (or sentinel) process; killed at test-process exit should nothing else stop it. */
class RedisProcess {
  child: ChildProcess | undefined;
  private out = '';
  constructor(
    readonly port: number,
    readonly args: string[],
  ) {}

  get running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', () => undefined);
    child.stdout?.on('data', (d) => (this.out = (this.out + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d) => (this.out = (this.out + d.toString()).slice(-4000)));
    this.child = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited (${child.exitCode}):\n${this.out}`);
      if ((await cli(this.port, 'PING').catch(() => '')) === 'PONG') return;
      if (Date.now() > deadline) throw new Error(`redis-server not ready on ${this.port}:\n${this.out}`);
      await sleep(100);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }
}

/** One redis-cli command against a loopback port; answers its trimmed output. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

/** The pid of the redis-server on `port` (to freeze it with SIGSTOP: a replica that stops acknowledging). */
export async function serverPid(port: number): Promise<number> {
  const m = /process_id:(\d+)/.exec(await cli(port, 'INFO', 'server'));
  if (!m) throw new Error(`no process_id in INFO server of ${port}`);
  return Number(m[1]);
}

const reapable = new Set<{ reap(): void }>();
let reapOnExit = false;
function track(t: { reap(): void }): void {
  reapable.add(t);
  if (reapOnExit) return;
  reapOnExit = true;
  process.once('exit', () => {
    for (const x of reapable) x.reap();
  });
}

abstract class Topology {
  protected readonly processes: RedisProcess[] = [];
  constructor(readonly dir: string) {
    track(this);
  }

  /** Environment that points scanq at this topology. */
  abstract readonly env: Record<string, string>;

  async destroy(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill()));
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    reapable.delete(this);
  }

  reap(): void {
    for (const p of this.processes) if (p.running) p.child?.kill('SIGKILL');
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // best effort while the process exits
    }
  }
}

export interface ClusterNode {
  port: number;
  id: string;
  role: 'master' | 'replica';
  /** The master's id, for a replica. */
  masterId?: string;
  /** Slot ranges a master serves. */
  slots: [number, number][];
}

/** A Redis Cluster: 3 masters (slots spread by redis-cli), with `replicas` replicas each. */
export class RedisClusterTopology extends Topology {
  private constructor(
    dir: string,
    readonly ports: number[],
  ) {
    super(dir);
  }

  get env(): Record<string, string> {
    return { SCANQ_REDIS_MODE: 'cluster', SCANQ_REDIS_NODES: this.ports.map((p) => `127.0.0.1:${p}`).join(','), REDIS_URL: this.url };
  }

  /** A standalone-style URL to the first node (what a deployment without cluster mode would use). */
  get url(): string {
    return `redis://127.0.0.1:${this.ports[0]}`;
  }

  static async start(options: { replicas?: 0 | 1 } = {}): Promise<RedisClusterTopology> {
    const replicas = options.replicas ?? 0;
    const count = 3 * (1 + replicas);
    const ports: number[] = [];
    const busPorts: number[] = [];
    // Bus ports chosen apart: the default (port + 10000) may be past 65535 for an ephemeral port.
    while (ports.length < count) {
      const [p, b] = [await freePort(), await freePort()];
      if (p === b || ports.includes(p) || busPorts.includes(b) || ports.includes(b) || busPorts.includes(p)) continue;
      ports.push(p);
      busPorts.push(b);
    }
    const topo = new RedisClusterTopology(mkdtempSync(join(tmpdir(), 'scanq-test-cluster-')), ports);
    try {
      for (let i = 0; i < count; i++) {
        const dir = join(topo.dir, String(ports[i]));
        mkdirSync(dir);
        const p = new RedisProcess(ports[i]!, [
          '--port', String(ports[i]), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]),
          '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--dir', dir,
        ]);
        topo.processes.push(p);
      }
      await Promise.all(topo.processes.map((p) => p.start()));
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 60_000 });
      await topo.waitHealthy();
    } catch (err) {
      await topo.destroy();
      throw err;
    }
    return topo;
  }

  /** Until every node says cluster_state:ok and sees the full set of nodes, and every replica is in sync. */
  async waitHealthy(deadlineMs = 60_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const states = await Promise.all(
        this.processes.filter((p) => p.running).map(async (p) => {
          const info = await cli(p.port, 'CLUSTER', 'INFO').catch(() => '');
          return /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${this.ports.length}\\b`).test(info);
        }),
      );
      if (states.every(Boolean)) {
        const nodes = await this.nodes();
        // Replicas in sync too: a quota grant WAITs for one (SCANQ_REDIS_WAIT_REPLICAS).
        const replicasUp = await Promise.all(nodes.filter((n) => n.role === 'replica').map(async (n) => /master_link_status:up/.test(await cli(n.port, 'INFO', 'replication').catch(() => ''))));
        if (nodes.filter((n) => n.role === 'master').length === 3 && nodes.length === this.ports.length && replicasUp.every(Boolean)) return;
      }
      if (Date.now() > deadline) throw new Error(`cluster on ${this.ports.join(',')} not healthy within ${deadlineMs} ms`);
      await sleep(200);
    }
  }

  /** CLUSTER NODES as one node sees it. */
  async nodes(): Promise<ClusterNode[]> {
    const text = await cli(this.ports[0]!, 'CLUSTER', 'NODES');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [id, addr, flags, master, , , , , ...ranges] = line.split(' ') as [string, string, string, string, ...string[]];
        const port = Number(addr.split('@')[0]!.split(':')[1]);
        const role = flags.includes('master') ? ('master' as const) : ('replica' as const);
        const slots = ranges.filter((r) => /^\d/.test(r)).map((r) => (r.includes('-') ? (r.split('-').map(Number) as [number, number]) : ([Number(r), Number(r)] as [number, number])));
        return { id, port, role, slots, ...(role === 'replica' ? { masterId: master } : {}) };
      });
  }

  /** The port of a replica of the master that serves `key`. */
  async replicaPortFor(key: string): Promise<number> {
    const nodes = await this.nodes();
    const slot = Number(await cli(this.ports[0]!, 'CLUSTER', 'KEYSLOT', key));
    const owner = nodes.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
    const replica = nodes.find((n) => n.role === 'replica' && n.masterId === owner?.id);
    if (!replica) throw new Error(`no replica serves ${key} (start the cluster with replicas: 1)`);
    return replica.port;
  }

  async masterPorts(): Promise<number[]> {
    return (await this.nodes()).filter((n) => n.role === 'master').map((n) => n.port);
  }

  /**
   * Promotes a replica with CLUSTER FAILOVER (a coordinated switch, as a managed service's planned
   * failover does): the replica of the master serving `key` when given. Answers the ports.
   */
  async failover(key?: string): Promise<{ promoted: number; demoted: number }> {
    const nodes = await this.nodes();
    const slot = key === undefined ? undefined : Number(await cli(this.ports[0]!, 'CLUSTER', 'KEYSLOT', key));
    const owner = slot === undefined ? undefined : nodes.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
    const replica = nodes.find((n) => n.role === 'replica' && (owner === undefined || n.masterId === owner.id));
    if (!replica) throw new Error('cluster has no replica to promote (start it with replicas: 1)');
    const demoted = nodes.find((n) => n.id === replica.masterId)!.port;
    await cli(replica.port, 'CLUSTER', 'FAILOVER');
    // The command only starts the switch: done once the cluster names the replica master.
    const deadline = Date.now() + 60_000;
    while ((await this.nodes().catch(() => [])).find((n) => n.port === replica.port)?.role !== 'master') {
      if (Date.now() > deadline) throw new Error(`replica ${replica.port} not promoted within 60 s`);
      await sleep(100);
    }
    return { promoted: replica.port, demoted };
  }
}

/** A Sentinel group: 1 master, 1 replica, 3 sentinels monitoring master name `mymaster` (quorum 2). */
export class RedisSentinelTopology extends Topology {
  static readonly MASTER_NAME = 'scanq-test-master';
  private constructor(
    dir: string,
    readonly dataPorts: number[],
    readonly sentinelPorts: number[],
  ) {
    super(dir);
  }

  get env(): Record<string, string> {
    return {
      SCANQ_REDIS_MODE: 'sentinel',
      SCANQ_REDIS_SENTINELS: this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      SCANQ_REDIS_SENTINEL_MASTER: RedisSentinelTopology.MASTER_NAME,
      REDIS_URL: `redis://127.0.0.1:${this.dataPorts[0]}`,
    };
  }

  static async start(): Promise<RedisSentinelTopology> {
    const dataPorts = [await freePort(), await freePort()];
    const sentinelPorts = [await freePort(), await freePort(), await freePort()];
    const topo = new RedisSentinelTopology(mkdtempSync(join(tmpdir(), 'scanq-test-sentinel-')), dataPorts, sentinelPorts);
    try {
      const [master, replica] = dataPorts as [number, number];
      // A demoted master rejoins by a full sync: start it at once instead of after the default 5 s
      // diskless-sync delay. Quota grants wait for a replica (WAIT), so this is 5 s of their pause.
      const data = (port: number, extra: string[]) =>
        new RedisProcess(port, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0', '--dir', topo.dir, ...extra]);
      topo.processes.push(data(master, []), data(replica, ['--replicaof', '127.0.0.1', String(master)]));
      await Promise.all(topo.processes.map((p) => p.start()));
      for (const port of sentinelPorts) {
        const conf = join(topo.dir, `sentinel-${port}.conf`);
        writeFileSync(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${topo.dir}`,
            `sentinel monitor ${RedisSentinelTopology.MASTER_NAME} 127.0.0.1 ${master} 2`,
            `sentinel down-after-milliseconds ${RedisSentinelTopology.MASTER_NAME} 2000`,
            `sentinel failover-timeout ${RedisSentinelTopology.MASTER_NAME} 10000`,
            '',
          ].join('\n'),
        );
        const s = new RedisProcess(port, [conf, '--sentinel']);
        topo.processes.push(s);
        await s.start();
      }
      await topo.waitHealthy();
    } catch (err) {
      await topo.destroy();
      throw err;
    }
    return topo;
  }

  /** The master's port as the sentinels name it. */
  async masterPort(): Promise<number> {
    const out = await cli(this.sentinelPorts[0]!, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', RedisSentinelTopology.MASTER_NAME);
    return Number(out.split('\n')[1]);
  }

  /** The replica's port (the data node the sentinels do not name master). */
  async replicaPort(): Promise<number> {
    const master = await this.masterPort();
    return this.dataPorts.find((p) => p !== master)!;
  }

  /** Until the replica is in sync and every sentinel knows the others and the replica. */
  async waitHealthy(deadlineMs = 60_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const master = await this.masterPort().catch(() => 0);
      const repl = master ? await cli(master, 'INFO', 'replication').catch(() => '') : '';
      const sentinels = await Promise.all(
        this.sentinelPorts.map(async (p) => {
          const info = await cli(p, 'SENTINEL', 'MASTER', RedisSentinelTopology.MASTER_NAME).catch(() => '');
          const lines = info.split('\n');
          const field = (name: string) => lines[lines.indexOf(name) + 1];
          return field('num-other-sentinels') === '2' && field('num-slaves') === '1' && field('flags') === 'master';
        }),
      );
      if (/connected_slaves:1/.test(repl) && /state=online/.test(repl) && sentinels.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`sentinel group not healthy within ${deadlineMs} ms`);
      await sleep(200);
    }
  }

  /** SENTINEL FAILOVER: the replica becomes master; answers the old and new master ports. */
  async failover(): Promise<{ promoted: number; demoted: number }> {
    const demoted = await this.masterPort();
    await cli(this.sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', RedisSentinelTopology.MASTER_NAME);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = await this.masterPort().catch(() => demoted);
      if (now !== demoted) return { promoted: now, demoted };
      if (Date.now() > deadline) throw new Error('sentinel failover did not switch the master within 60 s');
      await sleep(100);
    }
  }
}
