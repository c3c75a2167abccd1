import { alibabaScanTargetSchema, SIMULATOR_ACCOUNTS } from '@scanq/core';
import { AlibabaSasProvider, type InventoryImage } from '@scanq/providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneImagePerDigest } from '../../../packages/scans/src/bulk-scan.service.js';
import { waitFor, waitForEnded } from '../../../test/support/wait.js';
import { startHarness, type WorkerHarness } from './harness.js';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';

const SIM = SIMULATOR_ACCOUNTS.alibaba[0];
/** scanq's and the simulator's task limit here: 2, so three tasks must queue for a slot. */
const TASK_LIMIT = 2;
const IMAGES = 230;

interface SimImage {
  uuid: string;
  digest: string;
  tag: string;
  repoName: string;
  repoNamespace: string;
  instanceId: string;
  registryType: string;
  supportedRegion: boolean;
  behaviour: 'normal' | 'scan-fail' | 'scan-timeout';
  potentialFindings: number;
}
interface SimAccount {
  name: string;
  beyondQuataCount: number;
  images: SimImage[];
  finishedTasks: { taskId: string; uuids: string[] }[];
  runningTasks: { taskId: string; uuids: string[] }[];
}

/** Bulk scans of Alibaba SAS through the real planner, worker, openapi-client and simulator. */
describe('bulk scans (Alibaba SAS inventory: DescribeImageInstances)', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness(
      'bulkalibaba',
      { SCANQ_POLL_INITIAL_MS: '100', SCANQ_POLL_MAX_MS: '200', SCANQ_ALIBABA_TASK_LIMIT: String(TASK_LIMIT), SCANQ_ALIBABA_QUOTA_RETRY_MS: '200' },
      { SIM_ALIBABA_IMAGES: String(IMAGES), SIM_ALIBABA_SCAN_MS: '400', SIM_ALIBABA_TASK_LIMIT: String(TASK_LIMIT) },
    );
    await h.addAccount('alibaba');
  });
  afterAll(async () => h?.close());

  const simAccount = async (): Promise<SimAccount> => {
    const state = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: SimAccount[] };
    return state.accounts.find((a) => a.name === SIM.name) as SimAccount;
  };
  const waitBulk = (id: string) =>
    waitForEnded(() => h.worker.runtime.bulkScans.get(id), { timeoutMs: 45_000, what: `bulk scan ${id}` });
  const scansOf = (bulkScanId: string) => h.worker.runtime.db.scan.findMany({ where: { bulkScanId }, include: { images: true } });

  it('scans every image of the account in few large tasks through the task slots, one image per digest', async () => {
    const { images: seeded } = await simAccount();
    // The seed re-tags one image: the same digest in the same repository under two tags.
    const byDigest = new Map<string, SimImage[]>();
    for (const i of seeded) {
      const key = `${i.instanceId}/${i.repoNamespace}/${i.repoName}@${i.digest}`;
      byDigest.set(key, [...(byDigest.get(key) ?? []), i]);
    }
    const retagged = [...byDigest.values()].find((g) => g.length > 1)!;
    expect(retagged).toHaveLength(2);
    const distinct = byDigest.size;
    expect(distinct).toBe(IMAGES - 1);
    // Images in a region without image scanning: the listing shows their region, so the bulk scan
    // skips them (counted) instead of starting and failing them.
    const unsupported = [...byDigest.values()].filter((g) => !g[0]!.supportedRegion).length;
    expect(unsupported).toBeGreaterThan(0);
    const scannable = distinct - unsupported;

    const before = await h.calls();
    const { bulk } = await h.worker.runtime.bulk.create({ selector: { providers: ['alibaba'] } });
    const done = await waitBulk(bulk.id);
    expect(done.status).toBe('succeeded');
    expect(done.selected).toBe(scannable);
    expect(done.skipped).toBe(unsupported);

    // What planScans promises: one task per 100 digests (the per-field limit).
    const scans = await scansOf(bulk.id);
    expect(scans).toHaveLength(Math.ceil(scannable / 100));
    expect(scans.map((s) => s.images.length).sort((a, b) => b - a)).toEqual(Array.from({ length: Math.ceil(scannable / 100) }, (_, i) => Math.min(100, scannable - i * 100)));
    const sim = await simAccount();
    expect(sim.runningTasks).toHaveLength(0);
    const tasks = new Map(sim.finishedTasks.map((t) => [t.taskId, t.uuids]));
    expect(tasks.size).toBe(scans.length);
    const retagUuids = new Set(retagged.map((i) => i.uuid));
    for (const scan of scans) {
      // A valid request target for the cloud, covering exactly the scan's images (the re-tag's
      // second Uuid rides along with its digest).
      expect(alibabaScanTargetSchema.safeParse(scan.target).success).toBe(true);
      const covered = new Set(tasks.get(scan.providerTaskId!)!);
      const own = scan.images.map((i) => i.providerImageId!);
      expect(own.every((u) => covered.has(u))).toBe(true);
      expect([...covered].filter((u) => !own.includes(u)).every((u) => retagUuids.has(u))).toBe(true);
    }

    // Every image terminal with the outcome the seed gives it; the re-tag is one image with both tags.
    const rows = scans.flatMap((s) => s.images);
    expect(rows).toHaveLength(scannable);
    expect(rows.every((i) => i.status === 'succeeded' || i.status === 'failed')).toBe(true);
    const seed = new Map(seeded.map((i) => [i.uuid, i]));
    for (const row of rows) {
      const image = seed.get(row.providerImageId!)!;
      expect(image.supportedRegion).toBe(true);
      if (image.behaviour === 'scan-fail') expect([row.status, row.reason]).toEqual(['failed', 'scan_failed']);
      else if (image.behaviour === 'scan-timeout') expect([row.status, row.reason]).toEqual(['failed', 'timed_out']);
      else expect(row.status).toBe('succeeded');
    }
    const merged = rows.filter((r) => r.digest === `sha256:${retagged[0]!.digest}`);
    expect(merged).toHaveLength(1);
    expect([...merged[0]!.tags].sort()).toEqual(retagged.map((i) => i.tag).sort());
    // Findings arrived complete through the batched listing.
    const sample = rows.find((r) => r.status === 'succeeded' && seed.get(r.providerImageId!)!.potentialFindings > 0)!;
    expect(await h.worker.runtime.db.finding.count({ where: { imageScanId: sample.id } })).toBe(seed.get(sample.providerImageId!)!.potentialFindings);

    // Totals add up (counted in images).
    const failed = rows.filter((r) => r.status === 'failed').length;
    const { totals, byProvider } = await h.worker.runtime.bulkScans.totals(done);
    expect(totals).toMatchObject({ planned: distinct, succeeded: scannable - failed, failed, queued: 0, running: 0, skipped: unsupported });
    expect(byProvider.alibaba).toMatchObject({ succeeded: scannable - failed, failed, skipped: unsupported });

    // The quota: never more tasks at once than the limit, never refused by the cloud; one pre-check + create per task.
    const after = await h.calls();
    const delta = (api: string) => (after.totals[`alibaba:${api}`] ?? 0) - (before.totals[`alibaba:${api}`] ?? 0);
    expect(after.gauges[`alibaba:${SIM.name}:runningTasks`]!.max).toBeLessThanOrEqual(TASK_LIMIT);
    expect(after.gauges[`alibaba:${SIM.name}:runningTasks`]!.max).toBe(TASK_LIMIT);
    expect(sim.beyondQuataCount).toBe(0);
    expect(delta('PublicCreateImageScanTask')).toBe(scans.length);
    expect(delta('PublicPreCheckImageScanTask')).toBe(scans.length);
    // Coalesced: status look-ups per task and poll, findings per page of many images, never per
    // image (that would take at least one status and two findings calls for each).
    expect(delta('DescribeImageInstances')).toBeLessThan(distinct / 4);
    expect(delta('DescribeImageVulList')).toBeLessThan((scannable - failed) / 2);
  });

  it('pushes one selected registry down to the listing and plans tasks inside it', async () => {
    const { images: seeded } = await simAccount();
    const home = seeded.find((i) => i.registryType === 'acr' && i.behaviour === 'normal' && i.supportedRegion)!;
    const registryImages = seeded.filter((i) => i.instanceId === home.instanceId);
    const sas = new AlibabaSasProvider(SIM_DEPS);
    const account = { id: 'plan', provider: 'alibaba' as const, name: SIM.name, region: SIM.region, endpoint: h.sim.url, settings: {}, credentials: { accessKeyId: SIM.accessKeyId, accessKeySecret: SIM.accessKeySecret } };
    const listed: InventoryImage[] = [];
    for await (const page of sas.listImages(account, {})) listed.push(...page);
    expect(listed).toHaveLength(IMAGES);
    const registry = listed.find((i) => i.providerImageId === home.uuid)!.registry;
    expect(registry).toMatch(/^acr:[a-z0-9-]+:cri-/);

    const before = (await h.calls()).totals['alibaba:DescribeImageInstances'] ?? 0;
    const narrowed: InventoryImage[] = [];
    for await (const page of sas.listImages(account, { registries: [registry] })) narrowed.push(...page);
    expect((await h.calls()).totals['alibaba:DescribeImageInstances']! - before).toBe(Math.ceil(registryImages.length / 100));
    expect(narrowed.map((i) => i.providerImageId).sort()).toEqual(registryImages.map((i) => i.uuid).sort());
    expect(narrowed.every((i) => i.registry === registry && i.digest?.startsWith('sha256:') && i.namespace && i.pushedAt instanceof Date)).toBe(true);

    const planned = sas.planScans(account, oneImagePerDigest(narrowed));
    for (const p of planned) {
      const target = alibabaScanTargetSchema.parse(p.target);
      expect(target.instanceIds).toEqual([home.instanceId]);
      expect(target.digests!.length).toBeLessThanOrEqual(100);
      expect(new Set(p.images.map((i) => i.digest!.slice(7)))).toEqual(new Set(target.digests));
    }
    expect(planned.flatMap((p) => p.images)).toHaveLength(oneImagePerDigest(narrowed).length);
  });

  it("selects images by their own region (an account's images span regions) and a registry by the cloud's bare instance id", async () => {
    const { runtime } = h.worker;
    const sas = new AlibabaSasProvider(SIM_DEPS);
    const account = { id: 'plan', provider: 'alibaba' as const, name: SIM.name, region: SIM.region, endpoint: h.sim.url, settings: {}, credentials: { accessKeyId: SIM.accessKeyId, accessKeySecret: SIM.accessKeySecret } };
    const listed: InventoryImage[] = [];
    for await (const page of sas.listImages(account, {})) listed.push(...page);
    const away = listed.find((i) => i.region && i.region !== SIM.region && !i.unscannable)!.region!;
    const instance = listed.find((i) => i.registry.startsWith('acr:') && !i.unscannable)!.registry;
    const plannedFor = async (selector: Record<string, unknown>) => {
      const { bulk } = await runtime.bulk.create({ selector: { providers: ['alibaba'], ...selector } });
      const planned = await waitFor(async () => {
        const b = await runtime.bulkScans.get(bulk.id);
        return b && b.status !== 'planning' ? b : undefined;
      });
      await runtime.bulk.cancel(bulk.id); // the selection is what is checked here, not the scans
      const images = (await scansOf(bulk.id)).flatMap((sc) => sc.images);
      return { selected: planned.selected, images };
    };
    // A region other than the account's own: only that region's images (before, the account was left out: none).
    const awayPlan = await plannedFor({ regions: [away] });
    expect(awayPlan.selected).toBe(oneImagePerDigest(listed.filter((i) => i.region === away)).length);
    expect(awayPlan.images.length).toBe(awayPlan.selected);
    expect(awayPlan.selected).toBeGreaterThan(0);
    expect(awayPlan.images.every((i) => i.registry.split(':')[1] === away)).toBe(true);
    // The account's own region: its images only, not every region's.
    const homePlan = await plannedFor({ regions: [SIM.region] });
    expect(homePlan.selected).toBe(oneImagePerDigest(listed.filter((i) => (i.region ?? SIM.region) === SIM.region)).length);
    // A registry named by its bare ACR instance id selects what scanq's own form selects.
    const bare = await plannedFor({ registries: [instance.split(':')[2]!] });
    expect(bare.selected).toBe(oneImagePerDigest(listed.filter((i) => i.registry === instance && !i.unscannable)).length);
    expect(bare.images.every((i) => i.registry === instance)).toBe(true);
  });
});
