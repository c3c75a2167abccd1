import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { JobName, QueueName, type ScanqConfig } from '@scanq/core';
import { addressRefusal, guardedLookup } from '@scanq/core/net';
import type { AccountRepository, BulkScan, ImageChange, ScanWithImages, WebhookDelivery, WebhookDeliveryRepository } from '@scanq/db';
import { type Job, type QueueRepository, UnrecoverableError } from '@scanq/queue';
import type { Logger } from 'pino';

export { isPrivateAddress } from '@scanq/core/net';

/** HMAC-SHA256 over `<timestamp>.<body>`, hex: what receivers recompute (header `X-Scanq-Signature: v1=<hex>`). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The account's `settings.webhookUrl`, when it has one. */
function accountWebhookUrl(settings: unknown): string | null {
  const url = (settings as Record<string, unknown> | undefined)?.webhookUrl;
  return typeof url === 'string' ? url : null;
}

/**
 * The `scan.completed` event of a scan that ended (as stored): what a webhook receiver gets and
 * what the `events` stream carries, built in this one place.
 */
export function scanCompletedPayload(finished: ScanWithImages, accountName: string | undefined) {
  return {
    event: 'scan.completed',
    scan: {
      id: finished.id,
      provider: finished.provider,
      account: accountName ?? finished.accountId,
      status: finished.status,
      reason: finished.reason,
      images: finished.images.map((i) => ({
        repository: i.repository,
        digest: i.digest,
        tags: i.tags,
        status: i.status,
        severityCounts: { CRITICAL: i.critical, HIGH: i.high, MEDIUM: i.medium, LOW: i.low, INFORMATIONAL: i.informational, UNKNOWN: i.unknown },
      })),
    },
  };
}

/** An event's body on the wire (webhook POST, stream entry): its id and time, then the payload. */
export function eventBody(id: string, createdAt: Date, payload: unknown): string {
  return JSON.stringify({ id, createdAt: createdAt.toISOString(), ...(payload as object) });
}

class TargetRefused extends Error {
  override name = 'TargetRefused';
}

/**
 * Completion webhooks: per request URL or per account (`settings.webhookUrl`), one event per
 * scan and one per bulk scan (never one per image of a bulk). Each delivery is a row in
 * Postgres and a BullMQ job retried with backoff; bodies are signed; targets resolving to
 * loopback or private addresses are refused at connect time (so DNS rebinding cannot slip
 * through) unless configured otherwise.
 */
export class WebhookService {
  constructor(
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly accounts: AccountRepository,
    private readonly queues: QueueRepository,
    private readonly config: ScanqConfig['webhooks'],
    private readonly log: Logger,
  ) {}

  /** A scan ended: its event goes to the request's URL, else the account's. Bulk members send none. */
  async scanEnded(scan: ScanWithImages, loadFinished: (id: string) => Promise<ScanWithImages | null>): Promise<void> {
    if (scan.bulkScanId) return;
    const account = await this.accounts.get(scan.accountId);
    const url = scan.webhookUrl ?? accountWebhookUrl(account?.settings);
    if (!url) return;
    // `scan` is as the handler last saw it; the event carries the stored end state.
    const finished = (await loadFinished(scan.id)) ?? scan;
    const payload = scanCompletedPayload(finished, account?.name);
    await this.enqueue({ event: 'scan.completed', url, payload, scanId: scan.id });
  }

  /**
   * Whether `vulnerabilitiesChanged` could send anything for this scan: a standalone scan with
   * neither its own URL nor its account's has nowhere to send it, so its changes need not be
   * read. A bulk member may (its bulk scan's URL).
   */
  async mayNotifyVulnerabilityChanges(scan: ScanWithImages): Promise<boolean> {
    if (scan.bulkScanId || scan.webhookUrl) return true;
    return accountWebhookUrl((await this.accounts.get(scan.accountId))?.settings) !== null;
  }

