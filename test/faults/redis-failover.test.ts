import { PROVIDERS } from '@scanq/core';
import { afterAll, beforeAll, describe, it, onTestFailed } from 'vitest';
import { simulatorCalls } from '../support/simulator-calls.js';
import { waitFor } from '../support/wait.js';
import { openScans, waitAllMoved, waitAllTerminal } from './support/figures.js';
import { atMost, judge, zero } from './support/judge.js';
import { ScanTargets, steadyLoad, SubmitLog, submitBurst } from './support/load.js';
import { CREATE_API } from './support/samplers.js';
import { processOutput, type Stack, startStack } from './support/stack.js';
import type { RedisClusterTopology, RedisSentinelTopology } from '../support/topologies.js';

/** Scans must move again this soon after the new master took over. */
const GO_ON_WITHIN_S = 30;

/**
 * A replica promoted under load: scans on all four clouds flowing (2/s steady plus a burst), then
 * CLUSTER FAILOVER on the replica of the master holding the Alibaba queue and its quota keys
 * (Redis Cluster, 3 masters + 3 replicas), or SENTINEL FAILOVER (1 master, 1 replica, 3
 * sentinels). The clients follow the new master by themselves (MOVED / +switch-master): scans
 * go on within 30 s, none lost or started twice, no quota broken, and no 500 outlives it.
 */
for (const topology of ['cluster', 'sentinel'] as const) {
  describe(`fault: Redis ${topology} failover under load`, () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ workers: 2, topology });
      for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 3000 });
    });
    afterAll(async () => stack?.close());

    it(`scans go on within ${GO_ON_WITHIN_S} s of the promotion; 0 lost, 0 duplicates, no quota broken, no lasting 500`, async () => {
      onTestFailed(() => console.log(processOutput(stack)));
      const targets = await ScanTargets.load(stack);
      const log = new SubmitLog();
      const load = steadyLoad(stack, targets, log, { perSecond: 2 });
      const burst = submitBurst(stack, targets, log, { aws: 4, alibaba: 14, tencent: 30, huawei: 4 });
      // A bound, not a timing: at load average 27–30 the fifth Tencent start took 89 s (sentinel, no WAIT).
      await waitFor(async () => ((await simulatorCalls(stack.simUrl)).totals[CREATE_API.tencent] ?? 0) >= 5, { timeoutMs: 180_000, intervalMs: 50, what: 'Tencent starts under way' });

      const openAtFailover = (await openScans(stack)).map((s) => s.id);
      const failoverAt = Date.now();
      const switched =
        topology === 'cluster'
          ? await (stack.topology as RedisClusterTopology).failover('{scanq:alibaba}')
          : await (stack.topology as RedisSentinelTopology).failover();
      const promotedAt = Date.now();
      await burst;
      await new Promise((r) => setTimeout(r, 10_000));
      await load.stop();

      const healed = await waitAllMoved(stack, openAtFailover, promotedAt, 90_000);
      await waitAllTerminal(stack, log.accepted.map((a) => a.id), 120_000);
      const settledAt = promotedAt + GO_ON_WITHIN_S * 1000;
      const late500 = log.results.filter((r) => r.status >= 500 && r.at > settledAt).length;
      await judge(stack, log, {
        scenario: `Redis ${topology}: replica promoted under load (${topology === 'cluster' ? 'CLUSTER FAILOVER' : 'SENTINEL FAILOVER'})`,
        timeToHealS: healed.seconds,
        checks: [atMost('scans moving again after the promotion', healed.seconds, GO_ON_WITHIN_S, ' s'), zero(`HTTP 5xx answers later than ${GO_ON_WITHIN_S} s after the promotion`, late500)],
        details: {
          switch: `${switched.demoted} → ${switched.promoted}`,
          promotionS: (promotedAt - failoverAt) / 1000,
          answersAroundFailover: log.statuses(failoverAt - 5000, settledAt),
          answersAfter: log.statuses(settledAt),
          openAtFailover: openAtFailover.length,
          stuck: healed.stuck.length,
          lastToMove: healed.lastToMove,
        },
      });
    }, 480_000);
  });
}
