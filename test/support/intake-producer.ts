/**
 * "Another service": a process with only Redis access that hands scanq scan requests through the
 * `requests` intake queue (its own BullMQ Queue, via @scanq/producer) and learns their results
 * from the `events` stream — once with waitForScan, once as a consumer group would (XREADGROUP +
 * XACK), as the README shows. Prints one JSON line: what it enqueued and read.
 *
 * Env: REDIS_URL, SCANQ_QUEUE_PREFIX, INTAKE_REQUESTS (JSON list of {request, idempotencyKey?}),
 * INTAKE_TIMEOUT_MS.
 */
import { type CreateScanRequest, ScanqProducer } from '@scanq/producer';
import { createRedis } from '@scanq/queue';

const requests = JSON.parse(process.env.INTAKE_REQUESTS ?? '[]') as { request: CreateScanRequest; idempotencyKey?: string }[];
const timeoutMs = Number(process.env.INTAKE_TIMEOUT_MS ?? 120_000);
const producer = new ScanqProducer({ connection: process.env.REDIS_URL!, prefix: process.env.SCANQ_QUEUE_PREFIX });

const jobs = await Promise.all(requests.map((r) => producer.enqueueScan(r.request, r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {})));
const scanIds = await Promise.all(jobs.map((job) => producer.recorded(job, timeoutMs)));
const events = await Promise.all(scanIds.map((id) => producer.waitForScan(id, { timeoutMs })));

// The consumer-group way (README): a group reading the stream from its start, acknowledging each entry.
const redis = createRedis(process.env.REDIS_URL!);
const group = 'another-service';
await redis.xgroup('CREATE', producer.streamKey, group, '0', 'MKSTREAM').catch((err: Error) => {
  if (!err.message.includes('BUSYGROUP')) throw err;
});
const seen = new Map<string, string>();
const deadline = Date.now() + timeoutMs;
while (scanIds.some((id) => !seen.has(id)) && Date.now() < deadline) {
  const reply = (await redis.xreadgroup('GROUP', group, 'consumer-1', 'COUNT', 100, 'BLOCK', 2000, 'STREAMS', producer.streamKey, '>')) as [string, [string, string[]][]][] | null;
  for (const [, entries] of reply ?? []) {
    for (const [entryId, fields] of entries) {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      if (f.event === 'scan.completed' && f.scanId) seen.set(f.scanId, (JSON.parse(f.body!) as { scan: { status: string } }).scan.status);
      await redis.xack(producer.streamKey, group, entryId);
    }
  }
}
const pending = (await redis.xpending(producer.streamKey, group)) as [number, ...unknown[]];
await redis.quit();
await producer.close();

console.log(
  JSON.stringify({
    results: requests.map((r, i) => ({ provider: r.request.provider, jobId: jobs[i]!.id, scanId: scanIds[i], event: events[i] })),
    group: Object.fromEntries(seen),
    groupPending: pending[0],
  }),
);
