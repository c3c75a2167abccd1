import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../../apps/api/src/app.js';
import { startHarness, type WorkerHarness } from '../../../apps/worker/test/harness.js';
import { type RunningWorker, startWorker } from '../../../apps/worker/src/worker.js';
import { waitForEnded } from '../../../test/support/wait.js';
import { type BulkScan, ScanqApiError, ScanqClient } from '../src/index.js';

type FastifyInstance = Awaited<ReturnType<typeof buildApi>>['app'];

/**
 * Bulk scans, schedules and cancellation through the typed client, against the real API with a
 * worker and the simulator behind it. The harness worker serves only `maintenance` (planning,
 * schedule ticks), so an AWS scan stays queued until the test starts an AWS worker.
 */
describe('@scanq/client: bulk scans, schedules, cancel', () => {
  let harness: WorkerHarness;
  let app: FastifyInstance;
  let client: ScanqClient;
  let awsWorker: RunningWorker | undefined;
  const apiKey = 'client-bulk-test-bootstrap-key';

  beforeAll(async () => {
    harness = await startHarness('clientbulk', { LOG_LEVEL: 'silent', SCANQ_WORKER_QUEUES: 'maintenance', SCANQ_API_KEY: apiKey, SCANQ_POLL_INITIAL_MS: '50' }, { SIM_AWS_SCAN_MS: '50' });
    ({ app } = await buildApi(harness.worker.runtime, { adminUser: 'admin', adminPassword: 'test-admin-password', logger: false }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    client = new ScanqClient({ baseUrl: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, apiKey, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await awsWorker?.close();
    await app?.close();
    await harness?.close();
  });

  it('cancels a queued scan: it ends cancelled, and its start job is gone', async () => {
    const { scan } = await client.createScan({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/worker', imageId: { imageTag: '3.0.2' } });
    expect(scan.status).toBe('queued');
    const cancelled = await client.cancelScan(scan.id);
    expect(cancelled).toMatchObject({ id: scan.id, status: 'cancelled', reason: 'cancelled' });
    expect(await harness.worker.runtime.queues.getJob('aws', scan.id)).toBeUndefined();
    expect((await client.getScan(scan.id)).status).toBe('cancelled');
    await expect(client.cancelScan('01900000-0000-7000-8000-000000000000')).rejects.toMatchObject({ status: 404, error: 'not_found' });
  });

  it('runs a bulk scan over AWS scanq/api to success with totals per state and provider, and lists it', async () => {
    const created = await client.createBulkScan({ selector: { providers: ['aws'], repositories: ['scanq/api'], tagPatterns: ['1.*'] } });
    expect(created).toMatchObject({ status: 'planning', force: false, selector: { providers: ['aws'], repositories: ['scanq/api'], tagPatterns: ['1.*'] } });
    awsWorker = await startWorker(harness.env.config({ LOG_LEVEL: 'silent', SCANQ_WORKER_QUEUES: 'aws', SCANQ_POLL_INITIAL_MS: '50' }));
    const done = await waitForEnded(() => client.getBulkScan(created.id), { timeoutMs: 30_000, intervalMs: 100, what: 'bulk scan to end' });
    // The seed's scanq/api has five images with a tag matching 1.* (latest/1.4.2/stable is one digest).
    expect(done.status).toBe('succeeded');
    expect(done.totals).toEqual({ planned: 5, queued: 0, running: 0, succeeded: 5, failed: 0, skipped: 0, cancelled: 0 });
    expect(done.byProvider.aws).toEqual(done.totals);
    expect(done.finishedAt).not.toBeNull();

    const page = await client.listBulkScans({ limit: 1 });
    expect(page.items.map((b) => b.id)).toEqual([created.id]);
    const all: string[] = [];
    for await (const b of client.iterateBulkScans({ limit: 1 })) all.push(b.id);
    expect(all).toEqual([created.id]);

    // Cancelling an ended bulk scan leaves its result as it was.
    expect((await client.cancelBulkScan(created.id)).totals.succeeded).toBe(5);
    await expect(client.createBulkScan({ selector: { tagPatterns: ['v1/*'] } })).rejects.toMatchObject({
      status: 400,
      issues: [expect.objectContaining({ field: 'body.selector.tagPatterns.0', rule: 'pattern' })],
    });
  });

  it('creates, reads, pauses, resumes, changes and deletes a schedule; a bad cron is a typed 400 naming body.cron', async () => {
    const schedule = await client.createSchedule({ name: 'client-nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin', selector: { providers: ['aws'], latestTagOnly: true } });
    expect(schedule).toMatchObject({ name: 'client-nightly', enabled: true, force: false, timezone: 'Europe/Berlin', selector: { latestTagOnly: true } });
    expect(schedule.nextRunAt).not.toBeNull();
    expect((await client.listSchedules()).map((s) => s.id)).toContain(schedule.id);
    expect(await client.getSchedule(schedule.id)).toEqual(schedule);

    expect(await client.pauseSchedule(schedule.id)).toMatchObject({ enabled: false, nextRunAt: null });
    const resumed = await client.resumeSchedule(schedule.id);
    expect(resumed).toMatchObject({ enabled: true, nextRunAt: schedule.nextRunAt });
    const changed = await client.updateSchedule(schedule.id, { cron: '30 4 * * 1', force: true });
    expect(changed).toMatchObject({ cron: '30 4 * * 1', force: true, enabled: true });

    const bad = await client.updateSchedule(schedule.id, { cron: 'every day' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ScanqApiError);
    expect(bad).toMatchObject({ status: 400, error: 'validation_error' });
    expect((bad as ScanqApiError).isBadInput).toBe(true);
    expect((bad as ScanqApiError).issues).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'body.cron', message: expect.stringMatching(/^is not a valid cron expression \(/) })]));
    const badCreate = await client.createSchedule({ name: 'broken', cron: '61 * * * *', selector: {} }).catch((e: unknown) => e);
    expect(badCreate).toMatchObject({ status: 400, issues: [{ field: 'body.cron', rule: 'constraint', message: 'is not a valid cron expression (Constraint error, got value 61 expected range 0-59)' }] });
    await expect(client.createSchedule({ name: 'client-nightly', cron: '0 3 * * *', selector: {} })).rejects.toMatchObject({ status: 409 });

    await client.deleteSchedule(schedule.id);
    await expect(client.getSchedule(schedule.id)).rejects.toMatchObject({ status: 404 });
    await expect(client.deleteSchedule(schedule.id)).rejects.toMatchObject({ status: 404 });
  });
});
