import { PROVIDERS } from '@scanq/core';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/wait.js';
import { openScans, scanRows, waitAllMoved, waitAllTerminal } from './support/figures.js';
import { atMost, judge } from './support/judge.js';
import { ScanTargets, SubmitLog, submitBurst } from './support/load.js';
import { createCalls, watchAlibabaSlots } from './support/samplers.js';
import { processOutput, type Stack, startStack } from './support/stack.js';

/**
 * kill -9 of a worker mid-start, then of the other mid-poll, with scans of all four clouds in
 * flight, on the product's default job lock (30 s): no scan lost, one cloud task per scan, no
 * quota broken, and the dead worker's Alibaba slots usable again within 30 s.
 */
describe('fault: kill -9 a worker mid-start and mid-poll', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2 });
    // Scans that take a while at the cloud, so polls are in flight when the second worker dies.
    for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 5000 });
  });
  afterAll(async () => stack?.close());

  it('loses no scan, starts no cloud task twice, and frees the dead worker’s slots within 30 s', async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    const targets = await ScanTargets.load(stack);
    const log = new SubmitLog();
    const watchedFrom = Date.now();
    const slots = watchAlibabaSlots(stack);
    // More Alibaba scans than its 10 slots, so some wait on the slots the dead workers held.
    await submitBurst(stack, targets, log, { aws: 8, alibaba: 30, tencent: 10, huawei: 8 });
    const total = log.accepted.length;
    const [first, second] = stack.workers;

    // Mid-start: a quarter of the tasks created, the rest still being started.
    await waitFor(async () => (await createCalls(stack)) >= total / 4, { timeoutMs: 60_000, intervalMs: 100, what: 'starts under way' });
    const openAtFirst = (await openScans(stack)).map((s) => s.id);
    const firstKillAt = Date.now();
    await stack.killWorker(first!);
    // Watched from the kill on, while the second fault plays out.
    const healFirstP = waitAllMoved(stack, openAtFirst, firstKillAt, 90_000);
    await stack.startWorker();

    // Mid-poll: most scans running at their cloud.
    await waitFor(async () => (await scanRows(stack)).filter((r) => r.status === 'running').length >= total / 3, { timeoutMs: 60_000, intervalMs: 200, what: 'scans running' });
    const openAtSecond = (await openScans(stack)).map((s) => s.id);
    const secondKillAt = Date.now();
    await stack.killWorker(second!);
    await stack.startWorker();

    const [healFirst, healSecond] = await Promise.all([healFirstP, waitAllMoved(stack, openAtSecond, secondKillAt, 90_000)]);
    await waitAllTerminal(stack, log.accepted.map((a) => a.id), 120_000);
    const { longestIdleS, longestStretch } = await slots.stop();
    const heal = healFirst.seconds === null || healSecond.seconds === null ? null : Math.max(healFirst.seconds, healSecond.seconds);

    await judge(stack, log, {
      scenario: 'kill -9 a worker mid-start and mid-poll',
      timeToHealS: heal,
      checks: [atMost('Alibaba slot idle while scans waited (dead worker’s slot back)', longestIdleS, 30, ' s')],
      details: {
        openAtKills: [openAtFirst.length, openAtSecond.length],
        healAfterKillS: [healFirst.seconds, healSecond.seconds],
        lastToMove: [healFirst.lastToMove, healSecond.lastToMove],
        stuckAfter90s: [...healFirst.stuck, ...healSecond.stuck].slice(0, 5).map((s) => `${s.provider} ${s.status}`),
        alibabaLongestIdleSlotS: longestIdleS,
        // On the slot watch's clock: which kill a long idle stretch followed, and who held the slots through it.
        killsAtS: [firstKillAt, secondKillAt].map((t) => Math.round((t - watchedFrom) / 100) / 10),
        ...(longestIdleS >= 15 ? { longestIdleStretch: longestStretch.map((x) => `${x.s} s: ${x.running} running, ${x.waiting} waiting; ${x.holders.join(', ')}`) } : {}),
      },
    });
  });
});
