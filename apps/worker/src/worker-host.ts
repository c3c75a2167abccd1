import { isShutdownAbort, JOBS_BY_QUEUE, type JobName, type JobPayloads, type QueueName } from '@scanq/core';
import { DelayedError, type Job, WaitingError, Worker } from '@scanq/queue';
import type { RedisClient, RedisKeyspace, Telemetry } from '@scanq/queue';
import type { Logger } from 'pino';

/** A handler's result becomes the job's return value (intake jobs return the scan id). */
export type JobHandler<N extends JobName> = (job: Job<JobPayloads[N]>, token: string | undefined) => Promise<unknown>;
export type JobHandlers = { [N in JobName]: JobHandler<N> };

export interface WorkerHostOptions {
  connection: RedisClient;
  /** Each queue's BullMQ prefix (its own hash tag). */
  keyspace: RedisKeyspace;
  concurrency: number;
  /** BullMQ lock duration and stalled-job check interval (config SCANQ_WORKER_LOCK_MS / _STALLED_CHECK_MS). */
  lockMs?: number;
  stalledCheckMs?: number;
  queues: QueueName[];
  log: Logger;
  /** Told of every job this process ran (its /metrics). */
  observer?: JobObserver;
  /** Tracing (bullmq-otel): each run of a job is a span in the trace of whoever added it. */
  telemetry?: Telemetry;
}

/** How one run of a handler ended: done, failed (BullMQ retries or fails it), parked (delayed: a poll, a quota wait, an outage), handed back at shutdown. */
export type JobOutcome = 'completed' | 'failed' | 'parked' | 'handed_back';

export interface JobObserver {
  started(queue: QueueName, job: string): void;
  finished(queue: QueueName, job: string, outcome: JobOutcome, ms: number): void;
}

/** Each queue's BullMQ Worker: taking jobs (running, not paused), or closing. */
export type QueueConsumerState = 'running' | 'closing' | 'stopped';

/**
 * One BullMQ Worker per queue, dispatching each job to the one handler for its name. Refuses
 * to start when a job that can arrive on a served queue has no handler (cf. Immich's
 * job.repository), and lets handler errors reach BullMQ (attempts, backoff, failed set).
 *
 * A job whose cloud call was cut by this process's shutdown (SHUTTING_DOWN) goes back to the
 * front of its queue as it was, no attempt spent, for another worker to take at once: its
 * handler left the scan untouched. (Left active instead, it would wait for its lock to lapse
 * and the stalled check to find it.)
 */
export class WorkerHost {
  private readonly workers: Worker[] = [];

  constructor(
    private readonly handlers: Partial<JobHandlers>,
    private readonly options: WorkerHostOptions,
  ) {
    const missing = options.queues.flatMap((q) => JOBS_BY_QUEUE[q].filter((name) => typeof handlers[name] !== 'function'));
    if (missing.length) throw new Error(`refusing to start: no handler for job(s) ${missing.join(', ')}`);
  }

  start(): void {
    for (const queue of this.options.queues) {
      const worker = new Worker(
        queue,
        async (job: Job, token?: string) => {
          const handler = this.handlers[job.name as JobName] as JobHandler<JobName> | undefined;
          if (!handler) throw new Error(`no handler for job ${job.name} on queue ${queue}`);
          const observer = this.options.observer;
          const started = performance.now();
          let outcome: JobOutcome = 'failed';
          observer?.started(queue, job.name);
          try {
            const result = await handler(job as Job<never>, token);
            outcome = 'completed';
            return result;
          } catch (err) {
            if (err instanceof DelayedError || err instanceof WaitingError) outcome = 'parked';
            if (!isShutdownAbort(err)) throw err;
            outcome = 'handed_back';
            // Failing to move it (its lock lost) leaves it to the stalled check: never failed either way.
            await job.moveToWait(token).then(
              () => this.options.log.info({ queue, jobId: job.id, job: job.name }, 'shutting down: job handed back to the queue'),
              (e: unknown) => this.options.log.warn({ queue, jobId: job.id, err: (e as Error).message }, 'shutting down: job left to the stalled check'),
            );
            throw new WaitingError();
          } finally {
            observer?.finished(queue, job.name, outcome, performance.now() - started);
          }
        },
        {
          connection: this.options.connection,
          prefix: this.options.keyspace.queuePrefix(queue),
          concurrency: this.options.concurrency,
          // Parked poll jobs return through the delayed set; stalled-job checks recover jobs
          // of a killed process.
          lockDuration: this.options.lockMs ?? 30_000,
          stalledInterval: this.options.stalledCheckMs ?? 15_000,
          maxStalledCount: 3,
          ...(this.options.telemetry ? { telemetry: this.options.telemetry } : {}),
        },
      );
      worker.on('failed', (job, err) => {
        if (job && err.name !== 'DelayedError') this.options.log.warn({ queue, jobId: job.id, job: job.name, attemptsMade: job.attemptsMade, err: err.message }, 'job failed');
      });
      worker.on('error', (err) => this.options.log.error({ queue, err: err.message }, 'worker error'));
      this.workers.push(worker);
    }
  }

  /** Per queue: its Worker taking jobs, closing, or stopped (closed, paused, or its run loop ended). */
  states(): Record<string, QueueConsumerState> {
    return Object.fromEntries(this.workers.map((w) => [w.name, w.closing ? 'closing' : w.isRunning() && !w.isPaused() ? 'running' : 'stopped']));
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  /** Stops taking jobs and waits for the running ones (whose cloud calls the shutdown signal cuts). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
