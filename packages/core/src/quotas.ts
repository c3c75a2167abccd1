import { z } from 'zod';
import { PROVIDERS } from './domain.js';

/** `GET /v1/quotas`: each account's quota as the quota primitives see it now. */
export const accountQuotaSchema = z.discriminatedUnion('kind', [
  z.object({
    /** Alibaba: scan tasks in flight per account (ConcurrencySlots). */
    kind: z.literal('concurrency_slots'),
    limit: z.number().int(),
    inUse: z.number().int(),
    /** Room assumed taken by tasks created outside scanq. */
    external: z.number().int(),
    free: z.number().int(),
    /** Scans in quota_wait holding a waiter id. */
    waiting: z.number().int(),
    leaseMs: z.number().int(),
    holders: z.array(z.object({ scanId: z.string(), leaseExpiresAt: z.string() })),
    /** The latest a slot frees if its holder stops renewing (a task finishing frees it sooner). */
    earliestLeaseExpiryAt: z.string().nullable(),
  }),
  z.object({
    /** AWS: one StartImageScan per image per 24 h (ScanOnceWindow + its Postgres record). */
    kind: z.literal('scan_once_window'),
    windowHours: z.number(),
    imagesInWindow: z.number().int(),
    nextOpening: z.array(z.object({ repository: z.string(), digest: z.string(), opensAt: z.string() })),
  }),
  z.object({
    /** Tencent: calls per API per account, paced over a sliding window (PacedCallGate). */
    kind: z.literal('sliding_window'),
    /** The cloud's limit: calls per API in any second (20). */
    limitPerSec: z.number().int(),
    /** The workers keep to limitPerSec calls in any windowMs (1000 + SCANQ_TENCENT_MARGIN_MS: room for late arrivals). */
    windowMs: z.number().int(),
    /** Per API: calls due in the last second, and calls waiting for their time. */
    apis: z.array(z.object({ api: z.string(), lastSecond: z.number().int(), waiting: z.number().int(), rate: z.string() })),
  }),
  z.object({
    /** Huawei: images per batch-scan call. */
    kind: z.literal('batch'),
    maxImagesPerCall: z.number().int(),
  }),
]);

export const quotaViewSchema = z.object({
  account: z.string(),
  accountId: z.string(),
  provider: z.enum(PROVIDERS),
  region: z.string(),
  quota: accountQuotaSchema,
});
export type QuotaView = z.infer<typeof quotaViewSchema>;
export const quotasResponseSchema = z.object({ items: z.array(quotaViewSchema) });
export const quotasQuerySchema = z.object({ provider: z.enum(PROVIDERS).optional() }).strict();
