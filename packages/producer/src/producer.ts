import { randomUUID } from 'node:crypto';
import { checkIntake, type CreateBulkScanRequest, type CreateScanRequest, type InputIssue, type IntakeJobName, type IntakePayload, JobName, parseIntakeFailure, QueueName } from '@scanq/core';
import { createRedis, RedisKeyspace, type RedisClient } from '@scanq/queue';
import { type Job, type JobsOptions, Queue } from 'bullmq';

/** The request was refused: before it was added (checked here), or by the intake worker. `issues` as a 400 lists them. */
export class ScanqRequestError extends Error {
  override name = 'ScanqRequestError';
  constructor(
    /** validation_error, unknown_account, idempotency_key_reused, no_matching_account. */
    readonly error: string,
    message: string,
    readonly issues: InputIssue[],
  ) {
    super(message);
  }
}

/** Nothing came within the time given. */
export class ScanqWaitTimeout extends Error {
  override name = 'ScanqWaitTimeout';
}

export interface ScanqProducerOptions {
  /** A Redis URL (standalone), or an ioredis connection or Cluster (kept open on close: it is the caller's). */
  connection: string | RedisClient;
  /** The deployment's SCANQ_QUEUE_PREFIX (default `scanq`). */
  prefix?: string;
  /** BullMQ options every intake job gets (defaults: 5 attempts, exponential backoff, results kept a day). */
  jobOptions?: JobsOptions;
}

export interface EnqueueOptions {
  /** As the HTTP `Idempotency-Key`: a repeat returns the first scan, a changed repeat is refused. Default: the job's own identity. */
  idempotencyKey?: string;
  /** The BullMQ job id (default: a random UUID). */
  jobId?: string;
}

/** An entry of the `events` stream: the event name, its ids, and the webhook's body parsed. */
export interface ScanqEvent {
  streamId: string;
  event: 'scan.completed' | 'bulk_scan.completed' | string;
  id: string;
  scanId?: string;
  bulkScanId?: string;
  body: Record<string, unknown>;
}

const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  // Producers read the return value (the scan id) or the refusal: kept a day / a week.
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

/** How far before a scan's creation (its UUIDv7 time) the stream is read: clocks of the worker and Redis may differ. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** One XREAD blocks at most this long, so a deadline is kept. */
const BLOCK_MS = 5_000;

/**
 * Another service's way into scanq with only Redis: typed scan and bulk-scan requests added to
 * the `requests` intake queue (validated here with the API's own schemas first), their results
 * (the scan id) as the job's return value, and the scans' ends read from the `events` stream.
 */
export class ScanqProducer {
  readonly queue: Queue;
  readonly streamKey: string;
  private readonly redis: RedisClient;
  private readonly ownsConnection: boolean;
  private readonly jobOptions: JobsOptions;

  constructor(options: ScanqProducerOptions) {
    // The same key layout as the deployment's (RedisKeyspace): the queue and the stream each under their hash tag.
    const keyspace = new RedisKeyspace(options.prefix ?? 'scanq');
    this.ownsConnection = typeof options.connection === 'string';
    this.redis = typeof options.connection === 'string' ? createRedis(options.connection) : options.connection;
    this.queue = new Queue(QueueName.requests, { connection: this.redis, ...keyspace.queueOptions(QueueName.requests) });
    this.streamKey = keyspace.eventsStream;
    this.jobOptions = { ...DEFAULT_JOB_OPTIONS, ...options.jobOptions };
  }

  /** Adds a `scan.request` job (the POST /v1/scans body); throws ScanqRequestError without adding when it is invalid. */
  enqueueScan(request: CreateScanRequest, options: EnqueueOptions = {}): Promise<Job<IntakePayload<CreateScanRequest>, string>> {
    return this.enqueue(JobName.ScanRequest, request, options);
  }

  /** Adds a `bulk.request` job (the POST /v1/bulk-scans body). */
  enqueueBulkScan(request: CreateBulkScanRequest, options: EnqueueOptions = {}): Promise<Job<IntakePayload<CreateBulkScanRequest>, string>> {
    return this.enqueue(JobName.BulkRequest, request, options);
  }

