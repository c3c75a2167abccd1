import { z } from 'zod';
import { IMAGE_SCAN_STATUSES, PROVIDERS, SCAN_STATUSES, SEVERITIES } from './domain.js';
import { parseCredentialSource } from './credentials.js';
import { accountEndpointSchema, type EndpointPolicy } from './endpoint.js';
import { alibabaAccountSettingsSchema, createAlibabaScanSchema } from './targets/alibaba.js';
import { awsAccountSettingsSchema, createAwsScanSchema } from './targets/aws.js';
import { createHuaweiScanSchema, huaweiAccountSettingsSchema } from './targets/huawei.js';
import { createTencentScanSchema, tencentAccountSettingsSchema } from './targets/tencent.js';

export * from './targets/common.js';
export * from './targets/alibaba.js';
export * from './targets/aws.js';
export * from './targets/huawei.js';
export * from './targets/tencent.js';

/**
 * Request and response schemas of the HTTP API. The API validates with them, the OpenAPI
 * document is generated from them, and the typed client infers its types from them.
 */

// --- Scan requests -------------------------------------------------------------------------
/**
 * Each cloud's request schema lives in `targets/<cloud>.ts` (the target's rules beside the
 * cloud they come from); the request is discriminated by `provider`.
 */

export const createScanRequestSchema = z.discriminatedUnion('provider', [createAwsScanSchema, createAlibabaScanSchema, createTencentScanSchema, createHuaweiScanSchema]);
export type CreateScanRequest = z.infer<typeof createScanRequestSchema>;

/** Splits a validated request into the account reference, options and the provider target. */
export function splitScanRequest(req: CreateScanRequest): { account: string; timeoutSeconds?: number; webhookUrl?: string; target: Record<string, unknown> } {
  const { provider: _provider, account, timeoutSeconds, webhookUrl, ...target } = req;
  return { account, timeoutSeconds, webhookUrl, target };
}

// --- Headers -------------------------------------------------------------------------------
/** An HTTP header carries visible ASCII: a key outside it could not be sent, or not sent back the same. */
export const HEADER_TEXT_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
export const idempotencyKeySchema = z
  .string()
  .min(1, 'must be 1–200 characters')
  .max(200, 'must be 1–200 characters')
  .regex(HEADER_TEXT_PATTERN, 'must be visible ASCII (spaces only inside)');

// --- Accounts ------------------------------------------------------------------------------
/**
 * Each cloud's account settings (beside its target schema): strict, so a setting no adapter
 * reads — a secret pasted in by mistake above all — is refused instead of stored.
 */
export const ACCOUNT_SETTINGS_SCHEMAS = {
  aws: awsAccountSettingsSchema,
  alibaba: alibabaAccountSettingsSchema,
  tencent: tencentAccountSettingsSchema,
  huawei: huaweiAccountSettingsSchema,
} as const satisfies Record<(typeof PROVIDERS)[number], z.ZodType>;

/**
 * An account request. `policy` adds the endpoint rules that depend on the server's settings
 * (plain http, literal private addresses: see accountEndpointIssues); without it, the rules
 * that hold everywhere (what a client can check before sending).
 */
const accountRequestSchema = (policy?: EndpointPolicy) =>
  z
    .object({
      provider: z.enum(PROVIDERS),
      name: z.string().min(1).max(100).regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, 'letters, digits, . _ - only'),
      region: z.string().min(1).max(64),
      /** Leave out for the cloud's real endpoint; set to reach the simulator. https (http to loopback), no user or password, query or fragment. */
      endpoint: accountEndpointSchema(policy).optional(),
      /** Name of a credential set in the worker's config (SCANQ_CREDENTIALS), never the secret. */
      credentialRef: z.string().min(1).max(200),
      /** Per cloud: ACCOUNT_SETTINGS_SCHEMAS (e.g. aws `registryId`, huawei `projectId`, any `webhookUrl`). */
      settings: z.record(z.string(), z.unknown()).optional(),
      /** Where the worker gets credentials (credentials.ts: per cloud, on `source`); absent: `static`, the set `credentialRef` names. Never a secret. */
      credentials: z.record(z.string(), z.unknown()).optional(),
    })
    .strict()
    .superRefine((account, ctx) => {
      const parsed = ACCOUNT_SETTINGS_SCHEMAS[account.provider].safeParse(account.settings ?? {});
      if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: ['settings', ...issue.path] } as never);
      if (account.credentials !== undefined) {
        const source = parseCredentialSource(account.provider, account.credentials, policy);
        if (!source.success) for (const issue of source.issues) ctx.addIssue({ ...issue, path: ['credentials', ...issue.path] } as never);
      }
    });
export const createAccountSchema = accountRequestSchema();
/** What the API validates with: createAccountSchema plus the configured endpoint policy. */
export const createAccountSchemaFor = (policy: EndpointPolicy) => accountRequestSchema(policy);
export type CreateAccountRequest = z.infer<typeof createAccountSchema>;

/**
 * A change to an account (provider and name stay): its endpoint (null: the cloud's own), region,
 * credential set or settings. Settings are checked against the account's cloud by the API.
 */
const accountPatchSchema = (policy?: EndpointPolicy) =>
  z
    .object({
      region: z.string().min(1).max(64).optional(),
      endpoint: accountEndpointSchema(policy).nullable().optional(),
      credentialRef: z.string().min(1).max(200).optional(),
      settings: z.record(z.string(), z.unknown()).optional(),
      /** A new credentials block (checked against the account's cloud by the API); null: back to `static`. */
      credentials: z.record(z.string(), z.unknown()).nullable().optional(),
    })
    .strict()
    .refine((patch) => Object.keys(patch).length > 0, { message: 'must change at least one of region, endpoint, credentialRef, settings, credentials', params: { rule: 'min_fields' } });
