import { z } from 'zod';
import type { EndpointPolicy } from './endpoint.js';
import { createAccountSchema, createAccountSchemaFor } from './schemas.js';

/**
 * Many accounts declaratively (`scanq accounts apply -f accounts.yaml`, `PUT /v1/accounts`): the
 * file's entries are account create bodies plus labels; the whole set is checked before any
 * change and applied in one transaction.
 */

// --- Labels (Kubernetes rules) -------------------------------------------------------------
/** A label name or value segment: alphanumerics at both ends, `-_.` and alphanumerics between. */
const LABEL_SEGMENT = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
/** A DNS subdomain (RFC 1123): a label key's optional prefix. */
const DNS_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
export const MAX_ACCOUNT_LABELS = 64;

/** Why `key` is no label key (Kubernetes: `[prefix/]name`, prefix a DNS subdomain ≤ 253, name ≤ 63), or null. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== null && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return 'must have a prefix (before /) that is a lower-case DNS subdomain of at most 253 characters';
  if (name.length === 0 || name.length > 63) return 'must have a name (after any prefix/) of 1–63 characters';
  if (!LABEL_SEGMENT.test(name)) return 'must have a name of letters, digits, - _ . that starts and ends with a letter or digit';
  return null;
}

/** Why `value` is no label value (Kubernetes: empty, or ≤ 63 of letters, digits, `-_.` starting and ending alphanumeric), or null. */
export function labelValueProblem(value: string): string | null {
  if (value.length > 63) return 'must be at most 63 characters';
  if (value !== '' && !LABEL_SEGMENT.test(value)) return 'must be empty or letters, digits, - _ . starting and ending with a letter or digit';
  return null;
}

/** An account's labels: string → string, Kubernetes key and value rules, at most 64. */
export const accountLabelsSchema = z
  .record(z.string(), z.string({ message: 'must be a string (quote numbers and booleans in YAML)' }))
  .superRefine((labels, ctx) => {
    const keys = Object.keys(labels);
    if (keys.length > MAX_ACCOUNT_LABELS) ctx.addIssue({ code: 'custom', message: `must hold at most ${MAX_ACCOUNT_LABELS} labels`, params: { rule: 'max_items' } });
    for (const key of keys) {
      const keyProblem = labelKeyProblem(key);
      if (keyProblem) ctx.addIssue({ code: 'custom', path: [key], message: `is not a label key: ${keyProblem}`, params: { rule: 'label_key' } });
      const valueProblem = labelValueProblem(labels[key]!);
      if (valueProblem) ctx.addIssue({ code: 'custom', path: [key], message: valueProblem, params: { rule: 'label_value' } });
    }
  });
export type AccountLabels = z.infer<typeof accountLabelsSchema>;

/** Accounts chosen by labels: every `matchLabels` pair must be on the account (Kubernetes' equality selector). */
export const accountSelectorSchema = z
  .object({
    matchLabels: accountLabelsSchema.refine((l) => Object.keys(l).length > 0, { message: 'must name at least one label (leave accountSelector out to select by other fields)', params: { rule: 'min_items' } }),
  })
  .strict();
export type AccountSelector = z.infer<typeof accountSelectorSchema>;

/** True when `labels` carries every pair of `selector.matchLabels`. */
export function labelsMatch(selector: AccountSelector, labels: Record<string, unknown>): boolean {
  return Object.entries(selector.matchLabels).every(([k, v]) => labels[k] === v);
}

// --- Apply ---------------------------------------------------------------------------------
/** One entry of an accounts file: the account create body (whatever createAccountSchema holds) plus labels. */
const applyEntrySchema = (policy?: EndpointPolicy) => (policy ? createAccountSchemaFor(policy) : createAccountSchema).extend({ labels: accountLabelsSchema.optional() });

/** At most this many accounts in one file (the body limit allows far more). */
export const MAX_APPLY_ACCOUNTS = 1000;

const applyRequestSchema = (policy?: EndpointPolicy) =>
  z
    .object({
      accounts: z
        .array(applyEntrySchema(policy))
        .max(MAX_APPLY_ACCOUNTS, `must list at most ${MAX_APPLY_ACCOUNTS} accounts`)
        .superRefine((entries, ctx) => {
          // (provider, name) identifies an account: a file naming one twice is ambiguous.
          const seen = new Map<string, number>();
          entries.forEach((e, i) => {
            const key = `${e.provider}/${e.name}`;
            const first = seen.get(key);
            if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `repeats the ${e.provider} account "${e.name}" of entry ${first}`, params: { rule: 'unique' } });
            else seen.set(key, i);
          });
        }),
      /** Delete accounts the file does not list. Off unless asked: a partial file never deletes. */
      prune: z.boolean().optional(),
      /** Report what would change; change nothing. */
      dryRun: z.boolean().optional(),
    })
    .strict();
export const applyAccountsSchema = applyRequestSchema();
export const applyAccountsSchemaFor = (policy: EndpointPolicy) => applyRequestSchema(policy);
export type ApplyAccountsRequest = z.infer<typeof applyAccountsSchema>;
export type ApplyAccountEntry = ApplyAccountsRequest['accounts'][number];

export const APPLY_ACTIONS = ['create', 'update', 'delete', 'unchanged'] as const;
export type ApplyAction = (typeof APPLY_ACTIONS)[number];

export const applyAccountsResultSchema = z.object({
  dryRun: z.boolean(),
  prune: z.boolean(),
  /** One line per account of the file, then each account pruned (or, without prune, left alone and not listed). */
  changes: z.array(
    z.object({
      action: z.enum(APPLY_ACTIONS),
      provider: z.string(),
      name: z.string(),
      /** The account's id (null for one the dry run would create). */
      id: z.string().nullable(),
      /** Fields that change (update). */
      fields: z.array(z.string()),
    }),
  ),
  /** Accounts the file does not list that stay because prune was not asked. */
  unlisted: z.array(z.object({ provider: z.string(), name: z.string(), id: z.string() })),
  counts: z.object(Object.fromEntries(APPLY_ACTIONS.map((a) => [a, z.number().int()])) as Record<ApplyAction, z.ZodNumber>),
});
export type ApplyAccountsResult = z.infer<typeof applyAccountsResultSchema>;
