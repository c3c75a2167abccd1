import type { AccountRepository, BulkScan, ScanWithImages, StreamEvent, StreamEventRepository } from '@scanq/db';
import type { RedisClient as Redis } from '@scanq/queue';
import type { Logger } from 'pino';
import { eventBody, scanCompletedPayload } from './webhook.service.js';

/** Outbox rows appended per maintenance pass. */
const PENDING_BATCH = 500;

export interface EventStreamOptions {
  /** The stream's key (eventsStreamKey of the deployment's prefix). */
  key: string;
  /** XADD MAXLEN ~ cap (SCANQ_EVENTS_MAXLEN). */
  maxLen: number;
  /** Bound on one XADD: past it the row stays pending for the maintenance pass. */
  timeoutMs: number;
  /** An event this old and still not appended is the maintenance pass's to append. */
  graceMs: number;
}

/**
 * Every scan end (not bulk members: like webhooks, a bulk scan has its one event) and every
 * bulk-scan end, appended to the Redis Stream `events` for consumers (XREADGROUP), with the
 * webhook's body.
 *
 * Durability is an outbox in Postgres, the same ledger the webhook deliveries are recorded in:
 * the event is a `StreamEvent` row first, then XADDed and marked. An end while Redis is down (or
 * an XADD that does not answer in time) leaves the row unmarked and the maintenance pass appends
 * it once Redis is back. Delivery is at least once: an XADD that landed but whose mark was lost
 * is appended again; the body's `id` (the row's) is the same both times, for consumers to drop
 * the repeat.
 */
export class EventStreamService {
  constructor(
    private readonly rows: StreamEventRepository,
    private readonly accounts: AccountRepository,
    private readonly redis: Redis,
    private readonly options: EventStreamOptions,
    private readonly log: Logger,
  ) {}

  /** A standalone scan ended (`finished`: as stored). */
  async scanEnded(finished: ScanWithImages): Promise<void> {
    if (finished.bulkScanId) return;
    const account = await this.accounts.get(finished.accountId);
    await this.publish({ key: `scan.completed:${finished.id}`, event: 'scan.completed', payload: scanCompletedPayload(finished, account?.name), scanId: finished.id });
  }

  /**
   * What the statement that ends a standalone scan records as its outbox row (ScanEnd.event):
   * the account name the payload carries. null for bulk members (the bulk scan has the event).
   */
  async endEventFor(scan: ScanWithImages): Promise<{ account: string } | null> {
    if (scan.bulkScanId) return null;
    const account = await this.accounts.get(scan.accountId);
    return { account: account?.name ?? scan.accountId };
  }

  /** A bulk scan completed: its summary, the webhook's `bulk_scan.completed` body. */
  async bulkCompleted(bulk: BulkScan, summary: unknown): Promise<void> {
    await this.publish({ key: `bulk_scan.completed:${bulk.id}`, event: 'bulk_scan.completed', payload: summary, bulkScanId: bulk.id });
  }

  /** Appends what is still waiting (Redis was down, a process died between row and XADD). */
  async appendPending(): Promise<number> {
    let appended = 0;
    for (const row of await this.rows.pending(this.options.graceMs, PENDING_BATCH)) if (await this.append(row)) appended += 1;
    if (appended) this.log.info({ appended }, 'events stream: appended events recorded while Redis was away');
    return appended;
  }

  private async publish(input: { key: string; event: string; payload: unknown; scanId?: string; bulkScanId?: string }): Promise<void> {
    await this.appendRecorded(await this.rows.record(input));
  }

  /** Appends a recorded outbox row (also one the scan's ending statement recorded: `endEventFor`). */
  async appendRecorded(row: StreamEvent): Promise<void> {
    if (row.streamId) return;
    // Not connected: leave it to the maintenance pass rather than queue a command that might land
    // after that pass appended the row too.
    if (this.redis.status !== 'ready') return;
    await this.append(row).catch((err: unknown) => this.log.warn({ eventId: row.id, err: (err as Error).message }, 'events stream: append failed; the maintenance pass appends it'));
  }

  private async append(row: StreamEvent): Promise<boolean> {
    const fields = ['event', row.event, 'id', row.id, ...(row.scanId ? ['scanId', row.scanId] : []), ...(row.bulkScanId ? ['bulkScanId', row.bulkScanId] : []), 'body', eventBody(row.id, row.createdAt, row.payload)];
    let timer: NodeJS.Timeout | undefined;
    const streamId = await Promise.race([
      this.redis.xadd(this.options.key, 'MAXLEN', '~', this.options.maxLen, '*', ...fields),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`XADD not answered within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!streamId) return false;
    await this.rows.appended(row.id, streamId);
    return true;
  }
}