export const patchAccountSchema = accountPatchSchema();
export const patchAccountSchemaFor = (policy: EndpointPolicy) => accountPatchSchema(policy);
export type PatchAccountRequest = z.infer<typeof patchAccountSchema>;

export const accountSchema = z.object({
  id: z.string(),
  provider: z.enum(PROVIDERS),
  name: z.string(),
  region: z.string(),
  endpoint: z.string().nullable(),
  credentialRef: z.string(),
  settings: z.record(z.string(), z.unknown()),
  /** Key/value labels (bulk scans and schedules select accounts by them). */
  labels: z.record(z.string(), z.string()),
  /** The credentials block (null: `static`). Names a source, never holds a secret. */
  credentials: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.string(),
});
export type Account = z.infer<typeof accountSchema>;

// --- Responses -----------------------------------------------------------------------------
export const severityCountsSchema = z.object(Object.fromEntries(SEVERITIES.map((s) => [s, z.number().int()])) as Record<(typeof SEVERITIES)[number], z.ZodNumber>);

export const imageScanSchema = z.object({
  id: z.string(),
  registry: z.string(),
  repository: z.string(),
  tags: z.array(z.string()),
  digest: z.string().nullable(),
  status: z.enum(IMAGE_SCAN_STATUSES),
  reason: z.string().nullable(),
  reused: z.boolean(),
  progress: z.number().int(),
  severityCounts: severityCountsSchema,
  scanCompletedAt: z.string().nullable(),
});

export const scanSchema = z.object({
  id: z.string(),
  provider: z.enum(PROVIDERS),
  accountId: z.string(),
  status: z.enum(SCAN_STATUSES),
  reason: z.string().nullable(),
  error: z.string().nullable(),
  target: z.record(z.string(), z.unknown()),
  providerTaskId: z.string().nullable(),
  progress: z.number().int(),
  attempts: z.number().int(),
  severityCounts: severityCountsSchema,
  /** Every image of the scan — in a listing (GET /v1/scans) only the first SCAN_LIST_IMAGES; `imageCount` is always all of them. */
  images: z.array(imageScanSchema),
  imageCount: z.number().int(),
  deadlineAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ScanView = z.infer<typeof scanSchema>;

/** Images a scan shows in a listing (GET /v1/scans); GET /v1/scans/:id shows them all. */
export const SCAN_LIST_IMAGES = 100;

export const findingSchema = z.object({
  id: z.string(),
  imageScanId: z.string(),
  vulnerabilityId: z.string(),
  severity: z.enum(SEVERITIES),
  providerSeverity: z.string(),
  packageName: z.string().nullable(),
  installedVersion: z.string().nullable(),
  fixedVersion: z.string().nullable(),
  title: z.string().nullable(),
  link: z.string().nullable(),
  score: z.number().nullable(),
  cvssVector: z.string().nullable(),
  /** The cloud's own id when vulnerabilityId is the CVE it was mapped to. */
  providerVulnerabilityId: z.string().nullable(),
  raw: z.unknown(),
});
export type FindingView = z.infer<typeof findingSchema>;

const limitSchema = z.coerce.number().int().min(1, 'must be 1–500').max(500, 'must be 1–500').default(50);
const cursorSchema = z.string().max(200).optional();

export const listScansQuerySchema = z
  .object({
    status: z.enum(SCAN_STATUSES).optional(),
    provider: z.enum(PROVIDERS).optional(),
    limit: limitSchema,
    cursor: cursorSchema,
  })
  .strict();
export type ListScansQuery = z.infer<typeof listScansQuerySchema>;

export const listFindingsQuerySchema = z
  .object({
    severity: z
      .string()
      // A repeated severity is the same filter (and must not count its findings twice).
      .transform((s) => [...new Set(s.split(',').map((x) => x.trim().toUpperCase()))])
      .pipe(z.array(z.enum(SEVERITIES, { message: `each must be one of ${SEVERITIES.join(', ')}` })))
      .optional()
      .describe(`Comma list of severities, any case: ${SEVERITIES.join(', ')}`),
    limit: limitSchema,
    cursor: cursorSchema,
  })
  .strict();
export type ListFindingsQuery = z.infer<typeof listFindingsQuerySchema>;

export const pageSchema = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const errorResponseSchema = z.object({
  error: z.string(),
  message: z.string(),
  /** One entry per bad field: where it is and which rule it broke. */
  issues: z.array(z.object({ field: z.string(), rule: z.string(), message: z.string() })).optional(),
});
export type ErrorResponse = z.infer<typeof errorResponseSchema>;

// --- Health --------------------------------------------------------------------------------
/** /healthz: the process answers (liveness; it checks nothing else). */
export const livenessSchema = z.object({ ok: z.literal(true) });
export const DEPENDENCY_STATES = ['ok', 'down'] as const;
/** /readyz: each dependency reachable or not — never why (it answers anyone). */
export const readinessSchema = z.object({
  ok: z.boolean(),
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({
    postgres: z.enum(DEPENDENCY_STATES),
    redis: z.enum(DEPENDENCY_STATES),
    /** Present only while the API sheds load (SCANQ_API_MAX_*): not ready for more traffic though its dependencies are up. */
    load: z.literal('overloaded').optional(),
  }),
});
export type Readiness = z.infer<typeof readinessSchema>;

export const scanIdParamsSchema = z.object({ id: z.string().uuid('must be a scan id (UUID)') });
