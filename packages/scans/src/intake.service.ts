import { checkIntake, dependencyOutage, type InputIssue, type IntakeJobName, intakeFailureReason, type IntakePayload, type IntakeRequest, JobName } from '@scanq/core';
import { DelayedError, type Job, UnrecoverableError } from '@scanq/queue';
import type { RedisClient as Redis } from '@scanq/queue';
import type { Logger } from 'pino';
import type { BulkScanService } from './bulk-scan.service.js';
import { SubmitError, type SubmitService } from './submit.service.js';

const SEP = '\u001f';

/**
 * The intake queue's jobs (`requests`): scan and bulk-scan requests added by other services
 * straight to Redis. Each is checked as the API checks a request, then handed to the services
 * the API uses (SubmitService, BulkScanService.create) — one code path, the same idempotency.
 *
 * - bad input, an unknown account, a key reused for another request: the job fails at once
 *   (UnrecoverableError, no retry) with the API's error body as its reason, counted per job and
 *   error in Redis for /metrics;
 * - Postgres unreachable: the job waits in the delayed set and tries again, no attempt spent, so
 *   a request added during an outage is recorded when Postgres is back;
 * - no key given: the job's own identity is the key, so a retried job (its worker died after the
 *   insert) finds the scan it already made instead of making another.
 */
export class IntakeService {
  constructor(
    private readonly submit: SubmitService,
    private readonly bulk: BulkScanService,
    private readonly redis: Redis,
    private readonly statsKey: string,
    private readonly options: { outageRetryMs: number },
    private readonly log: Logger,
  ) {}

  /** `scan.request`: returns the scan id (the first scan's, for a repeat). */
  handleScan(job: Job<unknown>, token: string | undefined): Promise<string> {
    return this.handle(JobName.ScanRequest, job, token, async (payload, key) => (await this.submit.submit(payload.request, key)).scan.id);
  }

  /** `bulk.request`: returns the bulk scan id. */
  handleBulk(job: Job<unknown>, token: string | undefined): Promise<string> {
    return this.handle(JobName.BulkRequest, job, token, async (payload, key) => (await this.bulk.create(payload.request, {}, key)).bulk.id);
  }

  /** Counted refusals (what /metrics shows), by job name and error code. */
  static async rejected(redis: Redis, statsKey: string): Promise<{ job: string; error: string; count: number }[]> {
    const hash = await redis.hgetall(statsKey);
    return Object.entries(hash).map(([field, n]) => {
      const [job = '', error = ''] = field.split(SEP);
      return { job, error, count: Number(n) };
    });
  }

  private async handle<N extends IntakeJobName>(name: N, job: Job<unknown>, token: string | undefined, record: (payload: IntakePayload<IntakeRequest<N>>, key: string) => Promise<string>): Promise<string> {
    const checked = checkIntake(name, job.data);
    if (!checked.ok) throw await this.refuse(job, 'validation_error', checked.issues);
    const key = checked.value.idempotencyKey ?? defaultIdempotencyKey(job);
    try {
      return await record(checked.value, key);
    } catch (err) {
      if (err instanceof SubmitError) {
        // The key is the job's `idempotencyKey` here, not a header.
        const field = err.field === 'headers.idempotency-key' ? 'idempotencyKey' : (err.field ?? 'body');
        throw await this.refuse(job, err.code, [{ field, rule: err.code, message: err.message.replace('this Idempotency-Key', 'this idempotency key') }]);
      }
      if (dependencyOutage(err) === 'postgres' && token) {
        // Waits out the outage in the delayed set, no attempt spent (a moved job is not failed).
        this.log.warn({ jobId: job.id, job: job.name, retryInMs: this.options.outageRetryMs }, 'intake: Postgres unreachable; the request waits in the queue');
        await job.moveToDelayed(Date.now() + this.options.outageRetryMs, token);
        throw new DelayedError();
      }
      throw err;
    }
  }

  /** Counts the refusal, then the error that fails the job for good with the API's error body. */
  private async refuse(job: Job<unknown>, error: string, issues: InputIssue[]): Promise<UnrecoverableError> {
    await this.redis.hincrby(this.statsKey, `${job.name}${SEP}${error}`, 1).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'intake: refusal not counted'));
    this.log.info({ jobId: job.id, job: job.name, error, issues }, 'intake: request refused');
    return new UnrecoverableError(intakeFailureReason(error, issues));
  }
}

/**
 * The key of a job added without one: its id and the time it was added, both kept by BullMQ
 * across retries and stalls. The time guards against ids BullMQ numbers itself (a counter that
 * restarts when Redis loses the queue), which would otherwise meet an earlier job's key.
 */
export function defaultIdempotencyKey(job: Job<unknown>): string {
  return `intake:${job.queueName}:${job.id}:${job.timestamp}`;
}
