import { PROVIDERS } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ScanTargets } from '../faults/support/load.js';
import { CREATE_API } from '../faults/support/samplers.js';
import { processOutput, type Stack, startStack } from '../faults/support/stack.js';
import { startProcess } from '../support/processes.js';
import { simulatorCalls } from '../support/simulator-calls.js';

interface ProducerReport {
  results: { provider: string; jobId: string; scanId: string; event: { id: string; scanId: string; body: { scan: { id: string; status: string; provider: string } } } }[];
  group: Record<string, string>;
  groupPending: number;
}

/**
 * Another service with only Redis access — its own process, its own BullMQ Queue through
 * @scanq/producer — hands scanq one scan per cloud through the `requests` queue and learns their
 * results from the `events` stream (waitForScan and a consumer group). Judged by Postgres and the
 * simulator's counters, not by what the producer was told.
 */
describe('another service enqueues scans on all four clouds and reads their results from Redis', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 1 });
    for (const cloud of PROVIDERS) await stack.configureCloud(cloud, { scanDurationMs: 500 });
  });
  afterAll(async () => stack?.close());

  it('every request is recorded, started at its cloud once, and its end read back from the stream', async () => {
    onTestFailed(() => console.log(processOutput(stack)));
    const targets = await ScanTargets.load(stack);
    const requests = PROVIDERS.map((p, i) => ({ request: targets.next(p), ...(i % 2 ? { idempotencyKey: `another-service-${p}` } : {}) }));
    const before = await simulatorCalls(stack.simUrl);
    const producer = startProcess('another-service', 'test/support/intake-producer.ts', { ...stack.env, INTAKE_REQUESTS: JSON.stringify(requests), INTAKE_TIMEOUT_MS: '150000' });
    stack.processes.push(producer);
    const code = await new Promise<number | null>((resolve) => producer.child.once('exit', resolve));
    expect(code, producer.output()).toBe(0);
    const report = JSON.parse(producer.output().trim().split('\n').at(-1)!) as ProducerReport;

    expect(report.results.map((r) => r.provider)).toEqual([...PROVIDERS]);
    const ids = report.results.map((r) => r.scanId);
    expect(new Set(ids).size).toBe(4);
    // Postgres: exactly these scans, each ended as the stream said, keyed as asked.
    const rows = await stack.query<{ id: string; provider: string; status: string; idempotencyKey: string | null }>('SELECT id::text, provider::text, status::text, "idempotencyKey" FROM "Scan" ORDER BY "createdAt"');
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const [i, r] of report.results.entries()) {
      const row = rows.find((x) => x.id === r.scanId)!;
      expect(row.provider).toBe(r.provider);
      expect(['succeeded', 'failed']).toContain(row.status);
      expect(r.event.body.scan).toMatchObject({ id: r.scanId, provider: r.provider, status: row.status });
      expect(report.group[r.scanId]).toBe(row.status);
      // Given a key, that key; else the job's own identity (id and time added).
      if (i % 2) expect(row.idempotencyKey).toBe(`another-service-${r.provider}`);
      else expect(row.idempotencyKey).toMatch(new RegExp(`^intake:requests:${r.jobId}:\\d+$`));
    }
    expect(report.groupPending).toBe(0);
    // Each event is in the outbox once, marked appended.
    const events = await stack.query<{ scanId: string; streamId: string | null }>('SELECT "scanId"::text, "streamId" FROM "StreamEvent"');
    expect(events.map((e) => e.scanId).sort()).toEqual([...ids].sort());
    expect(events.every((e) => e.streamId)).toBe(true);
    // The simulator saw one create per scan on each cloud.
    const after = await simulatorCalls(stack.simUrl);
    for (const p of PROVIDERS) expect((after.totals[CREATE_API[p]] ?? 0) - (before.totals[CREATE_API[p]] ?? 0), p).toBe(1);
  }, 240_000);
});
