import { PROVIDERS } from '@scanq/core';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { simulatorCalls } from '../support/simulator-calls.js';
import { waitFor } from '../support/wait.js';
import { openScans, waitAllMoved, waitAllTerminal } from './support/figures.js';
import { judge } from './support/judge.js';
import { ScanTargets, steadyLoad, SubmitLog, submitBurst } from './support/load.js';
import { outageAnswersCheck, probeReadyz, readyzCheck } from './support/outage.js';
import { CREATE_API } from './support/samplers.js';
import { processOutput, type Stack, startStack } from './support/stack.js';

const DOWN_S = 30;

/**
 * Redis stopped 30 s under load and started again with its data (SHUTDOWN SAVE: an outage, not a
 * loss — FLUSHALL is the loss). Job locks lapse meanwhile, so every job looks stalled when it
 * comes back: the API refuses with 503 + Retry-After (or accepts into the ledger), workers wait
 * it out without burning attempts, and nothing is lost or started twice afterwards.
 */
describe(`fault: Redis stopped ${DOWN_S} s under load`, () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2 });
    for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 3000 });
  });
  afterAll(async () => stack?.close());

  it('API 503 + Retry-After while down; after it is back 0 lost, 0 duplicates, no quota broken, no attempts burned', async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    const targets = await ScanTargets.load(stack);
    const log = new SubmitLog();
    const load = steadyLoad(stack, targets, log, { perSecond: 2 });
    const burst = submitBurst(stack, targets, log, { aws: 4, alibaba: 14, tencent: 30, huawei: 4 });
    await waitFor(async () => ((await simulatorCalls(stack.simUrl)).totals[CREATE_API.tencent] ?? 0) >= 5, { timeoutMs: 60_000, intervalMs: 50, what: 'Tencent starts under way' });

    const openAtStop = (await openScans(stack)).map((s) => s.id);
    const stoppedAt = Date.now();
    await stack.redis.stop({ keepData: true });
    await new Promise((r) => setTimeout(r, 3000));
    const readyz = await probeReadyz(stack);
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + DOWN_S * 1000 - Date.now())));
    const restartAt = Date.now();
    await stack.redis.start();
    const restoredAt = Date.now();
    await burst;
    await new Promise((r) => setTimeout(r, 5000));
    await load.stop();

    const healed = await waitAllMoved(stack, openAtStop, restoredAt, 90_000);
    await waitAllTerminal(stack, log.accepted.map((a) => a.id), healed.seconds === null ? 10_000 : 120_000);
    await judge(stack, log, {
      scenario: `Redis stopped ${DOWN_S} s under load`,
      timeToHealS: healed.seconds,
      checks: [outageAnswersCheck(log, stoppedAt + 1000, restartAt, 'Redis'), readyzCheck(readyz, 'redis')],
      details: { answersWhileDown: log.statuses(stoppedAt + 1000, restartAt), readyzWhileDown: `${readyz.status} ${readyz.body.slice(0, 300)}`, openAtStop: openAtStop.length, stuck: healed.stuck.length },
    });
  });
});
