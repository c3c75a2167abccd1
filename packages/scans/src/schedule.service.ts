import { type CreateScheduleRequest, JobName, jobIds, nextCronRun, type PatchScheduleRequest, QueueName } from '@scanq/core';
import type { Schedule, ScheduleRepository } from '@scanq/db';
import { type Job, type QueueRepository, RedisLease } from '@scanq/queue';
import type { RedisClient } from '@scanq/queue';
import type { Logger } from 'pino';
import type { BulkScanService } from './bulk-scan.service.js';
import { SubmitError } from './submit.service.js';

const SCHEDULER_PREFIX = jobIds.scheduler('');

/**
 * Cron schedules. Postgres holds them; each enabled one is a BullMQ job scheduler whose ticks
 * become `schedule.tick` jobs. Schedulers are written from one place at a time (API writes,
 * or the worker's start-up sync under a Redis lock), because concurrent upserts of the same
 * scheduler race in BullMQ (issues #2876, #3085, #3262); and a duplicate tick is harmless
 * anyway: one bulk scan per (schedule, tick) is a unique key in Postgres.
 */
export class ScheduleService {
  constructor(
    private readonly schedules: ScheduleRepository,
    private readonly bulk: BulkScanService,
    private readonly queues: QueueRepository,
    private readonly redis: RedisClient,
    private readonly lockKey: string,
    private readonly log: Logger,
  ) {}

  /**
   * A schedule is a row and a scheduler: with Redis down, fail before the row is written (a
   * retry would otherwise find its own name taken). Redis lost between the two is a 503 all the
   * same, and the row stays: a worker's start-up re-derives schedulers from Postgres.
   */
  private async redisReachable(): Promise<void> {
    await this.redis.ping();
  }

  async create(input: CreateScheduleRequest): Promise<Schedule> {
    await this.redisReachable();
    await this.bulk.checkSelector(input.selector, { schedule: true });
    const next = nextCronRun(input.cron, input.timezone);
    const schedule = await this.schedules.create(input, input.enabled && !(next instanceof Error) ? next : null);
    if (!schedule) throw new SubmitError(409, 'schedule_exists', `a schedule named "${input.name}" exists`, 'body.name');
    await this.sync(schedule);
    return schedule;
  }

  async update(id: string, patch: PatchScheduleRequest): Promise<Schedule | null> {
    await this.redisReachable();
    const current = await this.schedules.get(id);
    if (!current) return null;
    if (patch.selector) await this.bulk.checkSelector(patch.selector, { schedule: true });
    const merged = { cron: patch.cron ?? current.cron, timezone: patch.timezone ?? current.timezone, enabled: patch.enabled ?? current.enabled };
    const next = nextCronRun(merged.cron, merged.timezone);
    const schedule = await this.schedules.update(id, { ...patch, nextRunAt: merged.enabled && !(next instanceof Error) ? next : null });
    if (schedule) await this.sync(schedule);
    return schedule;
  }

  async delete(id: string): Promise<boolean> {
    await this.redisReachable();
    const deleted = await this.schedules.delete(id);
    await (await this.queues.ready(QueueName.maintenance)).removeJobScheduler(jobIds.scheduler(id));
    return deleted;
  }

  /** Makes the BullMQ scheduler match the row: present with its cron and zone, or gone. */
  private async sync(schedule: Schedule): Promise<void> {
    const queue = await this.queues.ready(QueueName.maintenance);
    const id = jobIds.scheduler(schedule.id);
    if (!schedule.enabled) {
      await queue.removeJobScheduler(id);
      return;
    }
    await queue.upsertJobScheduler(
      id,
      { pattern: schedule.cron, tz: schedule.timezone },
      { name: JobName.ScheduleTick, data: { scheduleId: schedule.id }, opts: { removeOnComplete: 100, removeOnFail: 500, attempts: 3 } },
    );
  }

  /**
   * Worker start-up: re-derives every scheduler from Postgres (Redis may have lost them), one
   * process at a time, touching only schedulers that differ.
   */
  async registerAll(): Promise<{ upserted: number; removed: number } | null> {
    const lease = await RedisLease.acquire(this.redis, this.lockKey, 30_000);
    if (!lease) return null;
    try {
      const queue = await this.queues.ready(QueueName.maintenance);
      const wanted = new Map((await this.schedules.enabled()).map((s) => [jobIds.scheduler(s.id), s]));
      let upserted = 0;
      let removed = 0;
      for (const existing of await queue.getJobSchedulers(0, -1)) {
        const key = existing.key ?? existing.id;
        if (!key?.startsWith(SCHEDULER_PREFIX)) continue;
        const schedule = wanted.get(key);
        if (!schedule) {
          await queue.removeJobScheduler(key);
          removed += 1;
        } else if (existing.pattern === schedule.cron && (existing.tz ?? 'UTC') === schedule.timezone) {
          wanted.delete(key);
        }
      }
      for (const schedule of wanted.values()) {
        await this.sync(schedule);
        upserted += 1;
      }
      if (upserted || removed) this.log.info({ upserted, removed }, 'schedules registered');
      return { upserted, removed };
    } finally {
      await lease.release();
    }
  }

  /** The `schedule.tick` job: one bulk scan for this schedule and tick time. */
  async tick(job: Job<{ scheduleId: string }>): Promise<void> {
    const schedule = await this.schedules.get(job.data.scheduleId);
    if (!schedule || !schedule.enabled) {
      // Deleted or paused after the tick was produced: it creates nothing.
      if (!schedule) await (await this.queues.ready(QueueName.maintenance)).removeJobScheduler(jobIds.scheduler(job.data.scheduleId));
      return;
    }
    const tickAt = tickTimeOf(job);
    const { bulk, created } = await this.bulk.create({ selector: schedule.selector as never, force: schedule.force, ...(schedule.webhookUrl ? { webhookUrl: schedule.webhookUrl } : {}) }, { scheduleId: schedule.id, tickAt });
    const next = nextCronRun(schedule.cron, schedule.timezone);
    await this.schedules.update(schedule.id, { lastRunAt: tickAt, nextRunAt: next instanceof Error ? null : next });
    this.log.info({ scheduleId: schedule.id, tickAt, bulkScanId: bulk.id, duplicate: !created }, 'schedule ticked');
  }
}

/** The tick a scheduler job belongs to: BullMQ names them `repeat:<scheduler>:<millis>`. */
export function tickTimeOf(job: Pick<Job, 'id' | 'timestamp' | 'opts'>): Date {
  const millis = Number(job.id?.split(':').pop());
  if (Number.isFinite(millis) && millis > 0) return new Date(millis);
  const prev = (job.opts as { prevMillis?: number }).prevMillis;
  return new Date(prev ?? job.timestamp);
}
