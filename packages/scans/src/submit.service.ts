import { createHash } from 'node:crypto';
import { type CreateScanRequest, dependencyOutage, type Provider, queueForProvider, jobIds, splitScanRequest } from '@scanq/core';
import { type AccountRepository, type ScanRepository, type ScanWithImages, uuidv7 } from '@scanq/db';
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

/**
 * Accepts scan requests: Postgres first (the ledger), then the start job with `jobId = scan.id`
 * so a retried enqueue never doubles it. A lost enqueue is repaired by the reconciler.
 */
export class SubmitService {
  constructor(
    private readonly accounts: AccountRepository,
    private readonly scans: ScanRepository,
    private readonly queues: QueueRepository,
    private readonly defaults: { scanTimeoutMs: number },
    private readonly log?: Logger,
    /** Told of a scan this service ended (cancelled): the `events` stream carries every end. */
    private readonly events?: { scanEnded(finished: ScanWithImages): Promise<void> },
  ) {}

  async submit(request: CreateScanRequest, idempotencyKey?: string): Promise<{ scan: ScanWithImages; created: boolean }> {
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
    const { scan, created } = await this.scans.create({
      id,
      jobId: jobIds.start(id),
      provider,
      accountId: account.id,
      target,
      deadlineAt: new Date(Date.now() + (timeoutSeconds ? timeoutSeconds * 1000 : this.defaults.scanTimeoutMs)),
      ...(idempotencyKey ? { idempotencyKey, requestHash } : {}),
      ...(webhookUrl ? { webhookUrl } : {}),
    });
    if (!created) {
      if (scan.requestHash && scan.requestHash !== requestHash) {
        throw new SubmitError(409, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request', 'headers.idempotency-key');
      }
      return { scan, created };
    }
    // A lost enqueue (crash here, Redis down) is repaired by the reconciler: the row names a job
    // that is missing, so it adds one once its grace has passed. The scan is accepted either way.
    try {
      await this.queues.enqueueScanStarts([{ id: scan.id, provider }]);
    } catch (err) {
      if (dependencyOutage(err) !== 'redis') throw err;
      this.log?.warn({ scanId: scan.id, err: { message: (err as Error).message } }, 'scan recorded; its start job waits for Redis (the reconciler adds it)');
    }
    return { scan, created };
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
