import { createHash } from 'node:crypto';
import { type BatchOutcome, Batcher, type BatcherOptions, type CreateScanRequest, dependencyOutage, type Provider, queueForProvider, jobIds, splitScanRequest } from '@scanq/core';
import { type AccountRepository, type NewScan, type ScanRepository, type ScanWithImages, uuidv7 } from '@scanq/db';
import type { QueueRepository } from '@scanq/queue';
import type { Logger } from 'pino';
import { cancelNotStartedScans } from './cancel-not-started.js';

export class SubmitError extends Error {
  override name = 'SubmitError';
  constructor(
    readonly status: 409 | 422,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A validated submit on its way into a batch: its row and the hash of what it asked. */
interface PreparedSubmit {
  input: NewScan;
  requestHash: string;
}

type Submitted = { scan: ScanWithImages; created: boolean };

/** Group commit defaults: see SCANQ_SUBMIT_BATCH_MAX / _IN_FLIGHT. */
export const SUBMIT_BATCH_DEFAULTS = { maxBatch: 256, maxInFlight: 4 } as const;

/**
 * Accepts scan requests: Postgres first (the ledger), then the start job with `jobId = scan.id`
 * so a retried enqueue never doubles it. A lost enqueue is repaired by the reconciler.
 *
 * Concurrent submits are group-committed: those arriving within one event-loop turn (or while
 * earlier batches are out) share one INSERT (one transaction, one round trip) and one enqueue
 * per queue, and each caller is answered on its own. Every check a request can fail on its own
 * (schema, account, key reuse) is made outside the statement, so one caller's bad request never
 * fails the others; a statement that fails anyway fails every caller of the batch, with no job
 * added for it.
 */
export class SubmitService {
  private readonly batcher: Batcher<PreparedSubmit, Submitted>;

  constructor(
    private readonly accounts: AccountRepository,
    private readonly scans: ScanRepository,
    private readonly queues: QueueRepository,
    private readonly defaults: { scanTimeoutMs: number; batch?: BatcherOptions },
    private readonly log?: Logger,
    /** Told of a scan this service ended (cancelled): the `events` stream carries every end. */
    private readonly events?: { scanEnded(finished: ScanWithImages): Promise<void> },
  ) {
    this.batcher = new Batcher((batch) => this.commit(batch), defaults.batch ?? SUBMIT_BATCH_DEFAULTS);
  }

  async submit(request: CreateScanRequest, idempotencyKey?: string): Promise<Submitted> {
    const { account: accountRef, timeoutSeconds, webhookUrl, target } = splitScanRequest(request);
    const provider: Provider = request.provider;
    const account = await this.accounts.findByRef(provider, accountRef);
    if (!account) throw new SubmitError(422, 'unknown_account', `no ${provider} account named "${accountRef}"`, 'body.account');
    // Everything the request asks for is in the hash: a repeat that changes the deadline or the
    // webhook is a different request (409), not one whose options are silently dropped.
    const requestHash = createHash('sha256')
      .update(JSON.stringify({ provider, account: account.id, target, timeoutSeconds: timeoutSeconds ?? null, webhookUrl: webhookUrl ?? null }))
      .digest('hex');
    // The id is made here so the start job's id can be stored with the row (one statement).
    const id = uuidv7();
    const input: NewScan = {
      id,
      jobId: jobIds.start(id),
      provider,
      accountId: account.id,
      target,
      deadlineAt: new Date(Date.now() + (timeoutSeconds ? timeoutSeconds * 1000 : this.defaults.scanTimeoutMs)),
      ...(idempotencyKey ? { idempotencyKey, requestHash } : {}),
      ...(webhookUrl ? { webhookUrl } : {}),
    };
    return this.batcher.add({ input, requestHash });
  }

  /**
   * One batch: the rows in one statement, then the start jobs of the rows it created. A key
   * repeated within the batch is one row (its first request's); the repeats are answered like a
   * repeat of a committed key. A statement that fails on something other than an outage is
   * retried row by row, so a row Postgres refuses fails its own caller only.
   */
  private async commit(batch: PreparedSubmit[]): Promise<BatchOutcome<Submitted>[]> {
    const firstOfKey = new Map<string, number>();
    const rowOf: number[] = [];
    const rows: NewScan[] = [];
    for (const { input } of batch) {
      const key = input.idempotencyKey;
      const seen = key === undefined ? undefined : firstOfKey.get(key);
      if (seen !== undefined) {
        rowOf.push(seen);
        continue;
      }
      if (key !== undefined) firstOfKey.set(key, rows.length);
      rowOf.push(rows.length);
      rows.push(input);
    }
    const written = await this.insert(rows);
    const created = written.flatMap((w) => (w.ok && w.value.created ? [w.value.scan] : []));
    // A lost enqueue (crash here, Redis down) is repaired by the reconciler: the row names a job
    // that is missing, so it adds one once its grace has passed. The scans are accepted either way.
    if (created.length > 0) {
      try {
        await this.queues.enqueueScanStarts(created.map((scan) => ({ id: scan.id, provider: scan.provider })));
      } catch (err) {
        if (dependencyOutage(err) !== 'redis') throw err;
        this.log?.warn({ scans: created.length, err: { message: (err as Error).message } }, 'scans recorded; their start jobs wait for Redis (the reconciler adds them)');
      }
    }
    return batch.map(({ input, requestHash }, i) => {
      const w = written[rowOf[i]!]!;
      if (!w.ok) return w;
      const { scan } = w.value;
      // The row's first request: its own answer. Another request with the same key: the scan of
      // the first, unless it asked for something else.
      if (w.value.created && scan.id === input.id) return w;
      if (scan.requestHash && scan.requestHash !== requestHash) {
        return { ok: false, error: new SubmitError(409, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request', 'headers.idempotency-key') };
      }
      return { ok: true, value: { scan, created: false } };
    });
  }

  private async insert(rows: NewScan[]): Promise<BatchOutcome<Submitted>[]> {
    try {
      return (await this.scans.createBatch(rows)).map((value) => ({ ok: true, value }));
    } catch (err) {
      if (rows.length === 1 || dependencyOutage(err)) throw err;
      this.log?.warn({ rows: rows.length, err: { message: (err as Error).message } }, 'batched scan insert failed: inserting its rows one by one');
      return Promise.all(
        rows.map(async (row): Promise<BatchOutcome<Submitted>> => {
          try {
            return { ok: true, value: (await this.scans.createBatch([row]))[0]! };
          } catch (error) {
            return { ok: false, error };
          }
        }),
      );
    }
  }

  /**
   * Cancels a scan that has not reached the cloud: its queued job is removed and it ends
   * `cancelled`. A scan already running at the cloud, or whose start a worker is running now,
   * is left to end in its real result. Returns the scan as it now stands (null: unknown id).
   */
  async cancel(scanId: string): Promise<ScanWithImages | null> {
    const cancelled = await cancelNotStartedScans(this.scans, this.queues, { id: scanId });
    const scan = await this.scans.get(scanId);
    if (cancelled > 0 && scan) await this.events?.scanEnded(scan);
    return scan;
  }

  queueOf(provider: Provider) {
    return queueForProvider(provider);
  }
}
