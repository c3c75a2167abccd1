import { PROVIDERS } from '@scanq/core';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/wait.js';
import { openScans, waitAllMoved, waitAllTerminal } from './support/figures.js';
import { judge } from './support/judge.js';
import { ScanTargets, SubmitLog, submitBurst } from './support/load.js';
import { CREATE_API } from './support/samplers.js';
import { simulatorCalls } from '../support/simulator-calls.js';
import { processOutput, type Stack, startStack } from './support/stack.js';

const LOCK_MS = 3000;
const PAUSE_MS = 10_000;

/**
 * The zombie: a worker SIGSTOPped mid-start for longer than its job lock, so another worker
 * takes its jobs over, then SIGCONTed — it wakes up and carries on with calls it had prepared.
 * The deterministic form of a starved machine. A stale holder must not reach the cloud.
 */
describe('fault: SIGSTOP a worker past its job lock, then SIGCONT', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 2,
      // Tencent starts paced slower than the cloud allows: for seconds, both workers hold start jobs
      // waiting their turn — so the paused one surely has starts under way (the deterministic zombie).
      env: { SCANQ_WORKER_LOCK_MS: String(LOCK_MS), SCANQ_WORKER_STALLED_CHECK_MS: '1000', SCANQ_TENCENT_RPS: '8', SCANQ_TENCENT_HEADROOM: '0' },
    });
    for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 4000 });
  });
  afterAll(async () => stack?.close());

  it('the woken worker starts no second task and breaks no quota; nothing is lost', async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    const targets = await ScanTargets.load(stack);
    const log = new SubmitLog();
    // Tencent-heavy (its 20/s is what a burst of woken calls breaks) and more Alibaba scans than slots.
    await submitBurst(stack, targets, log, { aws: 6, alibaba: 20, tencent: 30, huawei: 6 });
    const zombie = stack.workers[0]!;

    await waitFor(async () => ((await simulatorCalls(stack.simUrl)).totals[CREATE_API.tencent] ?? 0) >= 5, { timeoutMs: 60_000, intervalMs: 100, what: 'Tencent starts under way' });
    const openAtPause = (await openScans(stack)).map((s) => s.id);
    const pausedAt = Date.now();
    stack.pauseWorker(zombie);
    const healP = waitAllMoved(stack, openAtPause, pausedAt, 90_000);
    await new Promise((r) => setTimeout(r, PAUSE_MS));
    stack.resumeWorker(zombie);

    const heal = await healP;
    await waitAllTerminal(stack, log.accepted.map((a) => a.id), 120_000);
    await judge(stack, log, {
      scenario: `SIGSTOP a worker ${PAUSE_MS / 1000} s (lock ${LOCK_MS / 1000} s), then SIGCONT`,
      timeToHealS: heal.seconds,
      details: { openAtPause: openAtPause.length, zombieAlive: zombie.child.exitCode === null },
    });
  });
});
