import { HSS_MAX_BATCH_IMAGES, SIMULATOR_ACCOUNTS, huaweiScanTargetSchema } from '@scanq/core';
import { createProviders, type InventoryImage, isBulkCapable, type ProviderAccount } from '@scanq/providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForEnded } from '../../../test/support/wait.js';
import { startHarness, type WorkerHarness } from './harness.js';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';

// Bulk scans of Huawei HSS through the real planner, worker, huaweicloud-sdk-core and the
// simulator: inventory from ListSwrImageRepository, one BatchScanSwrImage per planned scan
// (image lists of ≤10241), polling from the image list.

interface HuaweiState {
  accounts: { name: string; images: { total: number; byType: Record<string, number> }; scansStarted: number }[];
  batchScanCalls: { account: string; imageType: string; operateAll: boolean; listed: number; matched: number; unmatched: number; started: number }[];
}

const [HW] = SIMULATOR_ACCOUNTS.huawei;
/** 80 regular images = 20 repositories of 4 tags: 16 private, 2 shared (repos 7, 17), 2 enterprise-edition (9, 19); plus 6 special images. */
const REGULAR = 80;
/** Repositories 0–2 (private) also tag their newest version `latest`: 3 more list entries, no new digest. */
const ALIASES = 3;
const LISTED = REGULAR + 6 + ALIASES;
const DIGESTS = REGULAR + 6;

/** The adapter as the worker builds it, called directly to count its listing calls. */
const huawei = createProviders(SIM_DEPS).huawei!;
const accountAt = (url: string): ProviderAccount => ({
  id: 'direct',
  provider: 'huawei',
  name: HW.name,
  region: HW.region,
  endpoint: url,
  settings: { projectId: HW.projectId },
  credentials: { ak: HW.ak, sk: HW.sk },
});

