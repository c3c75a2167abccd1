import { QueueName } from '@scanq/core';
import { ScanqProducer, ScanqRequestError, toEvent } from '@scanq/producer';
import { EventStreamService, scanCompletedPayload } from '@scanq/scans';
import { StreamEventRepository } from '@scanq/db';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanqMetrics } from '../../api/src/metrics.js';
import { waitFor } from '../../../test/support/wait.js';
import { startHarness, type WorkerHarness } from './harness.js';

const AWS = (tag: string) => ({ provider: 'aws' as const, account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: tag } });

/**
 * The `requests` intake queue through the real worker: requests another service adds straight to
 * Redis are checked as the API checks them, recorded with the API's idempotency, and their ends
 * appear on the `events` stream. Judged by Postgres and by the jobs as BullMQ stored them.
 */
describe('intake queue', () => {
  let h: WorkerHarness;
  let producer: ScanqProducer;
  let raw: Queue;
  let redis: Redis;
  const scanCount = async (where: Record<string, unknown> = {}) => h.worker.runtime.db.scan.count({ where });

  beforeAll(async () => {
    h = await startHarness('intake', { SCANQ_POLL_INITIAL_MS: '50' }, { SIM_AWS_SCAN_MS: '50' });
    redis = new Redis(h.env.redisUrl, { maxRetriesPerRequest: null });
    producer = new ScanqProducer({ connection: redis, prefix: h.env.prefix });
    // A producer that skips the package's own check: what reaches the worker unchecked.
    raw = new Queue('requests', { connection: redis, prefix: h.env.keyspace.queuePrefix(QueueName.requests) });
  });
  afterAll(async () => {
    await producer?.close();
    await raw?.close();
    await h?.close();
    await redis?.quit();
  });

  it('records a scan.request, returns its id, starts it, and appends its end to the events stream with the webhook body', async () => {
    const job = await producer.enqueueScan(AWS('1.3.9'));
    const scanId = await producer.recorded(job);
    const stored = await h.waitForTerminal(scanId);
    expect(stored.status).toBe('succeeded');
    const event = await producer.waitForScan(scanId, { timeoutMs: 30_000 });
    expect(event).toMatchObject({ event: 'scan.completed', scanId, body: { event: 'scan.completed', scan: { id: scanId, provider: 'aws', account: 'sim-aws', status: 'succeeded' } } });
    // Built in SQL by the ending statement: the same body the webhook builds from the stored scan.
    expect(event.body.scan).toEqual(scanCompletedPayload((await h.worker.runtime.scans.get(scanId))!, 'sim-aws').scan);
    // Marked appended right after the XADD (a consumer may read the entry first).
    const row = await waitFor(async () => (await new StreamEventRepository(h.worker.runtime.db, h.worker.runtime.sql).forScan(scanId)).find((r) => r.streamId), { timeoutMs: 10_000, what: 'the outbox row marked appended' });
    expect(row).toMatchObject({ id: event.id, streamId: event.streamId });
    expect(event.body.id).toBe(row!.id);
    expect((event.body.scan as { images: { digest: string; severityCounts: Record<string, number> }[] }).images.map((i) => i.digest)).toEqual(stored.images.map((i) => i.digest));
  });

  it('fails an invalid request at once with the API’s fields and rules, no retry, counted in /metrics', async () => {
    const job = await raw.add('scan.request', { request: { provider: 'aws', account: 'sim-aws', imageId: { imageTag: 'x' }, colour: 'red' } }, { attempts: 5, backoff: { type: 'fixed', delay: 10 } });
    const failed = await waitFor(async () => {
      const j = await raw.getJob(job.id!);
      return j?.finishedOn ? j : undefined;
    }, { timeoutMs: 20_000, what: 'the invalid job to fail' });
    expect(await failed.getState()).toBe('failed');
    expect(failed.attemptsMade).toBe(1);
    const reason = JSON.parse(failed.failedReason) as { error: string; issues: { field: string; rule: string }[] };
    expect(reason.error).toBe('validation_error');
    expect(reason.issues).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'body.repositoryName', rule: 'required' }), expect.objectContaining({ field: 'body.colour', rule: 'unknown_field' })]));
    expect(await redis.hget(h.env.keyspace.intakeStats, 'scan.request\u001fvalidation_error')).toBe('1');
    const text = await new ScanqMetrics(h.worker.runtime).render();
    expect(text).toContain('scanq_intake_rejected_total{job="scan.request",error="validation_error"} 1');
    expect(text).toMatch(/scanq_queue_jobs\{queue="requests",state="failed"\} [1-9]/);

    // The producer refuses the same request before adding anything, with the same issues.
    const before = await raw.count();
    const refused = await producer.enqueueScan({ provider: 'aws', account: 'sim-aws', imageId: { imageTag: 'x' } } as never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ScanqRequestError);
    expect((refused as ScanqRequestError).issues).toEqual([expect.objectContaining({ field: 'body.repositoryName', rule: 'required' })]);
    expect(await raw.count()).toBe(before);
  });

  it('an unknown account fails the job once with its field and rule', async () => {
    const job = await producer.enqueueScan({ ...AWS('1.3.9'), account: 'nobody' });
    const err = await producer.recorded(job, 20_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanqRequestError);
    expect((err as ScanqRequestError).issues).toEqual([expect.objectContaining({ field: 'body.account', rule: 'unknown_account' })]);
    expect((await raw.getJob(job.id!))!.attemptsMade).toBe(1);
    expect(await scanCount({ target: { path: ['repositoryName'], equals: 'scanq/api' }, account: { name: 'nobody' } })).toBe(0);
  });

  it('same idempotency key twice: one scan; the same key with a changed request: refused', async () => {
    const key = `intake-idem-${Date.now()}`;
    const [a, b] = await Promise.all([producer.enqueueScan(AWS('1.3.8'), { idempotencyKey: key }), producer.enqueueScan(AWS('1.3.8'), { idempotencyKey: key })]);
    const [idA, idB] = await Promise.all([producer.recorded(a), producer.recorded(b)]);
    expect(idB).toBe(idA);
    expect(await scanCount({ idempotencyKey: key })).toBe(1);

    const changed = await producer.enqueueScan(AWS('1.3.7'), { idempotencyKey: key });
    const err = await producer.recorded(changed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanqRequestError);
    expect((err as ScanqRequestError).error).toBe('idempotency_key_reused');
    expect((err as ScanqRequestError).issues[0]).toMatchObject({ field: 'idempotencyKey', rule: 'idempotency_key_reused' });
    expect(await scanCount({ idempotencyKey: key })).toBe(1);
    expect(await redis.hget(h.env.keyspace.intakeStats, 'scan.request\u001fidempotency_key_reused')).toBe('1');
  });

  it('a job run again without a key finds the scan it made (its own identity is the key)', async () => {
    const job = await producer.enqueueScan(AWS('1.3.6'));
    const first = await producer.recorded(job);
    const scansBefore = await scanCount();
    // Run the very same job again, as a retry after a worker died past its insert would.
    const again = (await raw.getJob(job.id!))!;
    await again.retry('completed');
    const second = await waitFor(async () => {
      const j = await raw.getJob(job.id!);
      return j?.finishedOn && j.attemptsStarted > 1 ? j : undefined;
    }, { timeoutMs: 20_000, what: 'the re-run job to finish' });
    expect(second.returnvalue).toBe(first);
    expect(await scanCount()).toBe(scansBefore);
  });

  it('bulk.request: returns the bulk scan id; a repeated key returns the same bulk scan', async () => {
    const key = `intake-bulk-${Date.now()}`;
    const request = { selector: { accounts: ['sim-aws'], repositories: ['scanq/api'], tagPatterns: ['1.3.*'] } };
    const first = await producer.recorded(await producer.enqueueBulkScan(request, { idempotencyKey: key }));
    const second = await producer.recorded(await producer.enqueueBulkScan(request, { idempotencyKey: key }));
    expect(second).toBe(first);
    expect(await h.worker.runtime.db.bulkScan.count({ where: { idempotencyKey: key } })).toBe(1);
    const event = await producer.waitForBulkScan(first, { timeoutMs: 60_000 });
    expect(event.body).toMatchObject({ event: 'bulk_scan.completed', bulkScanId: first });
  });

  it('an end while Redis cannot take it is kept in Postgres and appended by the maintenance pass', async () => {
    const { runtime } = h.worker;
    const { scan } = await runtime.submit.submit(AWS('1.3.5'));
    const ended = await h.waitForTerminal(scan.id);
    const rowsOf = () => new StreamEventRepository(runtime.db, runtime.sql).forScan(scan.id);
    // The worker's own event first (its listener runs just after the end is stored); then it is taken away.
    await waitFor(async () => (await rowsOf()).find((r) => r.streamId), { timeoutMs: 10_000, what: "the worker's event" });
    const offline = new Redis(h.env.redisUrl, { lazyConnect: true });
    const rows = new StreamEventRepository(runtime.db, runtime.sql);
    // A second stream service whose Redis is not connected: the end is recorded, not appended.
    const cut = new EventStreamService(rows, runtime.accounts, offline, { key: `${h.env.keyspace.tag('events')}:events-outbox-test`, maxLen: 100, timeoutMs: 1000, graceMs: 0 }, runtime.log);
    await runtime.db.streamEvent.deleteMany({ where: { scanId: scan.id } });
    await cut.scanEnded(ended);
    const [row] = await rows.forScan(scan.id);
    expect(row).toMatchObject({ streamId: null, appendedAt: null });
    // Redis back: the maintenance pass (reconciler) appends what waited, once.
    const report = await runtime.reconciler.reconcile();
    expect(report.events).toBeGreaterThanOrEqual(1);
    const [after] = await rows.forScan(scan.id);
    expect(after!.streamId).not.toBeNull();
    const entries = await redis.xrange(h.env.keyspace.eventsStream, after!.streamId!, after!.streamId!);
    expect(toEvent(entries[0]![0], entries[0]![1])).toMatchObject({ id: row!.id, scanId: scan.id, body: { scan: { id: scan.id, status: ended.status } } });
    offline.disconnect();
  });
});
