import { PROVIDERS } from '@scanq/core';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { key, parseExposition } from '../../apps/api/test/exposition.js';
import { waitFor } from '../support/wait.js';
import { openScans, waitAllMoved, waitAllTerminal } from './support/figures.js';
import { judge } from './support/judge.js';
import { NetnsHosts, netnsUnavailable } from './support/hosts.js';
import { ScanTargets, SubmitLog, submitBurst } from './support/load.js';
import { createCalls } from './support/samplers.js';
import { processOutput, type Stack, startStack } from './support/stack.js';

const HOSTS = 3;
/** Every host's worker serves its health/metrics port on its own address (each namespace has its own ports). */
const WORKER_HTTP_PORT = 9464;
const skipReason = await netnsUnavailable();

/**
 * Workers on separate hosts — one network namespace each, joined to the machine by a veth pair
 * on a private /24 — against one Redis, one Postgres and the simulator (all the scenario's own,
 * listening on the machine's side). Mid-scan one host is cut off the network: the other hosts
 * take over its jobs once its locks lapse; quotas stay global (the cloud's counters), no scan is
 * lost, no cloud task is started twice. Then the cut host joins again, carrying the stale
 * attempts it held, and must not start anything twice either.
 */
describe.skipIf(skipReason !== null)(`fault: a worker host cut off the network mid-scan${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let net: NetnsHosts;
  let stack: Stack;
  const metricsUrl = (i: number) => `http://${net.hosts[i]!.address}:${WORKER_HTTP_PORT}`;
  const activeJobs = async (i: number): Promise<number> => {
    const m = parseExposition(await (await fetch(`${metricsUrl(i)}/metrics`, { signal: AbortSignal.timeout(5_000) })).text());
    return PROVIDERS.reduce((sum, q) => sum + (m.get(key('scanq_worker_active_jobs', { queue: q })) ?? 0), 0);
  };

  beforeAll(async () => {
    net = await NetnsHosts.create(HOSTS);
    stack = await startStack({
      workers: HOSTS,
      env: { SCANQ_WORKER_HTTP_HOST: '0.0.0.0', SCANQ_WORKER_HTTP_PORT: String(WORKER_HTTP_PORT) },
      network: { machineAddress: net.machineAddress, subnet: net.subnet, launchWorker: (n, name, env) => net.launch(n % HOSTS, `${name}@${net.hosts[n % HOSTS]!.address}`, 'apps/worker/src/main.ts', env) },
    });
    // Scans that take a while at the cloud, so the cut host holds polls as well as starts.
    for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 4000 });
    for (let i = 0; i < HOSTS; i++)
      await waitFor(async () => ((await fetch(`${metricsUrl(i)}/readyz`).catch(() => null))?.status === 200 ? true : undefined), { timeoutMs: 90_000, intervalMs: 250, what: `the worker on host ${i} to be ready` }).catch((err: unknown) => {
        console.log(processOutput(stack));
        throw err;
      });
  }, 240_000);

  afterAll(async () => {
    // Heal first: a worker cut off would sit out SIGTERM on its dead connections until the grace passes.
    await net?.heal(0).catch(() => undefined);
    await stack?.close();
    await net?.destroy();
  });

  it('the other hosts take over its jobs: none lost, no cloud task twice, quotas global', async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    const targets = await ScanTargets.load(stack);
    const log = new SubmitLog();
    // More Alibaba scans than its 10 slots and a Tencent burst paced across three hosts.
    await submitBurst(stack, targets, log, { aws: 6, alibaba: 24, tencent: 40, huawei: 6 });
    const total = log.accepted.length;

    // Mid-scan: a quarter of the tasks created, and the host to be cut holding jobs (its own /metrics).
    await waitFor(async () => ((await createCalls(stack)) >= total / 4 && (await activeJobs(0)) > 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 100, what: 'host 0 to hold jobs mid-scan' });
    const heldAtCut = await activeJobs(0);
    const openAtCut = (await openScans(stack)).map((s) => s.id);
    const cutAt = Date.now();
    await net.cut(0);
    const healed = await waitAllMoved(stack, openAtCut, cutAt, 120_000);
    const endedAfter = await waitAllTerminal(stack, log.accepted.map((a) => a.id), 180_000);

    // Join it again: its stale attempts wake; once it is ready and idle, nothing of it is left to act.
    await net.heal(0);
    await waitFor(async () => ((await fetch(`${metricsUrl(0)}/readyz`).catch(() => null))?.status === 200 ? true : undefined), { timeoutMs: 90_000, intervalMs: 250, what: 'the cut host ready again' });
    await waitFor(async () => ((await activeJobs(0)) === 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 250, what: 'the cut host idle' });

    await judge(stack, log, {
      scenario: `a worker host cut off the network mid-scan (${HOSTS} hosts, network namespaces)`,
      timeToHealS: healed.seconds,
      details: { hosts: HOSTS, heldAtCut, openAtCut: openAtCut.length, allTerminalAfterS: endedAfter, stuck: healed.stuck.slice(0, 5).map((s) => `${s.provider} ${s.status}`) },
    });
  }, 600_000);
});
