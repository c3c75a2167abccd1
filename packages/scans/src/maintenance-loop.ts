import { trace } from '@opentelemetry/api';
import { RedisLease } from '@scanq/queue';
import type { RedisClient } from '@scanq/queue';
import type { Logger } from 'pino';
import type { ReconcileService } from './reconcile.service.js';
import type { RetentionService } from './retention.service.js';
import type { ScheduleService } from './schedule.service.js';

const tracer = trace.getTracer('scanq-maintenance');

/**
 * The ledger's upkeep, run from a timer in every maintenance worker rather than from a schedule
 * held in Redis (design: "Ledger first, Redis second"): after Redis loses everything, the next
 * tick re-creates the schedules' job schedulers and re-enqueues every open scan whose job is
 * gone, with no restart. A Redis lease lets one worker at a time do a pass; the others' ticks
 * find it held and skip.
 */
export class MaintenanceLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly reconciler: ReconcileService,
    private readonly schedules: ScheduleService,
    private readonly redis: RedisClient,
    private readonly lockKey: string,
    private readonly everyMs: number,
    private readonly log: Logger,
    private readonly retention?: RetentionService,
  ) {}

  start(): this {
    this.schedule(Math.random() * this.everyMs);
    return this;
  }

  /** One pass, unless another worker is doing one: schedulers re-derived, the reconcile, then retention. */
  async tick(): Promise<boolean> {
    const lease = await RedisLease.acquire(this.redis, this.lockKey, Math.max(this.everyMs, 30_000));
    if (!lease) return false;
    lease.keepAlive();
    // One trace per pass (tracing on), not one per statement: a lost scan's job re-added here is a child of it.
    return tracer.startActiveSpan('maintenance', async (span) => {
      try {
        await this.schedules.registerAll();
        await this.reconciler.reconcile();
        // Last: a slow prune never delays re-enqueueing lost scans.
        await this.retention?.prune();
        return true;
      } finally {
        span.end();
        await lease.release().catch(() => undefined);
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Ticks spread ±20 % so the workers of a deployment do not all ask at once. */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'maintenance pass failed; the next tick tries again'))
        .finally(() => this.schedule(this.everyMs * (0.8 + Math.random() * 0.4)));
    }, delayMs);
    this.timer.unref();
  }
}
