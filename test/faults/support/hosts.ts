import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, type ScanqProcess, superviseProcess } from '../../support/processes.js';

const run = promisify(execFile);
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p));

/** Why network namespaces cannot be made here (null: they can): the many-hosts scenario's skip message. */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'making network namespaces needs root (ip netns add)';
  if (!IP) return 'no `ip` command (iproute2) on this machine';
  const probe = `scanq-probe-${randomBytes(3).toString('hex')}`;
  try {
    await run(IP, ['netns', 'add', probe]);
    await run(IP, ['netns', 'del', probe]);
    return null;
  } catch (err) {
    return `\`ip netns add\` failed here: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`;
  }
}

export interface Host {
  /** The network namespace: the host's own network stack. */
  ns: string;
  /** The host's address on the test network. */
  address: string;
  /** The veth end on the machine's side (in the bridge): down = the host is cut off. */
  link: string;
}

/**
 * Machines of a test's own: one network namespace per host, each joined by a veth pair to a
 * bridge on the machine, all on a private /24. The machine's side of the bridge (`.1`) is where
 * the shared servers (Redis, Postgres, the simulator) listen; each host gets `.11`, `.12`, ….
 * Cutting a host takes its veth end down on the machine's side: its packets go nowhere. Whatever
 * happens, `destroy()` (and, should the test process die first, an exit hook) deletes it all.
 */
export class NetnsHosts {
  private destroyed = false;
  private readonly onExit = () => this.destroySync();

  private constructor(
    readonly id: string,
    readonly bridge: string,
    readonly subnet: string,
    readonly machineAddress: string,
    readonly hosts: Host[],
  ) {
    process.once('exit', this.onExit);
  }

  static async create(count: number): Promise<NetnsHosts> {
    if (!IP) throw new Error('no ip command');
    const id = randomBytes(3).toString('hex');
    // A /24 of 10.231.0.0/16 picked at random, so two runs side by side rarely meet; checked free below.
    const third = randomBytes(1)[0]!;
    const prefix = `10.231.${third}`;
    const { stdout } = await run(IP, ['-4', 'addr']);
    if (stdout.includes(`${prefix}.`)) throw new Error(`${prefix}.0/24 is in use on this machine; run again`);
    const hosts = Array.from({ length: count }, (_, i) => ({ ns: `scanq-${id}-${i}`, address: `${prefix}.${11 + i}`, link: `sqh${id}${i}` }));
    const net = new NetnsHosts(id, `sqb${id}`, `${prefix}.0/24`, `${prefix}.1`, hosts);
    try {
      await net.ip('link', 'add', net.bridge, 'type', 'bridge');
      await net.ip('addr', 'add', `${net.machineAddress}/24`, 'dev', net.bridge);
      await net.ip('link', 'set', net.bridge, 'up');
      for (const [i, h] of hosts.entries()) {
        const inner = `sqn${id}${i}`;
        await net.ip('netns', 'add', h.ns);
        await net.ip('link', 'add', h.link, 'type', 'veth', 'peer', 'name', inner);
        await net.ip('link', 'set', inner, 'netns', h.ns);
        await net.ip('link', 'set', h.link, 'master', net.bridge);
        await net.ip('link', 'set', h.link, 'up');
        await net.ip('netns', 'exec', h.ns, IP, 'addr', 'add', `${h.address}/24`, 'dev', inner);
        await net.ip('netns', 'exec', h.ns, IP, 'link', 'set', inner, 'up');
        await net.ip('netns', 'exec', h.ns, IP, 'link', 'set', 'lo', 'up');
      }
    } catch (err) {
      net.destroySync();
      throw err;
    }
    return net;
  }

  private async ip(...args: string[]): Promise<void> {
    try {
      await run(IP!, args);
    } catch (err) {
      throw new Error(`ip ${args.join(' ')}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
  }

  /** Runs one of the project's entry points on host `index` (inside its namespace) as a real process; its stdin is a pipe (not the network: it reaches a cut host). */
  launch(index: number, name: string, script: string, env: Record<string, string>): ScanqProcess {
    const host = this.hosts[index]!;
    const child = spawn(IP!, ['netns', 'exec', host.ns, process.execPath, '--import', 'tsx', join(REPO_ROOT, script)], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    return superviseProcess(name, child);
  }

  /** Cuts host `index` off the network (its link down on the machine's side). */
  cut(index: number): Promise<void> {
    return this.ip('link', 'set', this.hosts[index]!.link, 'down');
  }

  /** Joins it again. */
  heal(index: number): Promise<void> {
    return this.ip('link', 'set', this.hosts[index]!.link, 'up');
  }

  async destroy(): Promise<void> {
    this.destroySync();
  }

  /** Deletes the namespaces (their veth ends go with them, and the peers) and the bridge; synchronous for the exit hook. */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const h of this.hosts) {
      for (const args of [['link', 'del', h.link], ['netns', 'del', h.ns]]) {
        try {
          execFileSync(IP!, args, { stdio: 'ignore' });
        } catch {
          // not made, or already gone
        }
      }
    }
    try {
      execFileSync(IP!, ['link', 'del', this.bridge], { stdio: 'ignore' });
    } catch {
      // not made
    }
  }
}
