import { DependencyUnavailableError, type JobItem, type JobName, type JobPayloads, type Provider, type QueueName, QueueName as Q, jobIds, queueForProvider } from '@scanq/core';
import { type Job, type JobsOptions, Queue, type Telemetry } from 'bullmq';
import type { RedisClient } from './connection.js';
import type { RedisKeyspace } from './keyspace.js';

/** Jobs per addBulk call: one MULTI each, small enough not to block Redis for long. */
const ADD_BULK_CHUNK = 1000;
/** Removals in flight at once (each is one Lua call; ioredis pipelines them). */
const REMOVE_CHUNK = 500;

export interface QueueRepositoryOptions {
  /** Each queue's BullMQ prefix (a hash tag of its own) comes from here. */
  keyspace: RedisKeyspace;
  /** Completed/failed jobs kept for inspection (Bull Board); older ones are trimmed. */
  keepCompleted: number;
  keepFailed: number;
  startAttempts: number;
  retryBackoffMs: number;
  /**
   * Bound on waiting for a queue's first connection (BullMQ otherwise holds every call of a
   * queue created while Redis is down until Redis answers). Unset: wait (workers).
   */
  readyTimeoutMs?: number;
  /**
   * Tracing (bullmq-otel): a job added inside a span carries its context, and the job's runs
   * continue that trace. Unset: no tracing calls at all.
   */
  telemetry?: Telemetry;
}

/**
 * Wraps BullMQ for producers (API, reconciler, handlers scheduling follow-ups): one Queue per
 * queue name, typed job names and payloads, default options that bound Redis growth.
 */
export class QueueRepository {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: RedisClient,
    readonly options: QueueRepositoryOptions,
  ) {}

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, ...this.options.keyspace.queueOptions(name), ...(this.options.telemetry ? { telemetry: this.options.telemetry } : {}) });
      this.queues.set(name, q);
    }
    return q;
  }

  /**
   * The queue once its connection has been ready (at once after the first time). Waits at most
   * `readyTimeoutMs`, and gives up before issuing anything, so a call that timed out here never
   * lands later behind the caller's back.
   */
  async ready(name: QueueName): Promise<Queue> {
    const q = this.queue(name);
    const limit = this.options.readyTimeoutMs;
    if (limit === undefined) return q;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        q.waitUntilReady(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new DependencyUnavailableError('redis', `redis: queue ${name} not connected within ${limit} ms`)), limit);
        }),
      ]);
    } finally {
      clearTimeout(timer);
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
    return (await this.ready(queue)).add(name, data, { ...this.defaultJobOptions(), ...opts });
  }

  /**
   * The start job of each scan, in one addBulk per queue and chunk. `priority` puts bulk work
   * behind on-demand scans (jobs without a priority are taken first).
   */
  async enqueueScanStarts(scans: { id: string; provider: Provider; generation?: number; delayMs?: number; priority?: number }[]): Promise<string[]> {
    const byQueue = new Map<QueueName, { name: JobItem['name']; data: JobPayloads['scan.start']; opts: JobsOptions }[]>();
    const ids: string[] = [];
    for (const s of scans) {
      const q = queueForProvider(s.provider);
      const jobId = jobIds.start(s.id, s.generation);
      ids.push(jobId);
      const list = byQueue.get(q) ?? [];
      list.push({ name: 'scan.start', data: { scanId: s.id }, opts: { ...this.defaultJobOptions(), jobId, ...(s.delayMs ? { delay: s.delayMs } : {}), ...(s.priority ? { priority: s.priority } : {}) } });
      byQueue.set(q, list);
    }
    await Promise.all(
      [...byQueue].map(async ([name, jobs]) => {
        const q = await this.ready(name);
        // One job (an on-demand scan) is a plain add: addBulk wraps even one in MULTI/EXEC.
        if (jobs.length === 1) return void (await q.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts));
        for (let i = 0; i < jobs.length; i += ADD_BULK_CHUNK) await q.addBulk(jobs.slice(i, i + ADD_BULK_CHUNK));
      }),
    );
    return ids;
  }

  /** Removes jobs that have not run (cancellation); active or locked ones are left alone. */
  /**
   * Removes jobs that no worker holds. BullMQ refuses to remove an active (locked) job, so
   * removal and a worker taking the job cannot both happen: what comes back are the ids of jobs a
   * worker is running now, left in place. A job that is gone already is not among them.
   */
  async removeUnlessActive(queue: QueueName, jobIds: string[]): Promise<Set<string>> {
    const active = new Set<string>();
    const q = await this.ready(queue);
    for (let i = 0; i < jobIds.length; i += REMOVE_CHUNK) {
      await Promise.all(
        jobIds.slice(i, i + REMOVE_CHUNK).map(async (id) => {
          if ((await q.remove(id)) === 1) return;
          const job = await q.getJob(id);
          if (job && (await job.getState()) === 'active') active.add(id);
        }),
      );
    }
    return active;
  }

  async getJob(queue: QueueName, jobId: string): Promise<Job | undefined> {
    return (await this.ready(queue)).getJob(jobId);
  }

  /**
   * Which of these jobs are live (waiting, delayed, active, prioritized): the job hash exists and
   * has not finished. One pipelined round trip for the lot, however many.
   */
  async liveJobs(jobs: { queue: QueueName; id: string }[]): Promise<boolean[]> {
    if (jobs.length === 0) return [];
    const pipeline = this.connection.pipeline();
    for (const { queue, id } of jobs) pipeline.hmget(this.queue(queue).toKey(id), 'name', 'finishedOn');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      const [name, finishedOn] = value as [string | null, string | null];
      return name !== null && finishedOn === null;
    });
  }

  async counts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all(
      Object.values(Q).map(async (name) => [name, await (await this.ready(name)).getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized')] as const),
    );
    return Object.fromEntries(entries);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
