import { z } from 'zod';
import type { Provider } from './domain.js';
import { accountEndpointSchema, type EndpointPolicy } from './endpoint.js';
import { huaweiCredentialSources, tencentCredentialSources } from './credentials-tencent-huawei.js';

/**
 * An account's `credentials` block: WHERE its worker gets credentials from, never the secret
 * itself (that stays in SCANQ_CREDENTIALS / SCANQ_CREDENTIALS_FILE under `credentialRef`, or
 * with the worker's own identity). Stored in Postgres as-is, so every shape is strict: a key
 * pasted into it is refused as an unknown field instead of stored.
 *
 * One discriminated union on `source` per cloud, checked per provider like the account
 * settings. Absent (null) means `static`: the secret set `credentialRef` names, which covers
 * long-lived keys and temporary keys + session token pasted as a set alike.
 *
 * `stsEndpoint` follows the account endpoint's rules: leave it out for the cloud's real STS
 * endpoint, set it to the simulator's URL to use the simulator's STS.
 */

// --- AWS -------------------------------------------------------------------------------------
/** IAM role ARN (any partition): arn:aws:iam::<12 digits>:role/<path/name>. */
export const AWS_ROLE_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/** STS AssumeRole's RoleSessionName: 2–64 of [\w+=,.@-]. */
export const AWS_SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;
/** STS AssumeRole's ExternalId: 2–1224 of [\w+=,.@:/-]. */
export const AWS_EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;
/** A shared-config profile name (~/.aws/config [profile x]). */
const PROFILE_PATTERN = /^[\w+=,.@:-]{1,128}$/;

