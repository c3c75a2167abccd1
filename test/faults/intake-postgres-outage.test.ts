import { PROVIDERS } from '@scanq/core';
import { ScanqProducer } from '@scanq/producer';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { waitFor } from '../support/wait.js';
import { ScanTargets } from './support/load.js';
import { processOutput, type Stack, startStack } from './support/stack.js';

/**
 * Requests another service adds to the `requests` intake queue while Postgres (the ledger) is
 * stopped wait in the queue — tried, found Postgres away, parked, no attempt spent — and are
 * recorded once Postgres is back: 0 lost, none twice, each started and ended.
 */
describe('fault: intake requests added while Postgres is stopped', () => {
  let stack: Stack;
  let producer: ScanqProducer;
  beforeAll(async () => {
    stack = await startStack({ workers: 1, env: { SCANQ_OUTAGE_RETRY_MS: '1000' } });
    for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 500 });
    producer = new ScanqProducer({ connection: stack.redis.url, prefix: stack.env.SCANQ_QUEUE_PREFIX });
  });
  afterAll(async () => {
    await producer?.close();
    await stack?.close();
  });

  it('every request is recorded after the outage: 0 lost, 0 duplicates, no attempt spent', async () => {
    let jobs: Awaited<ReturnType<ScanqProducer['enqueueScan']>>[] = [];
    onTestFailed(async () => {
      console.log(processOutput(stack, 40));
      for (const j of jobs) {
        const s = await producer.queue.getJob(j.id!);
        console.log(j.id, await producer.queue.getJobState(j.id!), s?.attemptsStarted, s?.attemptsMade, s?.failedReason, s?.returnvalue);
      }
    });
    const targets = await ScanTargets.load(stack);
    await stack.postgres.stop();
    // Two per cloud, half of them with a key of their own.
    const requests = PROVIDERS.flatMap((p) => [0, 1].map((i) => ({ request: targets.next(p) as never, ...(i ? { idempotencyKey: `outage-${p}` } : {}) })));
    jobs = await Promise.all(requests.map((r) => producer.enqueueScan(r.request, r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {})));
    // Every job was taken by the worker, met the outage and waits (delayed) for its next try.
    await waitFor(
      async () => {
        const states = await Promise.all(jobs.map(async (j) => ((await producer.queue.getJob(j.id!))?.attemptsStarted ?? 0) >= 1 && (await producer.queue.getJobState(j.id!)) === 'delayed'));
        return states.every(Boolean);
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'every intake job tried and parked while Postgres is down' },
    );
    await stack.postgres.start();

    const ids = await Promise.all(jobs.map((j) => producer.recorded(j, 120_000)));
    expect(new Set(ids).size).toBe(requests.length);
    const rows = await stack.query<{ id: string; idempotencyKey: string | null }>('SELECT id::text, "idempotencyKey" FROM "Scan"');
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const [i, r] of requests.entries()) if (r.idempotencyKey) expect(rows.find((x) => x.id === ids[i])!.idempotencyKey).toBe(r.idempotencyKey);
    for (const j of jobs) {
      const stored = (await producer.queue.getJob(j.id!))!;
      // Started at least twice (the outage, then the record), yet one attempt made: the one that finished.
      expect(stored.attemptsMade, `job ${j.id}`).toBe(1);
      expect(stored.attemptsStarted, `job ${j.id}`).toBeGreaterThanOrEqual(2);
    }
    // Each scan ran to its end, and the end reached the stream.
    const ends = await Promise.all(ids.map((id) => producer.waitForScan(id, { timeoutMs: 120_000 })));
    const statuses = await stack.query<{ id: string; status: string }>('SELECT id::text, status::text FROM "Scan"');
    for (const e of ends) expect((e.body.scan as { status: string }).status).toBe(statuses.find((s) => s.id === e.scanId)!.status);
    expect(statuses.every((s) => s.status === 'succeeded' || s.status === 'failed')).toBe(true);
  });
});
