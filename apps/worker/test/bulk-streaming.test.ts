import { QueueName } from '@scanq/core';
import type { InventoryImage, InventoryQuery, ProviderAccount } from '@scanq/providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAN_BATCH_IMAGES, PLAN_IN_FLIGHT } from '../../../packages/scans/src/bulk-scan.service.js';
import { waitFor } from '../../../test/support/wait.js';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';

/** ECR's DescribeImages page (the adapter asks for the most it allows). */
const PAGE = 1000;
/** More images than two plan batches and a page, so a planner that held the listing shows it. */
const IMAGES = 2 * PLAN_BATCH_IMAGES + 3 * PAGE;

/**
 * The planner streams a large listing (issue 19): what Postgres and Redis hold at each page the
 * real ECR adapter hands it, read by a wrapper around the adapter's listing that only observes.
 * The worker serves `maintenance` alone, so the planned start jobs stay in Redis to be counted.
 */
describe('bulk planning streams its listing', () => {
  let h: WorkerHarness;
  /** Per page handed to the planner: Scan rows of the bulk scan in Postgres and jobs on the aws queue, just before. */
  const seen: { page: number; scans: number; jobs: number }[] = [];
  let bulkScanId = '';

  beforeAll(async () => {
    // A grace of a minute (tests default to 0): the reconcile below must not take the fresh bulk scan
    // for a stuck plan and have this worker plan it, deleting the test's own unplanned scan.
    h = await startHarness('bulkstream', { SCANQ_WORKER_QUEUES: 'maintenance', SCANQ_RECONCILE_GRACE_MS: '60000' }, { SIM_AWS_BENCH_IMAGES: String(IMAGES) });
    const { runtime } = h.worker;
    const aws = runtime.providers.aws as unknown as { listImages(account: ProviderAccount, query: InventoryQuery): AsyncIterable<InventoryImage[]> };
    const list = aws.listImages.bind(aws);
    aws.listImages = async function* (account, query) {
      let page = 0;
      for await (const images of list(account, query)) {
        if (bulkScanId) {
          const scans = await runtime.db.scan.count({ where: { bulkScanId } });
          const counts = await runtime.queues.queue(QueueName.aws).getJobCounts('prioritized', 'waiting', 'delayed');
          seen.push({ page, scans, jobs: Object.values(counts).reduce((a, b) => a + b, 0) });
        }
        page += 1;
        yield images;
      }
    };
  }, 120_000);
  afterAll(async () => h?.close());

  it('inserts each batch while listing on, holds at most PLAN_IN_FLIGHT batches and a page, and enqueues only once the plan is recorded', async () => {
    const { runtime } = h.worker;
    const { bulk } = await runtime.bulk.create({ selector: { repositories: ['bench/images'] } });
    bulkScanId = bulk.id;
    // Planned: running (its scans wait in Redis, no worker serves aws here).
    const planned = await waitFor(async () => {
      const b = await runtime.bulkScans.get(bulk.id);
      return b && b.status !== 'planning' ? b : undefined;
    }, { timeoutMs: 240_000, what: 'planning', intervalMs: 200 });
    expect(planned.status).toBe('running');
    expect(planned.selected).toBe(IMAGES);
    expect(seen).toHaveLength(IMAGES / PAGE);
    for (const { page, scans, jobs } of seen) {
      // Pages 0..page-1 have reached the planner: all but the batch it is filling, and the
      // batches still being inserted while it lists on (fewer than PLAN_IN_FLIGHT), are in Postgres.
      expect(scans, `Scan rows when page ${page} was handed over`).toBeGreaterThanOrEqual(page * PAGE - (PLAN_BATCH_IMAGES - 1) - (PLAN_IN_FLIGHT - 1) * PLAN_BATCH_IMAGES);
      expect(scans).toBeLessThanOrEqual(page * PAGE);
      // No start job before the plan is recorded (a cancel during planning must find none).
      expect(jobs).toBe(0);
    }
    // A planner that held the listing would have inserted nothing before its last page.
    // Here: of the two full batches, the first at least (the second may still be inserted).
    expect(seen[seen.length - 1]!.scans).toBeGreaterThanOrEqual((2 - (PLAN_IN_FLIGHT - 1)) * PLAN_BATCH_IMAGES);
    // Every scan got exactly one start job, read back from Postgres in pages.
    const rows = await runtime.db.scan.findMany({ where: { bulkScanId: bulk.id }, select: { id: true, status: true } });
    expect(rows).toHaveLength(IMAGES);
    const queue = runtime.queues.queue(QueueName.aws);
    await expect.poll(async () => (await queue.getJobCounts('prioritized')).prioritized, { timeout: 60_000, interval: 200 }).toBe(IMAGES);
    const live = await runtime.queues.liveJobs(rows.map((r) => ({ queue: QueueName.aws, id: r.id })));
    expect(live.filter(Boolean)).toHaveLength(IMAGES);
    await runtime.bulk.cancel(bulk.id);
  }, 300_000);

  it('an account whose listing fails after pages were planned is left out whole: the rows it inserted go', async () => {
    const { runtime } = h.worker;
    bulkScanId = '';
    // The bulk scan's row alone (no plan job): the planner runs here, as its last attempt.
    const { bulk } = await runtime.bulkScans.create({ selector: { repositories: ['bench/images'] }, force: false });
    const aws = runtime.providers.aws as unknown as { listImages(account: ProviderAccount, query: InventoryQuery): AsyncIterable<InventoryImage[]> };
    const list = aws.listImages;
    let pages = 0;
    aws.listImages = async function* (account, query) {
      for await (const images of list.call(aws, account, query)) {
        // Past two batches, every further DescribeImages call fails (the SDK's own retries too).
        if (++pages === 2 * (PLAN_BATCH_IMAGES / PAGE) + 1) await injectFault(h.sim, { cloud: 'aws', api: 'DescribeImages', kind: 'server_error', count: 1000 });
        yield images;
      }
    };
    try {
      await runtime.bulk.plan(bulk.id, { finalAttempt: true });
    } finally {
      aws.listImages = list;
      await fetch(`${h.sim.url}/_sim/faults`, { method: 'DELETE' });
    }
    const done = (await runtime.bulkScans.get(bulk.id))!;
    const entry = (done.plan as { accounts: { listed: number; selected: number; scans: number; error?: string }[] }).accounts[0]!;
    expect(entry.error).toBeTruthy();
    expect(entry.listed).toBeGreaterThan(2 * PLAN_BATCH_IMAGES);
    expect(entry).toMatchObject({ selected: 0, scans: 0 });
    expect(done.status).toBe('failed');
    expect(await runtime.db.scan.count({ where: { bulkScanId: bulk.id } })).toBe(0);
  }, 300_000);

  it('the reconciler leaves the scans of a bulk scan still planning alone (no job yet by design), and enqueues them once it is planned', async () => {
    const { runtime } = h.worker;
    const { bulk } = await runtime.bulkScans.create({ selector: { repositories: ['bench/images'] }, force: false });
    const [scan] = await runtime.scans.createMany([{ provider: 'aws', accountId: h.account.id, target: { repositoryName: 'bench/images', imageId: { imageTag: 'b-000001' } }, deadlineAt: new Date(Date.now() + 3600_000), bulkScanId: bulk.id }]);
    // Inserted long ago as far as the reconciler's grace goes.
    await runtime.db.scan.update({ where: { id: scan!.id }, data: { updatedAt: new Date(Date.now() - 3600_000) } });
    await runtime.reconciler.reconcile();
    expect((await runtime.db.scan.findUniqueOrThrow({ where: { id: scan!.id } })).jobId).toBeNull();
    expect(await runtime.queues.liveJobs([{ queue: QueueName.aws, id: scan!.id }])).toEqual([false]);

    await runtime.bulkScans.planned(bulk.id, { selected: 1, skipped: 0, plan: { accounts: [] } });
    await runtime.db.scan.update({ where: { id: scan!.id }, data: { updatedAt: new Date(Date.now() - 3600_000) } });
    await runtime.reconciler.reconcile();
    const reenqueued = (await runtime.db.scan.findUniqueOrThrow({ where: { id: scan!.id } })).jobId;
    expect(reenqueued).toBeTruthy();
    expect(await runtime.queues.liveJobs([{ queue: QueueName.aws, id: reenqueued! }])).toEqual([true]);
    await runtime.bulk.cancel(bulk.id);
  }, 120_000);
});