const awsCredentialSources = (policy?: EndpointPolicy) => ({
  static: z.object({ source: z.literal('static') }).strict(),
  'default-chain': z
    .object({
      source: z.literal('default-chain'),
      /** A shared config/credentials profile; absent: AWS_PROFILE or `default`. */
      profile: z.string().regex(PROFILE_PATTERN, 'must be 1–128 of letters, digits and +=,.@:-_').optional(),
    })
    .strict(),
  'assume-role': z
    .object({
      source: z.literal('assume-role'),
      roleArn: z.string().regex(AWS_ROLE_ARN_PATTERN, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name'),
      externalId: z.string().regex(AWS_EXTERNAL_ID_PATTERN, 'must be 2–1224 of letters, digits and +=,.@:/-_').optional(),
      /** Absent: scanq-<account name>. */
      sessionName: z.string().regex(AWS_SESSION_NAME_PATTERN, 'must be 2–64 of letters, digits and +=,.@-_').optional(),
      /** 900–43200 (STS's bounds; the role's own maximum session duration applies too). Absent: 3600. */
      durationSeconds: z.number().int().min(900, 'must be 900–43200').max(43_200, 'must be 900–43200').optional(),
      /** Credentials that call AssumeRole: the account's secret set (`static`, default) or the worker's own identity (`default-chain`). */
      base: z.enum(['static', 'default-chain']).optional(),
      stsEndpoint: accountEndpointSchema(policy).optional(),
      /** Region of the STS endpoint (regional STS); absent: the account's region. */
      stsRegion: z.string().min(1).max(64).optional(),
    })
    .strict(),
});

// --- Alibaba ---------------------------------------------------------------------------------
/** RAM role ARN: acs:ram::<account uid>:role/<name>. */
export const ALIBABA_ROLE_ARN_PATTERN = /^acs:ram::\d{1,32}:role\/[\w.-]{1,64}$/i;
/** RAM OIDC provider ARN: acs:ram::<account uid>:oidc-provider/<name>. */
export const ALIBABA_OIDC_PROVIDER_ARN_PATTERN = /^acs:ram::\d{1,32}:oidc-provider\/[\w.-]{1,128}$/i;
/** STS AssumeRole's RoleSessionName: 2–64 of letters, digits and .@-_. */
export const ALIBABA_SESSION_NAME_PATTERN = /^[\w.@-]{2,64}$/;
const ALIBABA_EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;

const alibabaCredentialSources = (policy?: EndpointPolicy) => ({
  static: z.object({ source: z.literal('static') }).strict(),
  'ram-role-arn': z
    .object({
      source: z.literal('ram-role-arn'),
      roleArn: z.string().regex(ALIBABA_ROLE_ARN_PATTERN, 'must be a RAM role ARN like acs:ram::1234567890123456:role/name'),
      /** Absent: scanq-<account name>. */
      sessionName: z.string().regex(ALIBABA_SESSION_NAME_PATTERN, 'must be 2–64 of letters, digits and .@-_').optional(),
      externalId: z.string().regex(ALIBABA_EXTERNAL_ID_PATTERN, 'must be 2–1224 of letters, digits and +=,.@:/-_').optional(),
      /** A session policy (JSON text) narrowing the role: what scanq needs is read-only SAS. */
      policy: z
        .string()
        .min(1)
        .max(2048, 'must be at most 2048 characters')
        .refine((p) => isJsonObject(p), { message: 'must be a JSON policy document', params: { rule: 'json' } })
        .optional(),
      /** 900–43200 (the role's own maximum session duration applies too). Absent: 3600. */
      durationSeconds: z.number().int().min(900, 'must be 900–43200').max(43_200, 'must be 900–43200').optional(),
      stsEndpoint: accountEndpointSchema(policy).optional(),
    })
    .strict(),
  'ecs-ram-role': z
    .object({
      source: z.literal('ecs-ram-role'),
      /** The instance's RAM role; absent: the one the metadata server names. */
      roleName: z.string().regex(/^[\w.-]{1,64}$/, 'must be 1–64 of letters, digits and .-_').optional(),
    })
    .strict(),
  'oidc-role-arn': z
    .object({
      source: z.literal('oidc-role-arn'),
      roleArn: z.string().regex(ALIBABA_ROLE_ARN_PATTERN, 'must be a RAM role ARN like acs:ram::1234567890123456:role/name'),
      oidcProviderArn: z.string().regex(ALIBABA_OIDC_PROVIDER_ARN_PATTERN, 'must be a RAM OIDC provider ARN like acs:ram::1234567890123456:oidc-provider/name'),
      /** Absent: ALIBABA_CLOUD_OIDC_TOKEN_FILE, which ACK's RRSA sets in the pod. */
      oidcTokenFile: z.string().min(1).max(4096).regex(/^\//, 'must be an absolute path').optional(),
      sessionName: z.string().regex(ALIBABA_SESSION_NAME_PATTERN, 'must be 2–64 of letters, digits and .@-_').optional(),
      stsEndpoint: accountEndpointSchema(policy).optional(),
    })
    .strict(),
});


function isJsonObject(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** Each cloud's sources by name: the one place a new source is added. */
export const CREDENTIAL_SOURCE_SCHEMAS = {
  aws: awsCredentialSources,
  alibaba: alibabaCredentialSources,
  tencent: tencentCredentialSources,
  huawei: huaweiCredentialSources,
} as const satisfies Record<Provider, (policy?: EndpointPolicy) => Record<string, z.ZodType>>;

type Sources<P extends Provider> = ReturnType<(typeof CREDENTIAL_SOURCE_SCHEMAS)[P]>;
type SourceOf<P extends Provider> = { [K in keyof Sources<P>]: z.infer<Sources<P>[K]> }[keyof Sources<P>];

export type AwsCredentialSource = SourceOf<'aws'>;
export type AlibabaCredentialSource = SourceOf<'alibaba'>;
export type TencentCredentialSource = SourceOf<'tencent'>;
export type HuaweiCredentialSource = SourceOf<'huawei'>;
export type CredentialSource = AwsCredentialSource | AlibabaCredentialSource | TencentCredentialSource | HuaweiCredentialSource;

/** The source names a cloud takes (for messages and the CLI). */
export const credentialSourceNames = (provider: Provider): string[] => Object.keys(CREDENTIAL_SOURCE_SCHEMAS[provider]());

/**
 * Parses `raw` as `provider`'s credentials block. Issues are paths under the block
 * (`source`, `roleArn`, …) with the rule: an unknown source is a `one_of` naming the cloud's
 * sources, the rest is the chosen source's strict schema.
 */
export function parseCredentialSource(
  provider: Provider,
  raw: unknown,
  policy?: EndpointPolicy,
): { success: true; data: CredentialSource } | { success: false; issues: z.core.$ZodIssue[] } {
  const sources = CREDENTIAL_SOURCE_SCHEMAS[provider](policy) as Record<string, z.ZodType>;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { success: false, issues: [{ code: 'invalid_type', expected: 'object', path: [], message: 'must be an object with a `source`', input: raw } as z.core.$ZodIssue] };
  }
  const source = (raw as { source?: unknown }).source;
  const schema = typeof source === 'string' && Object.hasOwn(sources, source) ? sources[source] : undefined;
  if (!schema) {
    const names = Object.keys(sources);
    return {
      success: false,
      issues: [
        source === undefined
          ? ({ code: 'invalid_type', expected: 'string', path: ['source'], message: `is required: one of ${names.join(', ')}`, input: undefined } as z.core.$ZodIssue)
          : ({ code: 'invalid_value', values: names, path: ['source'], message: `must be one of ${names.join(', ')} for ${provider}` } as z.core.$ZodIssue),
      ],
    };
  }
  const parsed = schema.safeParse(raw, { reportInput: true });
  return parsed.success ? { success: true, data: parsed.data as CredentialSource } : { success: false, issues: parsed.error.issues };
}

/**
 * A stored block as the worker reads it: null for none or `static` (the secret set), else the
 * parsed source. A row that no longer parses (written by a later version) throws, naming why.
 */
export function storedCredentialSource(provider: Provider, raw: unknown): CredentialSource | null {
  if (raw === null || raw === undefined) return null;
  // Stored blocks were checked under the server's endpoint policy; the worker's own connect-time check still applies.
  const parsed = parseCredentialSource(provider, raw, { allowHttp: true, allowPrivate: true });
  if (!parsed.success) throw new Error(`credentials block is invalid: ${parsed.issues.map((i) => `${['credentials', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.source === 'static' ? null : parsed.data;
}