describe('bulk scans (Huawei HSS)', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness(
      'bulkhw',
      { SCANQ_POLL_INITIAL_MS: '50' },
      // The scan quota is exactly one scan per digest: a tag scanned twice, or an image scanned twice, is HSS.1002.
      { SIM_HUAWEI_SCAN_MS: '50', SIM_HUAWEI_IMAGES: String(REGULAR), SIM_HUAWEI_LATEST_ALIASES: String(ALIASES), SIM_HUAWEI_SCAN_QUOTA: String(DIGESTS) },
    );
    await h.addAccount('huawei', 0);
  });
  afterAll(async () => h?.close());

  const state = async () => (await fetch(`${h.sim.url}/_sim/state/huawei`)).json() as Promise<HuaweiState>;
  const listCalls = async () => (await h.calls()).totals['huawei:ListSwrImageRepository'] ?? 0;
  const listAll = async (query: Parameters<typeof inventory>[1]) => {
    const images: InventoryImage[] = [];
    for await (const page of inventory(accountAt(h.sim.url), query)) images.push(...page);
    return images;
  };
  const inventory = (account: ProviderAccount, query: { registries?: string[]; namespaces?: string[]; repositories?: string[] }) => {
    if (!isBulkCapable(huawei)) throw new Error('the Huawei adapter is not bulk-capable');
    return huawei.listImages(account, query);
  };

  it('scans every digest of the account once, in one batch-scan call per planned scan, within the scan quota', async () => {
    expect((await state()).accounts[0]!.images.total).toBe(LISTED);
    const { bulk } = await h.worker.runtime.bulk.create({ selector: { accounts: [HW.name] } });
    const done = await waitForEnded(() => h.worker.runtime.bulkScans.get(bulk.id), { timeoutMs: 40_000, what: `bulk scan ${bulk.id}` });
    expect(done.status).toBe('succeeded');
    const plan = done.plan as { accounts: { listed: number; selected: number; scans: number; error?: string }[] };
    expect(plan.accounts).toEqual([expect.objectContaining({ listed: LISTED, selected: DIGESTS, scans: 2 })]);

    // planScans: one private_image list (enterprise-edition images named by instance_id) and one shared_image list.
    const scans = await h.worker.runtime.db.scan.findMany({ where: { bulkScanId: bulk.id }, include: { images: true } });
    expect(scans).toHaveLength(2);
    const byType = Object.fromEntries(scans.map((s) => [huaweiScanTargetSchema.parse(s.target).image_type, s]));
    expect(byType.private_image!.images).toHaveLength(16 * 4 + 5 + 2 * 4);
    expect(byType.shared_image!.images).toHaveLength(2 * 4 + 1);
    for (const scan of scans) {
      const target = huaweiScanTargetSchema.parse(scan.target);
      const listed = target.image_info_list!.map((e) => `${e.instance_id ? `instance_image/${e.instance_id}` : target.image_type} ${e.namespace}/${e.image_name}:${e.image_version}`);
      expect(listed.sort()).toEqual(scan.images.map((i) => `${i.registry} ${i.repository}:${i.tags[0]}`).sort());
      expect(scan.status).toBe('succeeded');
    }
    expect(byType.private_image!.images.filter((i) => i.registry.startsWith('instance_image/'))).toHaveLength(8);
    expect(huaweiScanTargetSchema.parse(byType.private_image!.target).image_info_list!.filter((e) => e.instance_id && e.instance_url)).toHaveLength(8);

    // One digest under several tags is one image: `latest` rides along with the version it tags.
    const images = scans.flatMap((s) => s.images);
    expect(new Set(images.map((i) => i.digest)).size).toBe(DIGESTS);
    const aliased = images.filter((i) => i.tags.includes('latest'));
    expect(aliased).toHaveLength(ALIASES);
    for (const i of aliased) expect(i.tags).toHaveLength(2);

    // Every image ends; the four special images whose scans fail are the only failures.
    expect(images.every((i) => i.status === 'succeeded' || i.status === 'failed')).toBe(true);
    expect(images.filter((i) => i.status === 'failed').map((i) => i.repository.split('/')[1]).sort()).toEqual(['download-fails', 'expired-share', 'oversized', 'scan-fails']);
    const { totals, byProvider } = await h.worker.runtime.bulkScans.totals(done);
    expect(totals).toMatchObject({ planned: DIGESTS, succeeded: DIGESTS - 4, failed: 4, queued: 0, running: 0, skipped: 0, cancelled: 0 });
    expect(byProvider.huawei).toMatchObject({ planned: DIGESTS, succeeded: DIGESTS - 4, failed: 4 });
    expect(await h.worker.runtime.db.finding.count({ where: { scanId: { in: scans.map((s) => s.id) } } })).toBeGreaterThan(237);

    // The simulator's own books: two batch-scan calls, every listed image known and started once.
    const sim = await state();
    const calls = sim.batchScanCalls.filter((c) => c.account === HW.name);
    expect(calls.map((c) => [c.imageType, c.operateAll, c.listed, c.unmatched]).sort()).toEqual([
      ['private_image', false, 77, 0],
      ['shared_image', false, 9, 0],
    ]);
    expect(sim.accounts[0]!.scansStarted).toBe(DIGESTS);
    const counted = await h.calls();
    expect(counted.totals['huawei:BatchScanSwrImage']).toBe(2);
    // No quota (HSS.1002) or flow-control (APIG.0308) answer, and no other error either.
    expect(Object.keys(counted.outcomes).filter((k) => k.startsWith('huawei:') && !k.endsWith(':ok'))).toEqual([]);
  });

  it('pushes registries, namespaces and repositories down to the list query', async () => {
    const all = await listAll({});
    const [repository] = all.filter((i) => i.tags[0] === 'latest').map((i) => i.repository);
    const namespace = repository!.split('/')[0]!;

    let before = await listCalls();
    const repo = await listAll({ repositories: [repository!] });
    // One query per image type, each already narrowed to namespace + image_name.
    expect(await listCalls()).toBe(before + 3);
    expect(repo.map((i) => i.tags[0])).toHaveLength(5);
    expect(repo.every((i) => i.repository === repository && i.registry === 'private_image' && i.namespace === namespace && i.pushedAt instanceof Date)).toBe(true);
    // Same digest, two entries: the planner merges them (oneImagePerDigest), the adapter reports what HSS lists.
    expect(new Set(repo.map((i) => i.digest)).size).toBe(4);

    before = await listCalls();
    const shared = await listAll({ registries: ['shared_image'], namespaces: [namespace, 'scanq-special'] });
    expect(await listCalls()).toBe(before + 2);
    expect(shared.every((i) => i.registry === 'shared_image' && [namespace, 'scanq-special'].includes(i.namespace!))).toBe(true);
    expect(shared.map((i) => i.repository)).toContain('scanq-special/expired-share');

    // A registry given as the SWR Enterprise instance's bare id lists that instance (one query).
    const instance = all.find((i) => i.registry.startsWith('instance_image/'))!.registry;
    before = await listCalls();
    const byId = await listAll({ registries: [instance.slice('instance_image/'.length)] });
    expect(await listCalls()).toBe(before + 1);
    expect(byId.length).toBe(all.filter((i) => i.registry === instance).length);
    expect(byId.every((i) => i.registry === instance)).toBe(true);

    before = await listCalls();
    expect(await listAll({ registries: ['no-such-instance'] })).toEqual([]);
    expect(await listAll({ repositories: ['no-namespace'] })).toEqual([]);
    expect(await listCalls()).toBe(before + 1);
  });

  it('pages the inventory 200 entries at a time', async () => {
    const res = await fetch(`${h.sim.url}/_sim/config/huawei`, { method: 'POST', body: JSON.stringify({ imagesPerAccount: 1000 }), headers: { 'content-type': 'application/json' } });
    expect(res.ok).toBe(true);
    const { byType } = (await state()).accounts[0]!.images;
    const before = await listCalls();
    const pages: number[] = [];
    for await (const page of inventory(accountAt(h.sim.url), {})) pages.push(page.length);
    const expected = ['private_image', 'shared_image', 'instance_image'].reduce((n, t) => n + Math.max(1, Math.ceil((byType[t] ?? 0) / 200)), 0);
    expect(await listCalls()).toBe(before + expected);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(1000 + 6 + ALIASES);
    expect(Math.max(...pages)).toBe(200);
  });

  it('plans one scan per 10241 images of a type, balanced, each a valid request covering exactly its images', () => {
    const account = accountAt('http://unused');
    const image = (registry: string, n: number): InventoryImage => ({
      registry,
      repository: `ns-${n % 7}/repo-${Math.floor(n / 4)}`,
      tags: [`1.0.${n % 4}`, ...(n % 4 === 3 ? ['latest'] : [])],
      digest: `sha256:${registry}-${n}`,
      ...(registry.startsWith('instance') ? { raw: { instance_url: 'swr-ee.example.com' } } : {}),
    });
    const images = [
      ...Array.from({ length: 2 * HSS_MAX_BATCH_IMAGES }, (_, n) => image('private_image', n)),
      ...Array.from({ length: 1 }, (_, n) => image('instance_image/ee-1', n)),
      ...Array.from({ length: 5 }, (_, n) => image('shared_image', n)),
    ];
    if (!isBulkCapable(huawei)) throw new Error('not bulk-capable');
    const planned = huawei.planScans(account, images);
    expect(planned.map((p) => [huaweiScanTargetSchema.parse(p.target).image_type, p.images.length])).toEqual([
      ['private_image', 6828],
      ['private_image', 6828],
      ['private_image', 6827],
      ['shared_image', 5],
    ]);
    for (const p of planned) {
      const target = huaweiScanTargetSchema.parse(p.target);
      expect(target.operate_all).toBeUndefined();
      // Only the first tag of an image is scanned (the others are the same digest).
      expect(target.image_info_list!.map((e) => `${e.namespace}/${e.image_name}:${e.image_version}`)).toEqual(p.images.map((i) => `${i.repository}:${i.tags[0]}`));
    }
    expect(new Set(planned.flatMap((p) => p.images)).size).toBe(images.length);
    const ee = planned.flatMap((p) => huaweiScanTargetSchema.parse(p.target).image_info_list!).filter((e) => e.instance_id);
    expect(ee).toEqual([{ namespace: 'ns-0', image_name: 'repo-0', image_version: '1.0.0', instance_id: 'ee-1', instance_url: 'swr-ee.example.com' }]);
  });
});
