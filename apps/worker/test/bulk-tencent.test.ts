import { TENCENT_MAX_IMAGES, tencentScanTargetSchema } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForEnded } from '../../../test/support/wait.js';
import { startHarness, type WorkerHarness } from './harness.js';

/** A registry image as the simulator's state lists it. */
interface SimImage {
  Id: number;
  ImageDigest: string;
  ImageRepoAddress: string;
  Namespace: string;
  ImageName: string;
  ImageTag: string;
  IsAuthorized: number;
  IsLatestImage: boolean;
  special: string | null;
}

interface TencentState {
  accounts: { name: string; images: SimImage[] }[];
  rateLimit: { limitPerSecond: number; maxAcceptedPerSecond: Record<string, number>; rejectedTotal: number };
}

/** 130 regular images + 4 special ones; every multi-tag repository's `latest` aliases its newest version. */
const SEEDED = 130;
/** TCSS's documented rate: 20 requests per second per API. */
const TCSS_RPS = 20;

/**
 * Bulk scans of a Tencent TCSS account through the real planner, tencentcloud-sdk-nodejs and the
 * simulator: inventory by DescribeAssetImageRegistryList, one CreateAssetImageRegistryScanTask
 * per 100 images, status of a whole task by one DescribeAssetImageRegistryScanStatusOneKey.
 */