  /**
   * A scan's images found critical/high vulnerabilities their previous run did not have (a
   * rescan of the same digest, or of a new tag of it): one `image.vulnerabilities_changed`
   * event for the scan listing them, to the request's URL, else the account's, else (for a bulk
   * member) the bulk scan's. `changes` comes from InventoryRepository.newSevereVulnerabilities.
   */
  async vulnerabilitiesChanged(scan: ScanWithImages, changes: ImageChange[], bulkWebhookUrl?: string | null): Promise<void> {
    if (changes.length === 0) return;
    const account = await this.accounts.get(scan.accountId);
    const url = scan.webhookUrl ?? accountWebhookUrl(account?.settings) ?? bulkWebhookUrl ?? null;
    if (!url) return;
    const payload = {
      event: 'image.vulnerabilities_changed',
      scan: { id: scan.id, provider: scan.provider, account: account?.name ?? scan.accountId, bulkScanId: scan.bulkScanId },
      images: changes.map((c) => ({
        imageId: c.imageId,
        registry: c.registry,
        repository: c.repository,
        digest: c.digest,
        tags: c.tags,
        imageScanId: c.imageScanId,
        previousImageScanId: c.previousImageScanId,
        newVulnerabilities: c.newVulnerabilities,
      })),
    };
    await this.enqueue({ event: 'image.vulnerabilities_changed', url, payload, scanId: scan.id });
  }

  /** A bulk scan completed: its one event (totals, worst findings) goes to its URL. */
  async bulkCompleted(bulk: BulkScan, summary: unknown): Promise<void> {
    if (!bulk.webhookUrl) return;
    await this.enqueue({ event: 'bulk_scan.completed', url: bulk.webhookUrl, payload: summary, bulkScanId: bulk.id });
  }

  private async enqueue(input: { event: string; url: string; payload: unknown; scanId?: string; bulkScanId?: string }): Promise<WebhookDelivery> {
    const delivery = await this.deliveries.create(input);
    await this.queues.add(QueueName.webhooks, JobName.WebhookDeliver, { deliveryId: delivery.id }, { jobId: `webhook-${delivery.id}`, attempts: this.config.attempts, backoff: { type: 'exponential', delay: this.config.backoffMs } });
    return delivery;
  }

  /** The `webhook.deliver` job: one attempt; a failure throws so BullMQ retries with backoff. */
  async deliver(job: Job<{ deliveryId: string }>): Promise<void> {
    const delivery = await this.deliveries.get(job.data.deliveryId);
    if (!delivery || delivery.status !== 'pending') return;
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (!this.config.secret) {
      await this.deliveries.attempt(delivery.id, { ok: false, error: 'SCANQ_WEBHOOK_SECRET is not configured: events are never sent unsigned', final: true });
      throw new UnrecoverableError('webhook secret not configured');
    }
    const body = eventBody(delivery.id, delivery.createdAt, delivery.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const statusCode = await this.post(delivery.url, body, {
        'content-type': 'application/json',
        'user-agent': 'scanq-webhooks/1',
        'x-scanq-event': delivery.event,
        'x-scanq-delivery': delivery.id,
        'x-scanq-timestamp': String(timestamp),
        'x-scanq-signature': `v1=${signWebhook(this.config.secret, timestamp, body)}`,
      });
      if (statusCode >= 200 && statusCode < 300) {
        await this.deliveries.attempt(delivery.id, { ok: true, statusCode, final: true });
        return;
      }
      await this.deliveries.attempt(delivery.id, { ok: false, statusCode, error: `HTTP ${statusCode}`, final });
      throw new Error(`webhook ${delivery.id}: HTTP ${statusCode}`);
    } catch (err) {
      if (err instanceof TargetRefused) {
        await this.deliveries.attempt(delivery.id, { ok: false, error: err.message, final: true });
        throw new UnrecoverableError(err.message);
      }
      if (!(err as Error).message.startsWith(`webhook ${delivery.id}`)) await this.deliveries.attempt(delivery.id, { ok: false, error: (err as Error).message, final });
      this.log.warn({ deliveryId: delivery.id, attempt: job.attemptsMade + 1, err: (err as Error).message }, 'webhook delivery failed');
      throw err;
    }
  }

  /** POSTs `body`; the connection's own DNS lookup refuses private addresses. */
  private post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return Promise.reject(new TargetRefused(`webhook target ${target.protocol} is not http(s)`));
    // Loopback counts as private here: a webhook never needs it outside tests (which allow private).
    const policy = { allowPrivate: this.config.allowPrivate };
    const lookup = guardedLookup(policy, (host, address) => new TargetRefused(`webhook target ${host} resolves to a private address (${address}); set SCANQ_WEBHOOK_ALLOW_PRIVATE=true to allow`));
    // Node skips `lookup` for an IP literal: judge it here.
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) && addressRefusal(literal, policy)) {
      return Promise.reject(new TargetRefused(`webhook target ${target.hostname} is a private address; set SCANQ_WEBHOOK_ALLOW_PRIVATE=true to allow`));
    }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(target, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, lookup, timeout: this.config.timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error(`webhook timed out after ${this.config.timeoutMs} ms`)));
      req.on('error', (err) => reject(err));
      req.end(body);
    });
  }
}
