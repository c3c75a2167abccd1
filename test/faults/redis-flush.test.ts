import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/wait.js';
import { ALIBABA_TASK_LIMIT, openScans, waitAllMoved, waitAllTerminal } from './support/figures.js';
import { atMost, judge } from './support/judge.js';
import { ScanTargets, steadyLoad, SubmitLog, submitBurst } from './support/load.js';
import { processOutput, type Stack, startStack } from './support/stack.js';

const HEAL_LIMIT_S = 60;

/**
 * FLUSHALL of the system's Redis under load, no worker restarted: every open scan moves again
 * within 60 s, and the quota state is rebuilt from the Postgres ledger before a slot is granted
 * (10 Alibaba tasks still run at the cloud when Redis forgets them).
 */
describe('fault: FLUSHALL under load, no worker restart', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2 });
    await stack.configureCloud('aws', { scanDurationMs: 3000 });
    await stack.configureCloud('tencent', { scanDurationMs: 3000 });
    await stack.configureCloud('huawei', { scanDurationMs: 3000 });
    // Long, even Alibaba tasks: all 10 slots are taken, with scans waiting, at the flush.
    await stack.configureCloud('alibaba', { scanDurationMs: 8000, scanSpreadPercent: 0 });
  });
  afterAll(async () => stack?.close());

  it(`every open scan moves again within ${HEAL_LIMIT_S} s; no 11th Alibaba task; nothing lost or started twice`, async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    const targets = await ScanTargets.load(stack);
    const log = new SubmitLog();
    await submitBurst(stack, targets, log, { aws: 5, alibaba: 18, tencent: 5, huawei: 5 });
    const load = steadyLoad(stack, targets, log, { perSecond: 1 });
    const simAlibaba = async () =>
      ((await (await fetch(`${stack.simUrl}/_sim/state/alibaba`)).json()) as { accounts: { name: string; runningTaskCount: number }[] }).accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.runningTaskCount;
    await waitFor(async () => (await simAlibaba()) >= ALIBABA_TASK_LIMIT, { timeoutMs: 60_000, intervalMs: 200, what: 'all Alibaba slots in use' });

    const openAtFlush = (await openScans(stack)).map((s) => s.id);
    const flushedAt = Date.now();
    await stack.redis.flushAll();
    // Load goes on across the flush: new scans must be carried too.
    const heal = waitAllMoved(stack, openAtFlush, flushedAt, (HEAL_LIMIT_S + 15) * 1000);
    await new Promise((r) => setTimeout(r, 10_000));
    await load.stop();
    const healed = await heal;
    // Not healed: the scans will not end either; a short look is enough to record it.
    await waitAllTerminal(stack, log.accepted.map((a) => a.id), healed.seconds === null ? 5_000 : 90_000);

    await judge(stack, log, {
      scenario: 'FLUSHALL under load, no worker restart',
      timeToHealS: healed.seconds,
      checks: [atMost('every open scan moving again after FLUSHALL', healed.seconds === null ? null : Math.round(healed.seconds), HEAL_LIMIT_S, ' s')],
      details: { openAtFlush: openAtFlush.length, stuck: healed.stuck.length, stuckByStatus: countBy(healed.stuck.map((s) => `${s.provider}:${s.status}`)) },
    });
  });
});

function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}
