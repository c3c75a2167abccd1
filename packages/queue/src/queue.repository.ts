import { type JobItem, type JobName, type JobPayloads, type Provider, type QueueName, QueueName as Q, jobIds, queueForProvider } from '@scanq/core';
import { type Job, type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface QueueRepositoryOptions {
  prefix: string;
  /** Completed/failed jobs kept for inspection (Bull Board); older ones are trimmed. */
  keepCompleted: number;
  keepFailed: number;
  startAttempts: number;
  retryBackoffMs: number;
}

/**
 * Wraps BullMQ for producers (API, reconciler, handlers scheduling follow-ups): one Queue per
 * queue name, typed job names and payloads, default options that bound Redis growth.
 */
export class QueueRepository {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: Redis,
    readonly options: QueueRepositoryOptions,
  ) {}

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.options.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  allQueues(): Queue[] {
    return Object.values(Q).map((n) => this.queue(n));
  }

  /** Options every scan job gets: retries with exponential backoff, trimmed history. */
  defaultJobOptions(): JobsOptions {
    return {
      attempts: this.options.startAttempts,
      backoff: { type: 'exponential', delay: this.options.retryBackoffMs },
      removeOnComplete: { count: this.options.keepCompleted },
      removeOnFail: { count: this.options.keepFailed },
    };
  }

  async add<N extends JobName>(queue: QueueName, name: N, data: JobPayloads[N], opts: JobsOptions = {}): Promise<Job> {
    return this.queue(queue).add(name, data, { ...this.defaultJobOptions(), ...opts });
  }

  /** The start job of each scan, in one round trip per queue (addBulk). */
  async enqueueScanStarts(scans: { id: string; provider: Provider; generation?: number; delayMs?: number }[]): Promise<string[]> {
    const byQueue = new Map<QueueName, { name: JobItem['name']; data: JobPayloads['scan.start']; opts: JobsOptions }[]>();
    const ids: string[] = [];
    for (const s of scans) {
      const q = queueForProvider(s.provider);
      const jobId = jobIds.start(s.id, s.generation);
      ids.push(jobId);
      const list = byQueue.get(q) ?? [];
      list.push({ name: 'scan.start', data: { scanId: s.id }, opts: { ...this.defaultJobOptions(), jobId, ...(s.delayMs ? { delay: s.delayMs } : {}) } });
      byQueue.set(q, list);
    }
    await Promise.all([...byQueue].map(([q, jobs]) => this.queue(q).addBulk(jobs)));
    return ids;
  }

  getJob(queue: QueueName, jobId: string): Promise<Job | undefined> {
    return this.queue(queue).getJob(jobId);
  }

  async counts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all(
      this.allQueues().map(async (q) => [q.name, await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized')] as const),
    );
    return Object.fromEntries(entries);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
