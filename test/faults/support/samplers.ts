import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { createRedis } from '@scanq/queue';
import { simulatorCalls } from '../../support/simulator-calls.js';
import { ALIBABA_TASK_LIMIT } from './figures.js';
import type { Stack } from './stack.js';

/** The API that creates a task at each cloud, and the one a poll calls. */
export const CREATE_API = { aws: 'aws:StartImageScan', alibaba: 'alibaba:PublicCreateImageScanTask', tencent: 'tencent:CreateAssetImageRegistryScanTask', huawei: 'huawei:BatchScanSwrImage' } as const;

export async function createCalls(stack: Stack): Promise<number> {
  const { totals } = await simulatorCalls(stack.simUrl);
  return Object.values(CREATE_API).reduce((a, k) => a + (totals[k] ?? 0), 0);
}

/** One sample of an idle stretch: who held scanq's slots while the cloud ran fewer than 10 tasks. */
interface IdleSample {
  /** Seconds since the watch began. */
  s: number;
  running: number;
  waiting: number;
  /** `<scan id tail> <scan status> <lease left, s>` per slot holder (empty on a Redis topology). */
  holders: string[];
}

/**
 * Watches Alibaba's task slots from outside: the longest stretch during which the simulator
 * ran fewer than 10 tasks while Postgres had Alibaba scans waiting to start. A slot a dead
 * worker still holds, or a start job stuck with it, shows as such a stretch; the samples of the
 * longest one (who held the slots, in what state) say which.
 */
export function watchAlibabaSlots(stack: Stack, everyMs = 500): { stop(): Promise<{ longestIdleS: number; samples: number; longestStretch: IdleSample[] }> } {
  let stopped = false;
  let idleSince: number | null = null;
  let longest = 0;
  let samples = 0;
  let stretch: IdleSample[] = [];
  let longestStretch: IdleSample[] = [];
  const began = Date.now();
  const name = SIMULATOR_ACCOUNTS.alibaba[0].name;
  // The holders are read from the stack's one redis-server; a Cluster/Sentinel stack has none to read here.
  const redis = stack.topology ? null : createRedis(stack.redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 500 });
  redis?.on('error', () => undefined);
  let holdersKey: string | undefined;
  const holders = async (): Promise<string[]> => {
    if (!redis) return [];
    holdersKey ??= (await redis.keys('*alibaba-slots:*:holders'))[0];
    if (!holdersKey) return [];
    const [flat, [sec, usec]] = await Promise.all([redis.zrange(holdersKey, 0, -1, 'WITHSCORES'), redis.time()]);
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const ids: string[] = [];
    const leftS = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) {
      ids.push(flat[i]!);
      leftS.set(flat[i]!, Math.round((Number(flat[i + 1]) - now) / 100) / 10);
    }
    const rows = await stack.query<{ id: string; status: string }>(`SELECT "id", "status" FROM "Scan" WHERE "id" = ANY($1::uuid[])`, [ids]);
    const status = new Map(rows.map((r) => [r.id, r.status]));
    return ids.map((id) => `${id.slice(-6)} ${status.get(id) ?? '?'} ${leftS.get(id)}`);
  };
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
          stretch.push({ s: Math.round((now - began) / 100) / 10, running, waiting: waiting[0]!.n, holders: await holders().catch(() => []) });
          if (now - idleSince >= longest) {
            longest = now - idleSince;
            longestStretch = stretch;
          }
        } else {
          idleSince = null;
          stretch = [];
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
      redis?.disconnect();
      // Consecutive samples with the same holders in the same states say nothing new.
      const who = (x: IdleSample) => `${x.running} ${x.holders.map((h) => h.replace(/ [-\d.]+$/, '')).join()}`;
      const changed = longestStretch.filter((x, i, all) => i === 0 || i === all.length - 1 || who(x) !== who(all[i - 1]!));
      return { longestIdleS: Math.round(longest / 100) / 10, samples, longestStretch: changed };
    },
  };
}
