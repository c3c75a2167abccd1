import cronParser from 'cron-parser';
import { z } from 'zod';
import { BULK_SCAN_STATUSES, PROVIDERS } from './domain.js';
import { accountSelectorSchema } from './accounts-apply.js';
import { webhookUrlSchema } from './targets/common.js';

/**
 * Bulk scans and schedules: what a selection of images looks like, and the cron that repeats
 * it. The API validates with these, the planner reads the selector, the client infers from them.
 */

const name = z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const nameList = (what: string) => z.array(name).min(1, `give at least one ${what} or leave the field out`).max(1000, 'at most 1000 entries');

/** `*` matches any run of characters, `?` one character; everything else literally. */
export const TAG_PATTERN_PATTERN = /^[A-Za-z0-9_.*?-]{1,128}$/;

export const bulkSelectorSchema = z
  .object({
    /** Account names or ids; all accounts when absent. */
    accounts: nameList('account').optional(),
    /** Accounts by labels (`matchLabels`: every pair on the account), resolved when the plan runs: a schedule picks up accounts labelled later. ANDed with `accounts`. */
    accountSelector: accountSelectorSchema.optional(),
    providers: z.array(z.enum(PROVIDERS)).min(1, 'give at least one provider or leave the field out').optional(),
    /** Cloud regions the images are in (an Alibaba account's images span regions; the other clouds' accounts hold one). */
    regions: nameList('region').optional().describe("Regions the images are in: an Alibaba account's images span regions, another cloud's account holds its own region's"),
    /** Registries or registry instances: scanq's form (an image's `registry`) or the cloud's id (ECR registry id, ACR/SWR/TCR instance id). */
    registries: nameList('registry')
      .optional()
      .describe("Registries: an image's `registry` as scanq reports it (acr:<region>:<instance>, instance_image/<id>, private_image, an ECR registry id) or the cloud's instance id"),
    namespaces: nameList('namespace').optional(),
    /** Full repository names (`team/app`). */
    repositories: nameList('repository').optional(),
    /** Tag globs (`*` any run, `?` one character), e.g. `v1.*`, `release-??`. */
    tagPatterns: z.array(z.string().regex(TAG_PATTERN_PATTERN, 'must be a tag glob of letters, digits, _ . - * ?')).min(1).max(100).optional(),
    /** Only the most recently pushed image of each repository. */
    latestTagOnly: z.boolean().optional(),
    /** Skip images scanq scanned successfully within this many hours (0: never skip). */
    skipScannedWithinHours: z.number().int('must be a whole number of hours').min(0).max(24 * 90).optional(),
  })
  .strict();
export type BulkSelector = z.infer<typeof bulkSelectorSchema>;

export const createBulkScanSchema = z
  .object({
    selector: bulkSelectorSchema,
    /** Re-scan images the 24 h rule or `skipScannedWithinHours` would skip. */
    force: z.boolean().optional(),
    /** Per-scan deadline (seconds). */
    timeoutSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
    /** Receives the one completion event of the bulk scan. */
    webhookUrl: webhookUrlSchema.optional(),
  })
  .strict();
export type CreateBulkScanRequest = z.infer<typeof createBulkScanSchema>;

export const BULK_TOTAL_STATES = ['planned', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type BulkTotalState = (typeof BULK_TOTAL_STATES)[number];
export const bulkTotalsSchema = z.object(Object.fromEntries(BULK_TOTAL_STATES.map((s) => [s, z.number().int()])) as Record<BulkTotalState, z.ZodNumber>);
export type BulkTotals = z.infer<typeof bulkTotalsSchema>;

export const bulkScanSchema = z.object({
  id: z.string(),
  status: z.enum(BULK_SCAN_STATUSES),
  selector: bulkSelectorSchema,
  force: z.boolean(),
  scheduleId: z.string().nullable(),
  tickAt: z.string().nullable(),
  /** Images (one per digest) by state; `planned` is every image the selector chose. */
  totals: bulkTotalsSchema,
  byProvider: z.record(z.string(), bulkTotalsSchema),
  /** Seconds until every image is done at the rate seen so far; null before any finished. */
  etaSeconds: z.number().nullable(),
  /** How the planner split the work: per account, the provider calls it will make. */
  plan: z.record(z.string(), z.unknown()),
  /** Accounts the planner could not list ("<account>: <why>"): their images are in no total. */
  planErrors: z.array(z.string()),
  error: z.string().nullable(),
  webhookUrl: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type BulkScanView = z.infer<typeof bulkScanSchema>;

// --- Schedules -----------------------------------------------------------------------------

/** True when `tz` is an IANA time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The next run of `cron` in `tz` after `from`, or an Error saying what is wrong with it. */
export function nextCronRun(cron: string, tz: string, from = new Date()): Date | Error {
  try {
    return cronParser.parseExpression(cron, { tz, currentDate: from }).next().toDate();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

const cronSchema = z
  .string()
  .min(1)
  .max(120)
  .refine((c) => c.trim().split(/\s+/).length >= 5 && c.trim().split(/\s+/).length <= 6, 'must have 5 fields (minute hour day month weekday) or 6 (with seconds first)')
  .superRefine((c, ctx) => {
    // The parser's own reason ("Invalid explicit day of month definition" for 30 February) says what to change.
    const next = nextCronRun(c, 'UTC');
    if (next instanceof Error) ctx.addIssue({ code: 'custom', message: `is not a valid cron expression (${next.message})` });
  });
const timezoneSchema = z.string().min(1).max(64).refine(isTimeZone, 'must be an IANA time zone such as UTC or Europe/Berlin');

export const createScheduleSchema = z
  .object({
    name: z.string().min(1).max(100).regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, 'letters, digits, . _ - only'),
    cron: cronSchema,
    timezone: timezoneSchema.default('UTC'),
    selector: bulkSelectorSchema,
    force: z.boolean().default(false),
    enabled: z.boolean().default(true),
    /** Receives each tick's bulk-scan completion event. */
    webhookUrl: webhookUrlSchema.optional(),
  })
  .strict();
export type CreateScheduleRequest = z.infer<typeof createScheduleSchema>;

export const patchScheduleSchema = z
  .object({
    cron: cronSchema.optional(),
    timezone: timezoneSchema.optional(),
    selector: bulkSelectorSchema.optional(),
    force: z.boolean().optional(),
    enabled: z.boolean().optional(),
    webhookUrl: webhookUrlSchema.nullable().optional(),
  })
  .strict();
export type PatchScheduleRequest = z.infer<typeof patchScheduleSchema>;

export const scheduleSchema = z.object({
  id: z.string(),
  name: z.string(),
  cron: z.string(),
  timezone: z.string(),
  selector: bulkSelectorSchema,
  force: z.boolean(),
  enabled: z.boolean(),
  webhookUrl: z.string().nullable(),
  nextRunAt: z.string().nullable(),
  lastRunAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ScheduleView = z.infer<typeof scheduleSchema>;
