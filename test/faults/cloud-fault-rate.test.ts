import { PROVIDERS } from '@scanq/core';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { waitAllTerminal } from './support/figures.js';
import { judge } from './support/judge.js';
import { ScanTargets, SubmitLog, submitBurst } from './support/load.js';
import { processOutput, SIM_SEED, type Stack, startStack } from './support/stack.js';

/**
 * The mix, on every API of every cloud, seeded so a run can be repeated: 5% server
 * errors, 1% hangs, 2% throttling, 1% dropped connections — plus 1% of answers dropped after
 * the call took effect (the ambiguous create: the task exists, its answer never came).
 */
export const FAULT_RATES = [
  { kind: 'server_error', rate: 0.05 },
  { kind: 'timeout', rate: 0.01 },
  { kind: 'throttle', rate: 0.02 },
  { kind: 'disconnect', rate: 0.01 },
  { kind: 'drop_response', rate: 0.01 },
] as const;

describe('fault: cloud faults at a rate on every API of every cloud', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2 });
    for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 2000 });
  });
  afterAll(async () => stack?.close());

  it('every scan ends, none started twice, no quota broken, with 5% 5xx, 1% hangs, 2% throttling and dropped connections', async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    // Rate rules (`rate`, `seed`) beside the count rules: one request per kind, cloud and API `*`.
    const refused: string[] = [];
    for (const { kind, rate } of FAULT_RATES) {
      const res = await fetch(`${stack.simUrl}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cloud: '*', api: '*', kind, rate, seed: `${SIM_SEED}-${kind}` }) });
      if (!res.ok) refused.push(`${kind}: ${res.status} ${await res.text()}`);
    }
    // Judged with the rest (not thrown here), so the row is on record either way.
    const rulesTaken = { figure: 'rate rules the simulator took', measured: refused.length ? `refused ${refused.join('; ')}` : 'all', want: 'all', ok: refused.length === 0 };

    const targets = await ScanTargets.load(stack);
    const log = new SubmitLog();
    await submitBurst(stack, targets, log, { aws: 10, alibaba: 14, tencent: 10, huawei: 10 });
    const seconds = await waitAllTerminal(stack, log.accepted.map((a) => a.id), 120_000);

    await judge(stack, log, {
      scenario: 'cloud faults at a rate (5% 5xx, 1% hang, 2% throttle, 1% disconnect, 1% dropped answer)',
      timeToHealS: seconds,
      failuresAllowed: true,
      // A run in which no fault fired proves nothing.
      checks: ({ cloud }) => [rulesTaken, { figure: 'faults the simulator injected', measured: cloud.faultsInjected, want: '> 0', ok: cloud.faultsInjected > 0 }],
      details: { allTerminalAfterS: seconds },
    });
  });
});
