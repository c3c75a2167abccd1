import { SIMULATOR_ACCOUNTS, simulatorAccountRequest } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type WorkerHarness } from './harness.js';

// The scale case: one request that covers 20,000 Huawei images. BatchScanSwrImage takes
// at most 10,241 images per call, so exactly two calls; every image must reach a result.

interface HuaweiState {
  accounts: { name: string; images: { byType: Record<string, number> } }[];
  batchScanCalls: { account: string; operateAll: boolean; listed: number; matched: number; unmatched: number; started: number }[];
}

const [HW] = SIMULATOR_ACCOUNTS.huawei;
/** Regular images seeded so that private_image counts exactly 20,000 with the 5 private special images. */
const SEEDED_IMAGES = '24987';

describe('Huawei: 20,000 images in one request', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness('hwbatch', { SCANQ_WORKER_QUEUES: 'huawei' }, { SIM_HUAWEI_SCAN_MS: '0', SIM_HUAWEI_IMAGES: SEEDED_IMAGES });
    // Statuses only: 17,000 ListImageVulnerabilities calls would measure findings, not batching.
    const account = simulatorAccountRequest('huawei', 0, h.sim.url);
    await h.worker.runtime.accounts.upsertByName({ ...account, settings: { ...account.settings, collectFindings: false } });
  });
  afterAll(async () => h?.close());

  it('makes exactly 2 batch-scan calls and every image reaches a result', async () => {
    const state = async () => (await fetch(`${h.sim.url}/_sim/state/huawei`)).json() as Promise<HuaweiState>;
    expect((await state()).accounts[0]!.images.byType.private_image).toBe(20_000);

    const { scan } = await h.worker.runtime.submit.submit({ provider: 'huawei', account: HW.name, image_type: 'private_image', operate_all: true });
    const done = await h.waitForTerminal(scan.id, 110_000);
    expect(done.status).toBe('succeeded');
    expect(done.images).toHaveLength(20_000);

    const calls = (await state()).batchScanCalls.filter((c) => c.account === HW.name);
    expect(calls).toHaveLength(2);
    expect((await h.calls()).totals['huawei:BatchScanSwrImage']).toBe(2);
    for (const c of calls) {
      expect(c.operateAll).toBe(false);
      expect(c.listed).toBeLessThanOrEqual(10_241);
      expect(c.matched).toBe(c.listed);
    }
    expect(calls.reduce((n, c) => n + c.listed, 0)).toBe(20_000);

    const statuses = new Map<string, number>();
    for (const img of done.images) statuses.set(img.status, (statuses.get(img.status) ?? 0) + 1);
    // The three special images whose scans fail end failed; every other image succeeded.
    expect(Object.fromEntries(statuses)).toEqual({ succeeded: 19_997, failed: 3 });
    expect(new Set(done.images.map((i) => `${i.repository}:${i.tags[0]}`)).size).toBe(20_000);
  }, 120_000);
});
