import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { waitAllTerminal } from './support/figures.js';
import { judge } from './support/judge.js';
import { ScanTargets, steadyLoad, SubmitLog, submitBurst } from './support/load.js';
import { watchAlibabaSlots } from './support/samplers.js';
import { processOutput, type Stack, startStack } from './support/stack.js';

/**
 * The quota scenarios on a starved machine: Alibaba's 10 tasks and Tencent's 20 calls per
 * second judged by the simulator (the sliding 1-s window where it has one), while a second
 * system on the same Redis and Postgres servers (fsync on) hammers beside them — node
 * processes, Postgres fsyncs and Redis traffic, the mixed load that made the overruns appear.
 * (The SIGSTOP scenario is the deterministic form of the same fault.)
 */
describe('fault: quotas on a starved machine (a second system hammering beside)', () => {
  let stack: Stack;
  let beside: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2, fsync: true });
    await stack.configureCloud('alibaba', { scanDurationMs: 3000 });
    await stack.configureCloud('tencent', { scanDurationMs: 1000 });
    beside = await startStack({ workers: 2, shareServersWith: stack, sim: { SIM_AWS_BENCH_IMAGES: '2000', SIM_ALIBABA_IMAGES: '600', SIM_TENCENT_IMAGES: '600' } });
    for (const cloud of ['aws', 'alibaba', 'tencent', 'huawei'] as const) await beside.configureCloud(cloud, { scanDurationMs: 500 });
  });
  afterAll(async () => {
    await beside?.close();
    await stack?.close();
  });

  it('never an 11th Alibaba task, never above 20 Tencent calls of one API in a second, nothing lost or started twice', async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    const besideLog = new SubmitLog();
    const hammer = steadyLoad(beside, await ScanTargets.load(beside), besideLog, { perSecond: 8 });
    await new Promise((r) => setTimeout(r, 5000)); // the load beside is up to speed

    const targets = await ScanTargets.load(stack);
    const log = new SubmitLog();
    const slots = watchAlibabaSlots(stack);
    await submitBurst(stack, targets, log, { alibaba: 30, tencent: 80, aws: 5, huawei: 5 });
    const seconds = await waitAllTerminal(stack, log.accepted.map((a) => a.id), 150_000);
    await hammer.stop();
    const { longestIdleS } = await slots.stop();

    await judge(stack, log, {
      scenario: 'quotas on a starved machine (second system beside)',
      timeToHealS: seconds,
      details: { allTerminalAfterS: seconds, besideAnswers: besideLog.statuses(), alibabaLongestIdleSlotS: longestIdleS },
    });
  });
});