  /**
   * The scan (or bulk scan) id the job recorded; ScanqRequestError when the worker refused it.
   * Reads the job's state (every 50 ms at first, then every second): no event subscription
   * whose start could miss a job that finished just before it.
   */
  async recorded(job: Job<unknown, string>, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let waitMs = 50; ; waitMs = Math.min(waitMs * 2, 1_000)) {
      // The state first, then the job: read the other way round, a job finishing in between
      // would show as completed with the return value it did not have yet.
      const state = await this.queue.getJobState(job.id!);
      if (state === 'unknown') throw new Error(`intake job ${job.id} is gone (removed before its result was read)`);
      const current = state === 'completed' || state === 'failed' ? await this.queue.getJob(job.id!) : undefined;
      if (state === 'completed' && current) return current.returnvalue as string;
      if (state === 'failed' && current) {
        const refused = parseIntakeFailure(current.failedReason);
        if (refused) throw new ScanqRequestError(refused.error, refused.message, refused.issues);
        throw new Error(`intake job ${job.id} failed: ${current.failedReason}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new ScanqWaitTimeout(`intake job ${job.id} not finished within ${timeoutMs} ms (${state})`);
      await new Promise((r) => setTimeout(r, Math.min(waitMs, left)));
    }
  }

  /** The scan's `scan.completed` event (its webhook body), read from the `events` stream. */
  waitForScan(scanId: string, options: { timeoutMs?: number } = {}): Promise<ScanqEvent> {
    return this.waitFor((e) => e.event === 'scan.completed' && e.scanId === scanId, scanId, options.timeoutMs ?? 10 * 60_000);
  }

  /** The bulk scan's one `bulk_scan.completed` event. */
  waitForBulkScan(bulkScanId: string, options: { timeoutMs?: number } = {}): Promise<ScanqEvent> {
    return this.waitFor((e) => e.event === 'bulk_scan.completed' && e.bulkScanId === bulkScanId, bulkScanId, options.timeoutMs ?? 60 * 60_000);
  }

  async close(): Promise<void> {
    await this.queue.close();
    if (this.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async enqueue<N extends IntakeJobName>(name: N, request: unknown, options: EnqueueOptions): Promise<Job<any, string>> {
    const checked = checkIntake(name, { request, ...(options.idempotencyKey !== undefined ? { idempotencyKey: options.idempotencyKey } : {}) });
    if (!checked.ok) throw new ScanqRequestError('validation_error', checked.issues.map((i) => `${i.field}: ${i.message}`).join('; '), checked.issues);
    // A fresh id per add, never one derived from the key: a changed repeat of a key must reach
    // the worker to be refused, not be dropped by BullMQ as a duplicate job.
    return this.queue.add(name, checked.value, { ...this.jobOptions, jobId: options.jobId ?? randomUUID() });
  }

  /**
   * Reads the stream from shortly before the thing was created (its id is a UUIDv7: its first 48
   * bits are the creation time in ms) up to now, then blocks for new entries, until one matches.
   * A dedicated connection: XREAD BLOCK holds it.
   */
  private async waitFor(match: (e: ScanqEvent) => boolean, uuid: string, timeoutMs: number): Promise<ScanqEvent> {
    const createdMs = Number.parseInt(uuid.replace(/-/g, '').slice(0, 12), 16);
    let last = Number.isFinite(createdMs) ? `${Math.max(0, createdMs - CLOCK_SKEW_MS)}-0` : '0-0';
    const deadline = Date.now() + timeoutMs;
    const reader = this.redis.duplicate();
    try {
      for (;;) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new ScanqWaitTimeout(`no event for ${uuid} within ${timeoutMs} ms`);
        const reply = (await reader.xread('COUNT', 1000, 'BLOCK', Math.min(remaining, BLOCK_MS), 'STREAMS', this.streamKey, last)) as [string, [string, string[]][]][] | null;
        for (const [, entries] of reply ?? []) {
          for (const [streamId, fields] of entries) {
            last = streamId;
            const event = toEvent(streamId, fields);
            if (event && match(event)) return event;
          }
        }
      }
    } finally {
      reader.disconnect();
    }
  }
}

/** A stream entry's flat field list as an event; null for an entry that is not one of scanq's. */
export function toEvent(streamId: string, fields: string[]): ScanqEvent | null {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
  if (!map.event || !map.id || !map.body) return null;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(map.body) as Record<string, unknown>;
  } catch {
    return null;
  }
  return { streamId, event: map.event, id: map.id, ...(map.scanId ? { scanId: map.scanId } : {}), ...(map.bulkScanId ? { bulkScanId: map.bulkScanId } : {}), body };
}
