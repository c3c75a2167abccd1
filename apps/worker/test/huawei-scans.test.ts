import { type CreateScanRequest, SIMULATOR_ACCOUNTS, simulatorAccountRequest, simulatorCredentials } from '@scanq/core';
import type { ScanWithImages } from '@scanq/db';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';

// Huawei HSS scans through the worker: real Redis, Postgres, @huaweicloud/huaweicloud-sdk-core
// and the simulator's HSS front end (AK/SK signatures checked, 200-image list pages).

interface SimImage {
  namespace: string;
  image_name: string;
  image_version: string;
  image_type: string;
  vul_num: number;
  special?: string;
}
interface HuaweiState {
  accounts: { name: string; sample: SimImage[]; special: SimImage[]; images: { byType: Record<string, number> } }[];
  batchScanCalls: { account: string; operateAll: boolean; listed: number; matched: number; unmatched: number; started: number }[];
}

const [HW, HW2] = SIMULATOR_ACCOUNTS.huawei;
const info = (i: SimImage) => ({ namespace: i.namespace, image_name: i.image_name, image_version: i.image_version });

describe('Huawei HSS scans through the worker', () => {
  let h: WorkerHarness;
  let state: () => Promise<HuaweiState>;
  let special: (name: string) => SimImage;
  const total = async (key: string) => (await h.calls()).totals[`huawei:${key}`] ?? 0;
  let before: Record<string, number> = {};
  const delta = async (key: string) => (await total(key)) - (before[key] ?? 0);

  beforeAll(async () => {
    const credentials = { ...simulatorCredentials(), 'hw-wrong-secret': { ak: HW.ak, sk: 'not-the-secret' } };
    h = await startHarness('hwflow', { SCANQ_CREDENTIALS: JSON.stringify(credentials), SCANQ_WORKER_QUEUES: 'huawei' }, { SIM_HUAWEI_SCAN_MS: '200' });
    await h.addAccount('huawei', 0);
    // Account 2 keeps statuses and vul_num only (no per-image findings calls).
    const second = simulatorAccountRequest('huawei', 1, h.sim.url);
    await h.worker.runtime.accounts.upsertByName({ ...second, settings: { ...second.settings, collectFindings: false } });
    await h.worker.runtime.accounts.upsertByName({ ...simulatorAccountRequest('huawei', 0, h.sim.url), name: 'hw-wrong-secret', credentialRef: 'hw-wrong-secret' });
    state = async () => (await fetch(`${h.sim.url}/_sim/state/huawei`)).json() as Promise<HuaweiState>;
    const s = await state();
    special = (name) => s.accounts[0]!.special.find((i) => i.image_name === name)!;
  });
  afterAll(async () => h?.close());
  beforeEach(async () => {
    before = (await h.calls()).totals;
    before = Object.fromEntries(Object.entries(before).filter(([k]) => k.startsWith('huawei:')).map(([k, v]) => [k.slice('huawei:'.length), v]));
  });

  const submit = async (request: Omit<Extract<CreateScanRequest, { provider: 'huawei' }>, 'provider' | 'account'> & { account?: string }): Promise<ScanWithImages> => {
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'huawei', account: HW.name, ...request } as CreateScanRequest);
    return h.waitForTerminal(scan.id, 30_000);
  };

  it('scans an image list with one batch-scan call and stores normalized findings (paged) with the raw records', async () => {
    const s = await state();
    const images = [s.accounts[0]!.sample[0]!, s.accounts[0]!.sample[5]!, special('many-vulns')];
    const done = await submit({ image_type: 'private_image', image_info_list: images.map(info) });
    expect(done.status).toBe('succeeded');
    expect(done.images).toHaveLength(3);
    expect(await delta('BatchScanSwrImage')).toBe(1);
    const call = (await state()).batchScanCalls.at(-1)!;
    expect(call).toMatchObject({ account: HW.name, operateAll: false, listed: 3, matched: 3, unmatched: 0 });
    for (const img of images) {
      const row = done.images.find((r) => r.repository === `${img.namespace}/${img.image_name}` && r.tags[0] === img.image_version)!;
      expect(row.status).toBe('succeeded');
      expect(row.registry).toBe('private_image');
      expect(row.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const findings = await h.worker.runtime.db.finding.findMany({ where: { imageScanId: row.id } });
      // Every finding HSS reports for the image is stored: vul_num of its list entry.
      expect(findings).toHaveLength(img.vul_num);
      expect((row.raw as { vul_num: number }).vul_num).toBe(img.vul_num);
      expect(row.high + row.medium + row.low + row.unknown + row.critical + row.informational).toBe(img.vul_num);
      for (const f of findings) {
        const raw = f.raw as { vul_id: string; repair_necessity: string; app_name: string; url: string };
        expect(f.vulnerabilityId).toBe(raw.vul_id);
        expect(f.providerSeverity).toBe(raw.repair_necessity);
        expect(f.severity).toBe({ immediate_repair: 'HIGH', delay_repair: 'MEDIUM', not_needed_repair: 'LOW' }[raw.repair_necessity]);
        expect(f.packageName).toBe(raw.app_name);
        expect(f.link).toBe(raw.url);
      }
    }
    // 237 findings of many-vulns take two pages of 200; the other images one page each.
    expect(await delta('ListImageVulnerabilities')).toBe(images.filter((i) => i.vul_num > 0).length + 1);
  });

  it('scans what operate_all filters select, sent as the explicit resolved list', async () => {
    const s = await state();
    const namespace = s.accounts[0]!.sample[0]!.namespace;
    const done = await submit({ image_type: 'private_image', operate_all: true, namespace, latest_version: true });
    expect(done.status).toBe('succeeded');
    expect(done.images.length).toBeGreaterThan(1);
    for (const row of done.images) {
      expect(row.repository.startsWith(`${namespace}/`)).toBe(true);
      expect((row.raw as { latest_version: boolean }).latest_version).toBe(true);
      expect(row.status).toBe('succeeded');
    }
    const call = (await state()).batchScanCalls.at(-1)!;
    expect(call).toMatchObject({ operateAll: false, listed: done.images.length, matched: done.images.length, unmatched: 0 });
  });

  it('reports each failed scan with its reason, and an image HSS does not list as image_not_found', async () => {
    const done = await submit({
      image_type: 'private_image',
      image_info_list: [info(special('scan-fails')), info(special('download-fails')), info(special('oversized')), info(special('no-vulns')), { namespace: 'nowhere', image_name: 'ghost', image_version: '0.0.1' }],
    });
    // One image succeeded (no-vulns), so the scan succeeds with per-image failures.
    expect(done.status).toBe('succeeded');
    const by = (name: string) => done.images.find((r) => r.repository.endsWith(`/${name}`))!;
    expect(by('scan-fails')).toMatchObject({ status: 'failed', reason: 'scan_failed' });
    expect(by('download-fails')).toMatchObject({ status: 'failed', reason: 'scan_failed' });
    expect(by('oversized')).toMatchObject({ status: 'failed', reason: 'unsupported_image_type' });
    expect(by('no-vulns')).toMatchObject({ status: 'succeeded', high: 0, medium: 0, low: 0 });
    expect(by('ghost')).toMatchObject({ status: 'failed', reason: 'image_not_found', digest: null });
    // Only the four known images were sent; the no-vulns image needed no findings call.
    expect((await state()).batchScanCalls.at(-1)).toMatchObject({ listed: 4, matched: 4 });
    expect(await delta('ListImageVulnerabilities')).toBe(0);

    const shared = await submit({ image_type: 'shared_image', image_info_list: [info(special('expired-share'))] });
    expect(shared.status).toBe('failed');
    expect(shared.images[0]).toMatchObject({ registry: 'shared_image', status: 'failed', reason: 'no_permission' });
  });

  it('maps HSS and gateway errors: throttling, 5xx and dropped connections are waited out, bad signatures and bad parameters end the scan', async () => {
    const sample = (await state()).accounts[0]!.sample;
    await injectFault(h.sim, { cloud: 'huawei', api: 'BatchScanSwrImage', kind: 'throttle', count: 1 });
    await injectFault(h.sim, { cloud: 'huawei', api: 'BatchScanSwrImage', kind: 'disconnect', count: 1 });
    await injectFault(h.sim, { cloud: 'huawei', api: 'ListSwrImageRepository', kind: 'server_error', count: 1 });
    const retried = await submit({ image_type: 'private_image', image_info_list: [info(sample[1]!)] });
    expect(retried.status).toBe('succeeded');
    const outcomes = (await h.calls()).outcomes;
    expect(outcomes['huawei:BatchScanSwrImage:APIG.0308']).toBeGreaterThanOrEqual(1);
    expect(outcomes['huawei:ListSwrImageRepository:APIG.9999']).toBeGreaterThanOrEqual(1);
    expect(await delta('BatchScanSwrImage')).toBe(3); // throttled, dropped, accepted

    const unsigned = await submit({ account: 'hw-wrong-secret', image_type: 'private_image', image_info_list: [info(sample[2]!)] });
    expect(unsigned).toMatchObject({ status: 'failed', reason: 'no_permission' });
    expect(unsigned.error).toContain('APIG.0301');

    // The batch-scan request allows 128-character tags; the image list API only 64: HSS.0001.
    const invalid = await submit({ image_type: 'private_image', image_info_list: [{ namespace: 'web', image_name: 'nginx', image_version: 'v'.repeat(100) }] });
    expect(invalid).toMatchObject({ status: 'failed', reason: 'invalid' });
    expect(invalid.error).toContain('HSS.0001');
  });

  it('follows more images than a list page with paged list calls, not one call per image', async () => {
    // Account 2, findings not collected: only the list and batch-scan APIs are called.
    const done = await submit({ account: HW2.name, image_type: 'private_image', operate_all: true });
    const n = done.images.length;
    expect(n).toBeGreaterThan(400);
    expect(done.images.filter((i) => i.status === 'succeeded' || i.status === 'failed')).toHaveLength(n);
    expect(done.images.filter((i) => i.status === 'failed').map((i) => i.repository).sort()).toEqual(['scanq-special/download-fails', 'scanq-special/oversized', 'scanq-special/scan-fails']);
    expect(await delta('BatchScanSwrImage')).toBe(1);
    expect(await delta('ListImageVulnerabilities')).toBe(0);
    // Resolving takes ceil(n/200) pages; every poll at most that many again.
    const pages = Math.ceil(n / 200);
    const listCalls = await delta('ListSwrImageRepository');
    expect(listCalls).toBeGreaterThanOrEqual(pages * 2);
    expect(listCalls).toBeLessThan(n / 10);
    const withVulns = done.images.filter((i) => (i.raw as { vul_num: number }).vul_num > 0);
    expect(withVulns.length).toBeGreaterThan(0);
    expect(await h.worker.runtime.db.finding.count({ where: { scanId: done.id } })).toBe(0);
  });

  it('collects findings of hundreds of vulnerable images over several polls, one vulnerability call per image page', async () => {
    const done = await submit({ image_type: 'private_image', operate_all: true });
    const succeeded = done.images.filter((i) => i.status === 'succeeded');
    const vulnerable = succeeded.filter((i) => (i.raw as { vul_num: number }).vul_num > 0);
    // More vulnerable images than one poll settles (200), so this took at least two polls.
    expect(vulnerable.length).toBeGreaterThan(200);
    expect(done.images.filter((i) => i.status === 'scanning' || i.status === 'pending')).toHaveLength(0);
    const expected = succeeded.reduce((n, i) => n + (i.raw as { vul_num: number }).vul_num, 0);
    expect(await h.worker.runtime.db.finding.count({ where: { scanId: done.id } })).toBe(expected);
    // many-vulns (237) needs a second page; every other vulnerable image one call; clean ones none.
    expect(await delta('ListImageVulnerabilities')).toBe(vulnerable.length + 1);
  });
});
