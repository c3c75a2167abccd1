import type { Db } from './client.js';
import { Prisma, type WebhookDelivery } from './generated/prisma/client.js';

/** Every webhook delivery and each attempt's outcome: the record ops read when a receiver missed one. */
export class WebhookDeliveryRepository {
  constructor(private readonly db: Db) {}

  create(input: { event: string; url: string; payload: unknown; scanId?: string; bulkScanId?: string }): Promise<WebhookDelivery> {
    return this.db.webhookDelivery.create({ data: { ...input, payload: input.payload as Prisma.InputJsonValue } });
  }

  get(id: string): Promise<WebhookDelivery | null> {
    return this.db.webhookDelivery.findUnique({ where: { id } });
  }

  forScan(scanId: string): Promise<WebhookDelivery[]> {
    return this.db.webhookDelivery.findMany({ where: { scanId }, orderBy: { id: 'asc' } });
  }

  forBulkScan(bulkScanId: string): Promise<WebhookDelivery[]> {
    return this.db.webhookDelivery.findMany({ where: { bulkScanId }, orderBy: { id: 'asc' } });
  }

  /** Records one attempt; `final` ends the delivery (delivered, or failed for good). */
  async attempt(id: string, outcome: { ok: boolean; statusCode?: number; error?: string; final: boolean }): Promise<void> {
    await this.db.webhookDelivery.update({
      where: { id },
      data: {
        attempts: { increment: 1 },
        lastStatusCode: outcome.statusCode ?? null,
        lastError: outcome.error ?? null,
        ...(outcome.ok ? { status: 'delivered', deliveredAt: new Date() } : outcome.final ? { status: 'failed' } : {}),
      },
    });
  }
}