describe('bulk scans (Tencent TCSS inventory)', { timeout: 60_000 }, () => {
  let h: WorkerHarness;
  let images: SimImage[] = [];

  beforeAll(async () => {
    h = await startHarness('bulktencent', { SCANQ_POLL_INITIAL_MS: '100', SCANQ_POLL_MAX_MS: '2000' }, { SIM_TENCENT_SCAN_MS: '600', SIM_TENCENT_IMAGES: String(SEEDED), SIM_TENCENT_TAG_ALIASES: '1' });
    await h.addAccount('tencent');
    const state = (await (await fetch(`${h.sim.url}/_sim/state/tencent`)).json()) as TencentState;
    images = state.accounts.find((a) => a.name === 'sim-tencent')!.images;
  });
  afterAll(async () => h?.close());

  const simState = async () => (await (await fetch(`${h.sim.url}/_sim/state/tencent`)).json()) as TencentState;
  const calls = async () => (await h.calls()).totals;
  const delta = (before: Record<string, number>, after: Record<string, number>, api: string) => (after[`tencent:${api}`] ?? 0) - (before[`tencent:${api}`] ?? 0);
  const waitBulk = (id: string) =>
    waitForEnded(() => h.worker.runtime.bulkScans.get(id), { timeoutMs: 50_000, what: `bulk scan ${id}` });
  const scansOf = (bulkScanId: string) => h.worker.runtime.db.scan.findMany({ where: { bulkScanId }, include: { images: true } });
  /** One image per registry/repository/digest among the images TCSS may scan. */
  const distinct = (list: SimImage[]) => new Set(list.filter((i) => i.IsAuthorized === 1).map((i) => `${i.ImageRepoAddress}@${i.ImageDigest}`));

  it('scans the whole account in 100-image tasks, every image to a terminal state, within 20 requests/s per API', async () => {
    const expected = distinct(images).size;
    const authorized = images.filter((i) => i.IsAuthorized === 1).length;
    const before = await calls();
    const { bulk } = await h.worker.runtime.bulk.create({ selector: { providers: ['tencent'] } });
    const done = await waitBulk(bulk.id);
    const after = await calls();
    expect(done.status).toBe('succeeded');
    expect(done.selected).toBe(expected);

    // Scans: as many as planScans promises (ceil(n / 100)); each target is a valid request that
    // names exactly its images.
    const scans = await scansOf(bulk.id);
    expect(scans).toHaveLength(Math.ceil(expected / TENCENT_MAX_IMAGES));
    for (const scan of scans) {
      const target = tencentScanTargetSchema.parse(scan.target);
      expect(target.repositoryIds!.slice().sort()).toEqual(scan.images.map((i) => Number(i.providerImageId)).sort());
    }
    expect(delta(before, after, 'CreateAssetImageRegistryScanTask')).toBe(scans.length);

    // Every image terminal; only the simulator's scan-error image fails, with TCSS's reason.
    const all = scans.flatMap((s) => s.images);
    expect(all).toHaveLength(expected);
    expect(all.every((i) => i.status === 'succeeded' || i.status === 'failed')).toBe(true);
    const failed = all.filter((i) => i.status === 'failed');
    expect(failed.map((i) => [i.repository, i.reason])).toEqual([['scanq-special/scan-error', 'scan_failed']]);
    expect(scans.every((s) => s.status === 'succeeded')).toBe(true);
    const { totals, byProvider } = await h.worker.runtime.bulkScans.totals(done);
    expect(totals).toMatchObject({ planned: expected, succeeded: expected - 1, failed: 1, queued: 0, running: 0, skipped: 0, cancelled: 0 });
    expect(byProvider.tencent).toMatchObject({ planned: expected, succeeded: expected - 1, failed: 1 });
    const findings = await h.worker.runtime.db.finding.count({ where: { scanId: { in: scans.map((s) => s.id) } } });
    expect(findings).toBeGreaterThan(expected);

    // Inventory: full paging at 100 a page over the images TCSS may scan.
    expect(delta(before, after, 'DescribeAssetImageRegistryList')).toBe(Math.ceil(authorized / 100));
    // Coalesced polling: a poll costs one status call per task, not one call per image; a
    // Detail only where a row cannot settle an image (its failure reason) or one image is left.
    const statusCalls = delta(before, after, 'DescribeAssetImageRegistryScanStatusOneKey');
    const detailCalls = delta(before, after, 'DescribeAssetImageRegistryDetail');
    expect(statusCalls).toBeGreaterThanOrEqual(scans.length);
    expect(statusCalls + detailCalls).toBeLessThan(expected / 4);

    // The simulator is the judge of the rate: nothing over 20/s per API, nothing refused.
    const outcomes = (await h.calls()).outcomes;
    expect(Object.keys(outcomes).filter((k) => k.startsWith('tencent:') && k.endsWith(':RequestLimitExceeded'))).toEqual([]);
    const rate = (await simState()).rateLimit;
    expect(rate.rejectedTotal).toBe(0);
    expect(Math.max(...Object.values(rate.maxAcceptedPerSecond))).toBeLessThanOrEqual(TCSS_RPS);
  });

  it('scans a digest listed under several tags once, with every tag', async () => {
    const byDigest = new Map<string, SimImage[]>();
    for (const i of images) byDigest.set(`${i.ImageRepoAddress}@${i.ImageDigest}`, [...(byDigest.get(`${i.ImageRepoAddress}@${i.ImageDigest}`) ?? []), i]);
    const aliased = [...byDigest.values()].find((list) => list.length > 1)!;
    expect(aliased.map((i) => i.ImageTag)).toContain('latest');
    const [first] = aliased;
    const repository = `${first!.Namespace}/${first!.ImageName}`;
    const inRepo = images.filter((i) => `${i.Namespace}/${i.ImageName}` === repository && i.ImageRepoAddress === first!.ImageRepoAddress);

    const { bulk } = await h.worker.runtime.bulk.create({ selector: { providers: ['tencent'], repositories: [repository] } });
    const done = await waitBulk(bulk.id);
    expect(done.status).toBe('succeeded');
    const scanImages = (await scansOf(bulk.id)).flatMap((s) => s.images);
    expect(scanImages).toHaveLength(distinct(inRepo).size);
    expect(scanImages.length).toBeLessThan(inRepo.length);
    const merged = scanImages.filter((i) => i.digest === first!.ImageDigest);
    expect(merged).toHaveLength(1);
    expect(merged[0]!.tags.slice().sort()).toEqual(aliased.map((i) => i.ImageTag).sort());
    expect(merged[0]!.status).toBe('succeeded');
    // Namespace and image name went down to TCSS: one page lists only this repository.
    const plan = done.plan as { accounts: { provider: string; listed: number }[] };
    expect(plan.accounts.find((a) => a.provider === 'tencent')!.listed).toBe(inRepo.filter((i) => i.IsAuthorized === 1).length);
  });

  it('plans latest-tag-only from the listing (ImageCreateTime as the push time)', async () => {
    const { bulk } = await h.worker.runtime.bulk.create({ selector: { providers: ['tencent'], latestTagOnly: true } });
    const done = await waitBulk(bulk.id);
    expect(done.status).toBe('succeeded');
    const scanImages = (await scansOf(bulk.id)).flatMap((s) => s.images);
    const repos = new Set(images.filter((i) => i.IsAuthorized === 1).map((i) => `${i.ImageRepoAddress}`));
    expect(scanImages).toHaveLength(repos.size);
    // Per repository: the `latest` tag, else the newest push (TCSS marks it IsLatestImage).
    for (const img of scanImages) {
      const newest = images.find((i) => i.ImageRepoAddress === `${img.registry}/${img.repository}` && i.IsLatestImage)!;
      expect(img.tags).toContain(newest.ImageTag);
    }
  });
});
