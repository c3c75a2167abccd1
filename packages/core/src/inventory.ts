import { z } from 'zod';
import { PROVIDERS, SEVERITIES, type Severity } from './domain.js';
import { severityCountsSchema } from './schemas.js';

/**
 * The inventory API (GET /v1/vulnerabilities, /v1/images, /v1/vulnerabilities/summary): query
 * and response schemas shared by the API, the typed client and the CLI. "Now" means each
 * image's current findings: those of its latest successful scan.
 */

/** Rank of a severity, 0 = CRITICAL … 5 = UNKNOWN (Image."worst" uses it; 6 = no findings). */
export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

const severityValue = z
  .string()
  .transform((s) => s.trim().toUpperCase())
  .pipe(z.enum(SEVERITIES, { message: `must be one of ${SEVERITIES.join(', ')} (any case)` }));

const severityList = z
  .string()
  .transform((s) => [...new Set(s.split(',').map((x) => x.trim().toUpperCase()))])
  .pipe(z.array(z.enum(SEVERITIES, { message: `each must be one of ${SEVERITIES.join(', ')}` })));

/** A vulnerability id as the clouds write them: CVE-…, ALAS2-…, RHSA-…:…, debian:10:CVE-…, GHSA-…. */
const vulnerabilityIdValue = z
  .string()
  .trim()
  .min(3, 'must be 3–200 characters')
  .max(200, 'must be 3–200 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/+-]*$/, 'letters, digits and . _ : / + - only')
  // CVE ids are stored upper-case; other ids keep their case.
  .transform((s) => (/^cve-/i.test(s) ? s.toUpperCase() : s));

const textFilter = (what: string) => z.string().min(1, `must be 1–300 characters`).max(300, 'must be 1–300 characters').describe(what);
const booleanFlag = z.enum(['true', 'false'], { message: 'must be true or false' }).transform((v) => v === 'true');
const limit = z.coerce.number().int('must be an integer').min(1, 'must be 1–500').max(500, 'must be 1–500').default(50);

/** Filters on where an image lives, shared by every inventory query. */
const imageFilters = {
  provider: z.enum(PROVIDERS, { message: `must be one of ${PROVIDERS.join(', ')}` }).optional(),
  account: textFilter('Account name or id').optional(),
  registry: textFilter('Registry exactly as scanq reports it').optional(),
  repository: textFilter('Repository exactly as scanq reports it').optional(),
};

export const listVulnerabilitiesQuerySchema = z
  .object({
    cve: vulnerabilityIdValue.optional().describe('A vulnerability id: the CVE, or a cloud id (ALAS-…, RHSA-…, AVD-…, CNVD-…) it was mapped from'),
    package: textFilter('Package name, exact').optional(),
    severity: severityList.optional().describe(`Comma list of severities, any case: ${SEVERITIES.join(', ')}`),
    fixable: booleanFlag.optional().describe('true: only findings with a fixed version; false: only those without'),
    ...imageFilters,
    images: z.coerce.number().int('must be an integer').min(0, 'must be 0–200').max(200, 'must be 0–200').default(20).describe('Affected images listed per vulnerability (imageCount counts all)'),
    limit,
    cursor: z.string().max(200).optional(),
  })
  .strict();
export type ListVulnerabilitiesQuery = z.infer<typeof listVulnerabilitiesQuerySchema>;

export const listImagesQuerySchema = z
  .object({
    ...imageFilters,
    hasCve: vulnerabilityIdValue.optional().describe('Only images whose current findings include this vulnerability id'),
    minSeverity: severityValue.optional().describe('Only images with a current finding at least this severe'),
    limit,
    cursor: z.string().uuid('is not a cursor from a previous page').optional(),
  })
  .strict();
export type ListImagesQuery = z.infer<typeof listImagesQuerySchema>;

export const vulnerabilitySummaryQuerySchema = z
  .object({
    provider: imageFilters.provider,
    account: imageFilters.account,
    top: z.coerce.number().int('must be an integer').min(1, 'must be 1–100').max(100, 'must be 1–100').default(10).describe('How many top vulnerabilities (by images affected)'),
  })
  .strict();
export type VulnerabilitySummaryQuery = z.infer<typeof vulnerabilitySummaryQuerySchema>;

export const affectedImageSchema = z.object({
  imageId: z.string(),
  provider: z.enum(PROVIDERS),
  account: z.string(),
  registry: z.string(),
  repository: z.string(),
  digest: z.string(),
  tags: z.array(z.string()),
  packageName: z.string().nullable(),
  installedVersion: z.string().nullable(),
  fixedVersion: z.string().nullable(),
  fixable: z.boolean(),
  severity: z.enum(SEVERITIES),
  lastScanId: z.string(),
  lastScannedAt: z.string(),
});

export const inventoryVulnerabilitySchema = z.object({
  id: z.string(),
  severity: z.enum(SEVERITIES),
  score: z.number().nullable(),
  cvssVector: z.string().nullable(),
  title: z.string().nullable(),
  links: z.array(z.string()),
  /** The clouds' own ids mapped to this one. */
  aliases: z.array(z.string()),
  /** Images affected now (matching the query's filters). */
  imageCount: z.number().int(),
  images: z.array(affectedImageSchema),
});
export type InventoryVulnerability = z.infer<typeof inventoryVulnerabilitySchema>;

export const inventoryImageSchema = z.object({
  id: z.string(),
  provider: z.enum(PROVIDERS),
  accountId: z.string(),
  account: z.string(),
  registry: z.string(),
  repository: z.string(),
  digest: z.string(),
  tags: z.array(z.string()),
  severityCounts: severityCountsSchema,
  fixable: z.number().int(),
  /** The most severe current finding; null without findings. */
  worstSeverity: z.enum(SEVERITIES).nullable(),
  lastScan: z.object({ scanId: z.string(), imageScanId: z.string(), scannedAt: z.string() }),
});
export type InventoryImage = z.infer<typeof inventoryImageSchema>;

export const vulnerabilitySummarySchema = z.object({
  images: z.number().int(),
  findings: z.number().int(),
  fixableFindings: z.number().int(),
  /** fixableFindings / findings (0 without findings). */
  fixableShare: z.number(),
  severityCounts: severityCountsSchema,
  byAccount: z.array(z.object({ provider: z.enum(PROVIDERS), account: z.string(), images: z.number().int(), severityCounts: severityCountsSchema, fixable: z.number().int() })),
  topVulnerabilities: z.array(z.object({ id: z.string(), severity: z.enum(SEVERITIES), score: z.number().nullable(), images: z.number().int() })),
});
export type VulnerabilitySummary = z.infer<typeof vulnerabilitySummarySchema>;
