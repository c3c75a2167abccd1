import { SIMULATOR_ACCOUNTS, simulatorAccountRequest } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type WorkerHarness } from './harness.js';

// The scale case: one request that covers 20,000 Huawei images. BatchScanSwrImage takes
// at most 10,241 images per call, so exactly two calls; every image must reach a result.

interface HuaweiState {
  accounts: { name: string; images: { byType: Record<string, number> } }[];
  batchScanCalls: { account: string; operateAll: boolean; listed: number; matched: number; unmatched: number; started: number }[];
}

const [HW, HW2] = SIMULATOR_ACCOUNTS.huawei;
const MIB = 1024 ** 2;
/** Seeded sizes are spread evenly over 20–1220 MiB: these floors select about 10, 5 and 4 % of the images. */
const LARGEST_10_PERCENT = 1100 * MIB;
const LARGEST_5_PERCENT = 1160 * MIB;
const LARGEST_4_PERCENT = 1172 * MIB;

interface ImageRaw {
  vul_num?: number;
}
/** Regular images seeded so that private_image counts exactly 20,000 with the 5 private special images. */
const SEEDED_IMAGES = '24987';

describe('Huawei: 20,000 images in one request', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness('hwbatch', { SCANQ_WORKER_QUEUES: 'huawei' }, { SIM_HUAWEI_SCAN_MS: '0', SIM_HUAWEI_IMAGES: SEEDED_IMAGES });
    // Statuses only: 17,000 ListImageVulnerabilities calls would measure findings, not batching.
    const account = simulatorAccountRequest('huawei', 0, h.sim.url);
    await h.worker.runtime.accounts.upsertByName({ ...account, settings: { ...account.settings, collectFindings: false } });
    await h.addAccount('huawei', 1);
  });
  afterAll(async () => h?.close());
  const listCalls = async () => (await h.calls()).totals['huawei:ListSwrImageRepository'] ?? 0;

  // Runs first, while most images are still unscanned.
  it('settles by listing when the counts cannot prove it: the scope holds images the scan does not track', async () => {
    const before = await listCalls();
    // scan_status changes as images are scanned, so it is no part of the tracked scope: that
    // scope (every private image this size or larger) holds more images than the scan.
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'huawei', account: HW.name, image_type: 'private_image', operate_all: true, scan_status: 'unscan', image_size: LARGEST_5_PERCENT });
    const done = await h.waitForTerminal(scan.id, 60_000);
    const n = done.images.length;
    expect(n).toBeGreaterThan(600);
    expect(done.status).toBe('succeeded');
    expect(done.images.every((i) => i.status === 'succeeded' || i.status === 'failed')).toBe(true);
    // Resolving lists the selection; the results come from a listing of every image scanned since.
    expect((await listCalls()) - before).toBeGreaterThanOrEqual(2 * Math.ceil(n / 200));
  }, 60_000);

  const runOperateAll = async (account: string, filters: Record<string, unknown>) => {
    const before = (await h.calls()).totals;
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'huawei', account, image_type: 'private_image', operate_all: true, ...filters });
    const done = await h.waitForTerminal(scan.id, 60_000);
    const after = (await h.calls()).totals;
    const delta = (api: string) => (after[`huawei:${api}`] ?? 0) - (before[`huawei:${api}`] ?? 0);
    expect(done.status).toBe('succeeded');
    expect(done.images.every((i) => i.status === 'succeeded' || i.status === 'failed')).toBe(true);
    // Vulnerable images carry the list entry of their finished scan; clean ones were counted.
    const vulnerable = done.images.filter((i) => i.status === 'succeeded' && ((i.raw as ImageRaw | null)?.vul_num ?? 0) > 0);
    const vulNum = (i: (typeof vulnerable)[number]) => (i.raw as ImageRaw).vul_num!;
    expect(await h.worker.runtime.db.finding.count({ where: { scanId: done.id } })).toBe(vulnerable.reduce((sum, i) => sum + vulNum(i), 0));
    expect(delta('ListImageVulnerabilities')).toBe(vulnerable.reduce((sum, i) => sum + Math.ceil(vulNum(i) / 200), 0));
    return { n: done.images.length, vulnerable: vulnerable.length, listCalls: delta('ListSwrImageRepository') };
  };

  it('collects deferred findings without listing again: vulnerable images settle over several polls', async () => {
    const { n, vulnerable, listCalls } = await runOperateAll(HW2.name, { image_size: LARGEST_4_PERCENT });
    expect(n).toBeGreaterThan(600);
    // More than one poll's worth of findings (200 images), so later polls only fetched findings.
    expect(vulnerable).toBeGreaterThan(400);
    // Resolving lists n/200 pages, the first poll the three counts and (most images being
    // vulnerable, counts cannot save calls) one page per 200 scanned images. Polls that only
    // collect deferred findings list nothing (they would take n/200 pages each).
    expect(listCalls).toBeLessThanOrEqual(2 * Math.ceil(n / 200) + 3 + 2);
  }, 60_000);

  it('settles a large, mostly clean scan by counts: lists only the vulnerable and failed images', async () => {
    const configured = await fetch(`${h.sim.url}/_sim/config/huawei`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vulnerablePercent: 5 }) });
    expect(configured.status).toBe(200);
    const { n, vulnerable, listCalls } = await runOperateAll(HW2.name, { image_size: LARGEST_10_PERCENT });
    expect(n).toBeGreaterThan(1500);
    expect(vulnerable).toBeGreaterThan(0);
    // Resolving: n/200 pages. Then the scope's count, the scanned-since count, the clean count,
    // the vulnerable images' pages and at most three failed-status lists: far from a second
    // n/200-page pass.
    expect(listCalls).toBeLessThanOrEqual(Math.ceil(n / 200) + 3 + Math.ceil(vulnerable / 200) + 3);
    expect(listCalls).toBeLessThan(2 * Math.ceil(n / 200));
  }, 60_000);

  it('makes exactly 2 batch-scan calls and every image reaches a result', async () => {
    const state = async () => (await fetch(`${h.sim.url}/_sim/state/huawei`)).json() as Promise<HuaweiState>;
    expect((await state()).accounts[0]!.images.byType.private_image).toBe(20_000);

    const earlierCalls = (await state()).batchScanCalls.length;
    const listedBefore = await listCalls();
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'huawei', account: HW.name, image_type: 'private_image', operate_all: true });
    const done = await h.waitForTerminal(scan.id, 240_000);
    expect(done.status).toBe('succeeded');
    expect(done.images).toHaveLength(20_000);

    const calls = (await state()).batchScanCalls.slice(earlierCalls);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.account === HW.name)).toBe(true);
    for (const c of calls) {
      expect(c.operateAll).toBe(false);
      expect(c.listed).toBeLessThanOrEqual(10_241);
      expect(c.matched).toBe(c.listed);
    }
    expect(calls.reduce((n, c) => n + c.listed, 0)).toBe(20_000);
    // Resolving operate_all lists 100 pages of 200; the results then settle by counts (the
    // three failed images listed by status) instead of a second 100-page pass.
    const listed = (await listCalls()) - listedBefore;
    expect(listed).toBeGreaterThanOrEqual(100);
    expect(listed).toBeLessThanOrEqual(110);

    const statuses = new Map<string, number>();
    for (const img of done.images) statuses.set(img.status, (statuses.get(img.status) ?? 0) + 1);
    // The three special images whose scans fail end failed; every other image succeeded.
    expect(Object.fromEntries(statuses)).toEqual({ succeeded: 19_997, failed: 3 });
    expect(new Set(done.images.map((i) => `${i.repository}:${i.tags[0]}`)).size).toBe(20_000);
  }, 270_000);
});
