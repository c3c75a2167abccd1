import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { simulatorCalls } from '../../support/simulator-calls.js';
import { ALIBABA_TASK_LIMIT } from './figures.js';
import type { Stack } from './stack.js';

/** The API that creates a task at each cloud, and the one a poll calls. */
export const CREATE_API = { aws: 'aws:StartImageScan', alibaba: 'alibaba:PublicCreateImageScanTask', tencent: 'tencent:CreateAssetImageRegistryScanTask', huawei: 'huawei:BatchScanSwrImage' } as const;

export async function createCalls(stack: Stack): Promise<number> {
  const { totals } = await simulatorCalls(stack.simUrl);
  return Object.values(CREATE_API).reduce((a, k) => a + (totals[k] ?? 0), 0);
}

/**
 * Watches Alibaba's task slots from outside: the longest stretch during which the simulator
 * ran fewer than 10 tasks while Postgres had Alibaba scans waiting to start. A slot a dead
 * worker still holds, or a start job stuck with it, shows as such a stretch.
 */
export function watchAlibabaSlots(stack: Stack, everyMs = 500): { stop(): Promise<{ longestIdleS: number; samples: number }> } {
  let stopped = false;
  let idleSince: number | null = null;
  let longest = 0;
  let samples = 0;
  const name = SIMULATOR_ACCOUNTS.alibaba[0].name;
  const loop = (async () => {
    while (!stopped) {
      try {
        const [state, waiting] = await Promise.all([
          fetch(`${stack.simUrl}/_sim/state/alibaba`).then((r) => r.json() as Promise<{ accounts: { name: string; runningTaskCount: number }[] }>),
          stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Scan" WHERE "provider" = 'alibaba' AND "status" IN ('queued', 'quota_wait', 'retrying')`),
        ]);
        const running = state.accounts.find((a) => a.name === name)?.runningTaskCount ?? 0;
        const now = Date.now();
        samples++;
        if (running < ALIBABA_TASK_LIMIT && waiting[0]!.n > 0) {
          idleSince ??= now;
          longest = Math.max(longest, now - idleSince);
        } else {
          idleSince = null;
        }
      } catch {
        /* a read failed (Postgres stopped by the scenario): no sample */
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { longestIdleS: Math.round(longest / 100) / 10, samples };
    },
  };
}
