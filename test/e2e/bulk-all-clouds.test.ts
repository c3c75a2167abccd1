import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type WorkerHarness } from '../../apps/worker/test/harness.js';
import { waitForEnded } from '../support/wait.js';

/**
 * One bulk scan over all four clouds of the simulator: every image reaches a terminal state and
 * no cloud's quota is broken — judged by the simulator's own counters, not by scanq's.
 */
describe('a bulk scan over all four clouds', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness(
      'bulkall',
      { SCANQ_POLL_INITIAL_MS: '100', SCANQ_POLL_MAX_MS: '400', SCANQ_WORKER_CONCURRENCY: '16', SCANQ_ALIBABA_QUOTA_RETRY_MS: '300' },
      {
        SIM_AWS_SCAN_MS: '100',
        SIM_ALIBABA_IMAGES: '60',
        SIM_ALIBABA_SCAN_MS: '500',
        SIM_TENCENT_IMAGES: '60',
        SIM_TENCENT_SCAN_MS: '500',
        SIM_HUAWEI_IMAGES: '60',
        SIM_HUAWEI_SCAN_MS: '300',
      },
    );
    await Promise.all([h.addAccount('alibaba'), h.addAccount('tencent'), h.addAccount('huawei')]);
  });
  afterAll(async () => h?.close());

  it('ends every image of every cloud, with no quota violated', async () => {
    const { runtime } = h.worker;
    // Every image of the four simulator accounts.
    const { bulk } = await runtime.bulk.create({ selector: { accounts: ['sim-aws', 'sim-alibaba', 'sim-tencent', 'sim-huawei'] } });
    const done = await waitForEnded(() => runtime.bulkScans.get(bulk.id), { timeoutMs: 110_000, intervalMs: 500, what: 'the four-cloud bulk scan' });
    expect(done.status).toBe('succeeded');
    const plan = done.plan as { accounts: { provider: string; selected: number; scans: number; error?: string }[] };
    expect(plan.accounts.map((a) => a.provider).sort()).toEqual(['alibaba', 'aws', 'huawei', 'tencent']);
    expect(plan.accounts.filter((a) => a.error)).toEqual([]);
    for (const a of plan.accounts) expect(a.selected).toBeGreaterThan(0);

    const { totals, byProvider } = await runtime.bulkScans.totals(done);
    expect(totals.queued + totals.running).toBe(0);
    expect(totals.succeeded + totals.failed + totals.cancelled).toBe(done.selected);
    for (const p of ['aws', 'alibaba', 'tencent', 'huawei']) expect(byProvider[p]!.succeeded).toBeGreaterThan(0);
    const open = await runtime.db.imageScan.count({ where: { scan: { bulkScanId: bulk.id }, status: { in: ['pending', 'scanning'] } } });
    expect(open).toBe(0);

    const calls = await h.calls();
    // AWS: never a second StartImageScan inside an image's 24 h window.
    expect(calls.outcomes['aws:StartImageScan:LimitExceededException'] ?? 0).toBe(0);
    // Alibaba: never more than 10 tasks at once, never refused for quota.
    const running = calls.gauges['alibaba:sim-alibaba:runningTasks'];
    expect(running?.max).toBeGreaterThan(0);
    expect(running!.max).toBeLessThanOrEqual(10);
    expect(Object.entries(calls.outcomes).filter(([k]) => k.startsWith('alibaba:') && k.endsWith(':BeyondQuata'))).toEqual([]);
    // Tencent: no API above 20 calls in any second, never throttled.
    const tencentApis = Object.entries(calls.maxPerSecond).filter(([key]) => key.startsWith('tencent:'));
    expect(tencentApis.length).toBeGreaterThan(1);
    for (const [key, max] of tencentApis) expect(max, key).toBeLessThanOrEqual(20);
    expect(Object.entries(calls.outcomes).filter(([k]) => k.startsWith('tencent:') && k.endsWith(':RequestLimitExceeded'))).toEqual([]);
    // Huawei: no throttling or scan-quota refusals.
    expect(Object.entries(calls.outcomes).filter(([k]) => k.startsWith('huawei:') && /APIG\.0308|HSS\.1002/.test(k))).toEqual([]);
  }, 120_000);
});
