import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/wait.js';
import type { ScanqProcess } from '../support/processes.js';
import { NetnsHosts, netnsUnavailable } from './support/hosts.js';

const skipReason = await netnsUnavailable();
/** How long after the link is back a request the host's kernel still held would have arrived (its retransmissions back off to seconds). */
const DELIVERY_WINDOW_MS = 15_000;
/** Longer than the network itself holds a packet that left (the neighbour queue: 3 probes 1 s apart). */
const NETWORK_HOLD_MS = 5_000;

/**
 * Why a create call needs a hard end that resets its connection (CallDeadline), on a real
 * network stack: a host writes a create while its link is cut, its call times out, and the link
 * comes back. A request the SDK's own timeout destroyed (a plain close) is still delivered by the
 * host's kernel once the link is back, seconds later: after a retry elsewhere may have created
 * the task. One cut off by its CallDeadline never arrives once the network has dropped what had
 * already left (SCANQ_CREATE_SETTLE_MS leaves 10 s after the deadline for that). The cloud here is an HTTP server on
 * the machine's side that records every request it receives.
 */
describe.skipIf(skipReason !== null)(`fault: a create written while its host's link is cut${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let net: NetnsHosts;
  let cloud: Server;
  let host: ScanqProcess;
  const received: string[] = [];
  let lines: string[] = [];

  const command = async (line: string): Promise<string> => {
    const seen = lines.length;
    host.child.stdin!.write(`${line}\n`);
    const word = line.split(' ')[0]!;
    return waitFor(async () => lines.slice(seen).find((l) => l.startsWith(`done ${word} `)), { timeoutMs: 30_000, intervalMs: 50, what: `the host to finish "${line}"` });
  };

  /** Cuts the link, sends `mode` on the warm connection, waits for the call to end on the host, joins the link again; then how many of it the cloud got in the window. */
  const createOverCut = async (mode: 'deadline' | 'plain'): Promise<{ outcome: string; delivered: number }> => {
    const path = `/create-${mode}`;
    expect(await command('warm')).toBe('done warm 200');
    await net.cut(0);
    const outcome = await command(`${mode} ${path}`);
    // What already left the socket may sit in the network a little longer (here the host's ARP
    // queue holds packets up to ~3 s while its neighbour is unreachable): no sender can recall
    // that, so the link comes back only after it (the settle time leaves 10 s for it).
    await new Promise((resolve) => setTimeout(resolve, NETWORK_HOLD_MS));
    await net.heal(0);
    const count = () => received.filter((r) => r === `POST ${path}`).length;
    // Wait for it the whole window (what must not arrive may arrive late), or until it came.
    await waitFor(async () => (count() > 0 ? true : undefined), { timeoutMs: DELIVERY_WINDOW_MS, intervalMs: 100, what: `${path} to arrive` }).catch(() => undefined);
    return { outcome, delivered: count() };
  };

  beforeAll(async () => {
    net = await NetnsHosts.create(1);
    cloud = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    // Idle connections stay open through the cut (Node's default closes them after 5 s).
    cloud.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => cloud.listen(0, net.machineAddress, resolve));
    const target = `http://${net.machineAddress}:${(cloud.address() as { port: number }).port}`;
    host = net.launch(0, 'cut-link-host', 'test/faults/support/cut-link-create.ts', { CUT_LINK_TARGET: target });
    host.child.stdout!.on('data', (d: Buffer) => (lines = lines.concat(d.toString().split('\n').filter(Boolean))));
    await waitFor(async () => (lines.includes('ready') ? true : undefined), { timeoutMs: 60_000, intervalMs: 100, what: 'the host process to start' });
  }, 120_000);

  afterAll(async () => {
    await net?.heal(0).catch(() => undefined);
    await host?.stop();
    cloud?.closeAllConnections();
    await new Promise<void>((resolve) => (cloud ? cloud.close(() => resolve()) : resolve()));
    await net?.destroy();
  });

  it('a create cut at its CallDeadline never reaches the cloud; one only timed out by its request timeout does, once the link is back', async () => {
    onTestFailed(() => console.log(host.output(), received));
    const guarded = await createOverCut('deadline');
    expect(guarded.outcome).toBe('done deadline CallDeadline');
    expect(guarded.delivered, 'the create cut at its deadline arrived after the link came back').toBe(0);

    // The hazard the deadline closes, on this same stack: without it the kernel delivers the create late.
    const plain = await createOverCut('plain');
    expect(plain.outcome).toBe('done plain timed out');
    expect(plain.delivered, 'a plain-closed create was not delivered after the cut: the control did not show the hazard on this stack').toBe(1);
  }, 120_000);
});
