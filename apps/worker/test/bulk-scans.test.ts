import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from '../src/worker.js';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';
import { waitFor, waitForEnded } from '../../../test/support/wait.js';

/** Bulk scans through the real planner, ECR SDK and simulator (AWS inventory: DescribeRepositories + DescribeImages). */
describe('bulk scans (AWS inventory)', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness('bulk', { SCANQ_POLL_INITIAL_MS: '50' }, { SIM_AWS_SCAN_MS: '50', SIM_AWS_BENCH_IMAGES: '40' });
  });
  afterAll(async () => h?.close());

  const waitBulk = (id: string, statuses = ['succeeded', 'failed', 'cancelled']) =>
    waitFor(
      async () => {
        const b = await h.worker.runtime.bulkScans.get(id);
        return b && statuses.includes(b.status) ? b : undefined;
      },
      { timeoutMs: 30_000, what: `bulk scan ${id}` },
    );
  const scansOf = (bulkScanId: string) => h.worker.runtime.db.scan.findMany({ where: { bulkScanId }, include: { images: true } });

  it('scans every image of the selected repository once per digest and completes with totals and one event', async () => {
    const { bulk } = await h.worker.runtime.bulk.create({ selector: { providers: ['aws'], repositories: ['scanq/api'] } });
    const done = await waitBulk(bulk.id);
    expect(done.status).toBe('succeeded');
    const scans = await scansOf(bulk.id);
    // 7 digests in scanq/api; `latest`, `1.4.2` and `stable` share one, `1.4` and `1.4.0` another.
    // One is a cosign signature (an OCI artifact ECR cannot scan): the listing says so, so it is
    // skipped, not started and failed.
    expect(scans).toHaveLength(6);
    expect(new Set(scans.map((s) => s.images[0]!.digest)).size).toBe(6);
    expect(scans.find((s) => s.images[0]!.tags.includes('stable'))!.images[0]!.tags.sort()).toEqual(['1.4.2', 'latest', 'stable']);
    expect(scans.every((s) => s.status === 'succeeded')).toBe(true);
    expect((done.plan as { accounts: { unscannable?: Record<string, number> }[] }).accounts[0]!.unscannable).toEqual({ unsupported_image_type: 1 });
    const { totals, byProvider } = await h.worker.runtime.bulkScans.totals(done);
    expect(totals).toMatchObject({ planned: 7, succeeded: 6, failed: 0, queued: 0, running: 0, skipped: 1 });
    expect(byProvider.aws).toMatchObject({ planned: 7, succeeded: 6, skipped: 1 });
    const summary = done.summary as { event: string; totals: Record<string, number>; worstFindings: { severity: string }[] };
    expect(summary.event).toBe('bulk_scan.completed');
    expect(summary.totals.succeeded).toBe(6);
    expect(summary.worstFindings.length).toBeGreaterThan(0);
    expect(summary.worstFindings[0]!.severity).toBe('CRITICAL');
  });

  it('selects by tag glob and by latest tag only', async () => {
    const globbed = await waitBulk((await h.worker.runtime.bulk.create({ selector: { repositories: ['scanq/api'], tagPatterns: ['1.4*'] } })).bulk.id);
    const globScans = await scansOf(globbed.id);
    expect(globScans.map((s) => s.images[0]!.tags.sort().join(',')).sort()).toEqual(['1.4,1.4.0', '1.4.1', '1.4.2,latest,stable']);

    const latest = await waitBulk((await h.worker.runtime.bulk.create({ selector: { repositories: ['scanq/api', 'scanq/web', 'scanq/worker'], latestTagOnly: true } })).bulk.id);
    const latestScans = await scansOf(latest.id);
    expect(latestScans.map((s) => `${s.images[0]!.repository}:${s.images[0]!.tags.includes('latest')}`).sort()).toEqual(['scanq/api:true', 'scanq/web:true', 'scanq/worker:true']);
  });

  it('skips images scanned within N hours unless forced', async () => {
    const selector = { repositories: ['scanq/web'], skipScannedWithinHours: 24 };
    const first = await waitBulk((await h.worker.runtime.bulk.create({ selector: { repositories: ['scanq/web'] } })).bulk.id);
    const succeeded = (await scansOf(first.id)).filter((s) => s.status === 'succeeded').length;
    expect(succeeded).toBeGreaterThan(0);
    const skipping = await waitBulk((await h.worker.runtime.bulk.create({ selector })).bulk.id);
    expect(skipping.skipped).toBe(succeeded);
    expect((await h.worker.runtime.bulkScans.totals(skipping)).totals.skipped).toBe(succeeded);
    const forced = await waitBulk((await h.worker.runtime.bulk.create({ selector, force: true })).bulk.id);
    expect(forced.skipped).toBe(0);
    expect(await scansOf(forced.id)).toHaveLength(first.selected);
  });

  it('reuses a scan-on-push result the inventory already showed, without asking the cloud again', async () => {
    const calls = async () => (await h.calls()).totals;
    const before = await calls();
    const done = await waitBulk((await h.worker.runtime.bulk.create({ selector: { repositories: ['library/nginx'], latestTagOnly: true } })).bulk.id);
    const [scan] = await scansOf(done.id);
    expect(scan).toMatchObject({ status: 'succeeded', reason: 'reused_recent_scan' });
    const after = await calls();
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    expect(delta('aws:StartImageScan')).toBe(0);
    // One call: the poll that read the findings. The listing (DescribeImages) already told the
    // policy about the scan-on-push scan, so no DescribeImageScanFindings look-up before it.
    expect(delta('aws:DescribeImageScanFindings')).toBe(1);
  });

  it('plans a bulk scan once even when two planners run at the same time', async () => {
    const { runtime } = h.worker;
    // A row without a plan job, planned twice concurrently (a re-added job racing the first).
    const { bulk } = await runtime.bulkScans.create({ selector: { repositories: ['scanq/web'] }, force: false });
    const results = await Promise.allSettled([runtime.bulk.plan(bulk.id), runtime.bulk.plan(bulk.id)]);
    // One plans; the other finds the lease held and fails (its job is retried), or comes after and finds it planned.
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeLessThanOrEqual(1);
    for (const r of refused) expect(String((r as PromiseRejectedResult).reason)).toMatch(/being planned by another worker/);
    const done = await waitBulk(bulk.id);
    expect(done.status).toBe('succeeded');
    const scans = await scansOf(bulk.id);
    expect(scans).toHaveLength(done.selected);
    expect(scans.every((s) => s.status === 'succeeded' || s.status === 'failed')).toBe(true);
  });

  it('rejects an unknown named account naming the field', async () => {
    await expect(h.worker.runtime.bulk.create({ selector: { accounts: ['nope'] } })).rejects.toMatchObject({ status: 422, field: 'body.selector.accounts' });
  });

  it('refuses a selector no account matches, for bulk scans and schedules alike (422, not an empty success)', async () => {
    const { runtime } = h.worker;
    await expect(runtime.bulk.create({ selector: { accounts: ['sim-aws'], providers: ['alibaba'] } })).rejects.toMatchObject({ status: 422, code: 'no_matching_account', field: 'body.selector' });
    await expect(runtime.bulk.create({ selector: { regions: ['mars-1'] } })).rejects.toMatchObject({ status: 422, field: 'body.selector' });
    await expect(runtime.schedules.create({ name: 'ghost', cron: '0 2 * * *', timezone: 'UTC', enabled: true, force: false, selector: { accounts: ['ghost'] } })).rejects.toMatchObject({ status: 422, field: 'body.selector.accounts' });
    const ok = await runtime.schedules.create({ name: 'real', cron: '0 2 * * *', timezone: 'UTC', enabled: false, force: false, selector: { providers: ['aws'] } });
    await expect(runtime.schedules.update(ok.id, { selector: { accounts: ['ghost'] } })).rejects.toMatchObject({ status: 422 });
    await runtime.schedules.delete(ok.id);
  });

  it('scans the named repositories an account has when the selection names others it lacks (ECR fails such a listing whole)', async () => {
    const done = await waitBulk((await h.worker.runtime.bulk.create({ selector: { providers: ['aws'], repositories: ['scanq/web', 'scanq/typo'] } })).bulk.id);
    expect(done.status).toBe('succeeded');
    expect((done.plan as { errors?: string[] }).errors).toBeUndefined();
    const scans = await scansOf(done.id);
    expect(scans.length).toBe(5); // scanq/web's five digests
    expect(scans.every((s) => s.images[0]!.repository === 'scanq/web')).toBe(true);
  });

  it("takes over from a planner that died once its lease lapses, and a held lease fails the job (retried) instead of passing as done", async () => {
    const { runtime } = h.worker;
    const { bulk } = await runtime.bulkScans.create({ selector: { repositories: ['scanq/web'] }, force: false });
    // A dead planner's lease (as if its worker was killed mid-plan).
    await runtime.redis.set(runtime.keyspace.lock(`bulk-plan:${bulk.id}`), 'dead-planner', 'PX', 1_000);
    await expect(runtime.bulk.plan(bulk.id)).rejects.toThrow(/being planned by another worker/);
    expect((await runtime.bulkScans.get(bulk.id))!.status).toBe('planning');
    await new Promise((r) => setTimeout(r, 1_100));
    await runtime.bulk.plan(bulk.id);
    expect((await runtime.bulkScans.get(bulk.id))!.status).not.toBe('planning');
    await waitForEnded(() => runtime.bulkScans.get(bulk.id));
  });

  it('plans again when a cloud listing fails for a moment, and names the account only when the last try fails too', async () => {
    const { runtime } = h.worker;
    const { bulk } = await runtime.bulkScans.create({ selector: { repositories: ['scanq/web'] }, force: false });
    await injectFault(h.sim, { cloud: 'aws', api: 'DescribeRepositories', kind: 'server_error', count: 1 });
    await expect(runtime.bulk.plan(bulk.id, { finalAttempt: false })).rejects.toMatchObject({ kind: 'retryable' });
    await runtime.bulk.plan(bulk.id, { finalAttempt: false });
    const planned = (await runtime.bulkScans.get(bulk.id))!;
    expect((planned.plan as { errors?: string[] }).errors).toBeUndefined();
    expect(planned.selected).toBe(5);
    await waitForEnded(() => runtime.bulkScans.get(bulk.id));

    const { bulk: last } = await runtime.bulkScans.create({ selector: { repositories: ['scanq/web'] }, force: false });
    await injectFault(h.sim, { cloud: 'aws', api: 'DescribeRepositories', kind: 'server_error', count: 1 });
    await runtime.bulk.plan(last.id, { finalAttempt: true });
    const done = await waitForEnded(() => runtime.bulkScans.get(last.id));
    expect((done.plan as { errors?: string[] }).errors).toEqual([expect.stringMatching(/^sim-aws: /)]);
  });

  it('a cancel while scans are at the cloud: cancelled at once, finished with its completion event once they end', async () => {
    const { runtime } = h.worker;
    await h.configureAws({ scanDurationMs: 1_500 });
    try {
      const { bulk } = await runtime.bulk.create({ selector: { repositories: ['scanq/worker'] } });
      await waitFor(async () => ((await runtime.db.scan.count({ where: { bulkScanId: bulk.id, status: 'running' } })) > 0 ? true : undefined), { what: 'a bulk scan at the cloud' });
      const cancelled = (await runtime.bulk.cancel(bulk.id))!;
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.finishedAt).toBeNull(); // its scans at the cloud still run
      const done = await waitForEnded(() => runtime.bulkScans.get(bulk.id), { timeoutMs: 30_000, what: 'the cancelled bulk scan to finish' });
      expect(done.status).toBe('cancelled');
      const { totals } = await runtime.bulkScans.totals(done);
      expect(totals.queued + totals.running).toBe(0);
      expect(totals.succeeded + totals.failed).toBeGreaterThan(0); // the ones at the cloud ended in their real result
      expect(totals.planned).toBe(totals.succeeded + totals.failed + totals.cancelled + totals.skipped);
      const summary = done.summary as { event: string; status: string; totals: { succeeded: number } };
      expect(summary).toMatchObject({ event: 'bulk_scan.completed', status: 'cancelled', totals: { succeeded: totals.succeeded } });
    } finally {
      await h.configureAws({ scanDurationMs: 50 });
    }
  });
});

describe('bulk work behind on-demand scans, and cancellation', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    // The harness worker serves only maintenance: planning runs, provider work waits in Redis.
    h = await startHarness('bulklanes', { SCANQ_WORKER_QUEUES: 'maintenance', SCANQ_POLL_INITIAL_MS: '50' }, { SIM_AWS_SCAN_MS: '50', SIM_AWS_BENCH_IMAGES: '12' });
  });
  afterAll(async () => h?.close());

  it('starts an on-demand scan ahead of queued bulk work on the same provider', async () => {
    const { runtime } = h.worker;
    const { bulk } = await runtime.bulk.create({ selector: { repositories: ['bench/images'] } });
    await waitFor(async () => ((await runtime.bulkScans.get(bulk.id))?.status === 'running' ? true : undefined), { what: 'bulk planned' });
    const { scan } = await runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/worker', imageId: { imageTag: '3.0.1' } });
    // Now one AWS worker, one job at a time: the on-demand scan must be taken first.
    const aws = await startWorker(h.env.config({ SCANQ_WORKER_QUEUES: 'aws', SCANQ_WORKER_CONCURRENCY: '1', SCANQ_POLL_INITIAL_MS: '50' }));
    try {
      // Once two bulk scans have started, the order is settled: the on-demand one came first.
      const started = await waitFor(
        async () => {
          const rows = await runtime.db.scan.findMany({ where: { bulkScanId: bulk.id, startedAt: { not: null } }, orderBy: { startedAt: 'asc' } });
          return rows.length >= 2 ? rows : undefined;
        },
        { timeoutMs: 45_000, what: 'bulk scans to start' },
      );
      expect(await runtime.db.scan.count({ where: { bulkScanId: bulk.id } })).toBe(12);
      const onDemand = (await runtime.scans.get(scan.id))!;
      expect(onDemand.startedAt).not.toBeNull();
      expect(onDemand.startedAt!.getTime()).toBeLessThan(started[0]!.startedAt!.getTime());
    } finally {
      await aws.close();
    }
  });

  it('cancels queued bulk work: jobs removed, every scan terminal, none left open', async () => {
    const { runtime } = h.worker;
    const { bulk } = await runtime.bulk.create({ selector: { repositories: ['bench/images'] } });
    await waitFor(async () => ((await runtime.bulkScans.get(bulk.id))?.status === 'running' ? true : undefined), { what: 'bulk planned' });
    const planned = await runtime.db.scan.findMany({ where: { bulkScanId: bulk.id } });
    expect(planned).toHaveLength(12);
    const jobs = await Promise.all(planned.map((s) => runtime.queues.getJob('aws', s.id)));
    expect(await Promise.all(jobs.map((j) => j?.getState()))).toEqual(planned.map(() => 'prioritized'));
    const cancelled = await runtime.bulk.cancel(bulk.id);
    expect(cancelled!.status).toBe('cancelled');
    const scans = await runtime.db.scan.findMany({ where: { bulkScanId: bulk.id } });
    expect(scans.every((s) => s.status === 'cancelled')).toBe(true);
    expect(await Promise.all(planned.map((s) => runtime.queues.getJob('aws', s.id)))).toEqual(planned.map(() => undefined));
    const { totals } = await runtime.bulkScans.totals(cancelled!);
    expect(totals).toMatchObject({ cancelled: 12, queued: 0, running: 0 });
  });

  it('a cancel during planning: nothing it planned is enqueued or left open, and its totals add up', async () => {
    const { runtime } = h.worker;
    const assertSettled = async (id: string) => {
      const done = await waitForEnded(() => runtime.bulkScans.get(id), { what: `bulk scan ${id} to finish` });
      expect(done.status).toBe('cancelled');
      const scans = await runtime.db.scan.findMany({ where: { bulkScanId: id } });
      expect(scans.every((s) => s.status === 'cancelled')).toBe(true);
      expect(await Promise.all(scans.map((s) => runtime.queues.getJob('aws', s.id)))).toEqual(scans.map(() => undefined));
      const { totals } = await runtime.bulkScans.totals(done);
      expect(totals.planned).toBe(totals.cancelled + totals.skipped);
      expect(totals).toMatchObject({ cancelled: scans.length, queued: 0, running: 0, succeeded: 0 });
      expect(done.summary).toMatchObject({ event: 'bulk_scan.completed', status: 'cancelled' });
    };
    // Cancelled before its planner ran: the planner records the end and plans nothing.
    const { bulk: early } = await runtime.bulkScans.create({ selector: { repositories: ['bench/images'] }, force: false });
    expect((await runtime.bulk.cancel(early.id))!.status).toBe('cancelled');
    await runtime.bulk.plan(early.id);
    await assertSettled(early.id);
    expect(await runtime.db.scan.count({ where: { bulkScanId: early.id } })).toBe(0);
    // Cancelled while the planner runs (whichever lands first, the invariants hold).
    const { bulk: racing } = await runtime.bulkScans.create({ selector: { repositories: ['bench/images'] }, force: false });
    await Promise.all([runtime.bulk.plan(racing.id), new Promise((r) => setTimeout(r, 5)).then(() => runtime.bulk.cancel(racing.id))]);
    await assertSettled(racing.id);
  });

  it('cancels a single queued scan and leaves no job behind', async () => {
    const { runtime } = h.worker;
    const { scan } = await runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/worker', imageId: { imageTag: '3.0.2' } });
    const after = await runtime.submit.cancel(scan.id);
    expect(after!.status).toBe('cancelled');
    expect(await runtime.queues.getJob('aws', scan.id)).toBeUndefined();
  });
});
