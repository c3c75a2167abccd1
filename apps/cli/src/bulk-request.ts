import { type ApiIssue, type BulkSelector, check, type CreateBulkScanRequest, type CreateScheduleRequest } from '@scanq/client';
import { createBulkScanSchema, createScheduleSchema, PROVIDERS } from '@scanq/core';
import type { Command } from 'commander';
import { withFlagNames } from './command-context.js';

/** Selector flags shared by `scanq bulk` and `scanq schedules add`; list flags repeat (or take a comma list). */
export interface SelectorFlags {
  provider?: string[];
  account?: string[];
  /** `key=value` pairs: accounts carrying every one (selector.accountSelector.matchLabels). */
  label?: string[];
  region?: string[];
  registry?: string[];
  namespace?: string[];
  repository?: string[];
  tagPattern?: string[];
  latestOnly?: boolean;
  skipScannedWithin?: string;
  all?: boolean;
}

/** Selector field → the flag that sets it, so a bad value names both. */
const FLAG_OF: Record<keyof BulkSelector, string> = {
  providers: '--provider',
  accounts: '--account',
  accountSelector: '--label',
  regions: '--region',
  registries: '--registry',
  namespaces: '--namespace',
  repositories: '--repository',
  tagPatterns: '--tag-pattern',
  latestTagOnly: '--latest-only',
  skipScannedWithinHours: '--skip-scanned-within',
};
const LIST_FLAGS = { provider: 'providers', account: 'accounts', region: 'regions', registry: 'registries', namespace: 'namespaces', repository: 'repositories', tagPattern: 'tagPatterns' } as const;

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split(',').map((v) => v.trim())];

export function addSelectorOptions(cmd: Command): Command {
  return cmd
    .option('--provider <name>', `${PROVIDERS.join(', ')} (repeat or comma list)`, collect)
    .option('--account <name>', 'account name or id (repeatable)', collect)
    .option('--label <key=value>', 'accounts carrying this label (repeatable: every one), resolved when the bulk scan plans', collect)
    .option('--region <region>', 'cloud region (repeatable)', collect)
    .option('--registry <id>', 'registry or registry instance: ECR registry id, ACR/TCR/SWR instance (repeatable)', collect)
    .option('--namespace <ns>', 'registry namespace (repeatable)', collect)
    .option('--repository <name>', 'full repository name, e.g. team/app (repeatable)', collect)
    .option('--tag-pattern <glob>', 'tag glob: * any run, ? one character, e.g. "1.*" (repeatable)', collect)
    .option('--latest-only', 'only the most recently pushed image of each repository')
    .option('--skip-scanned-within <hours>', 'skip images scanq scanned successfully within this many hours')
    .option('--all', 'select every image of every account (needed when no other selector flag is given)');
}

/** A number when the text is one, else the text, so the schema reports a non-number as the wrong type. */
const numberOrText = (v: string) => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);

function selectorOf(flags: SelectorFlags): { selector: Record<string, unknown>; issues: ApiIssue[] } {
  const selector: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(LIST_FLAGS) as [keyof typeof LIST_FLAGS, string][]) if (flags[flag] !== undefined) selector[field] = flags[flag];
  const labelIssues: ApiIssue[] = [];
  if (flags.label !== undefined) {
    const matchLabels: Record<string, string> = {};
    for (const pair of flags.label) {
      const eq = pair.indexOf('=');
      if (eq <= 0) labelIssues.push({ field: 'body.selector.accountSelector.matchLabels', rule: 'format', message: `--label "${pair}" must be key=value` });
      else matchLabels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    selector.accountSelector = { matchLabels };
  }
  if (flags.latestOnly) selector.latestTagOnly = true;
  if (flags.skipScannedWithin !== undefined) selector.skipScannedWithinHours = numberOrText(flags.skipScannedWithin);
  // The API reads an empty selector as "everything": the CLI asks for that to be said out loud.
  const issues: ApiIssue[] = [...labelIssues];
  if (Object.keys(selector).length === 0 && !flags.all) issues.push(
    { field: 'body.selector', rule: 'required', message: 'give at least one selector flag (--provider, --account, --label, --repository, --tag-pattern, …) or --all for every image of every account' });
  return { selector, issues };
}

/** Body field → flag for every selector field (`selector.accounts` → `--account`) plus `extra`. */
const selectorFlags = (extra: Record<string, string>): Record<string, string> => ({
  ...Object.fromEntries(Object.entries(FLAG_OF).map(([field, flag]) => [`selector.${field}`, flag])),
  ...extra,
});

export type Built<T> = { ok: true; request: T } | { ok: false; issues: ApiIssue[] };

export interface BulkFlags extends SelectorFlags {
  force?: boolean;
  timeout?: string;
  webhookUrl?: string;
}

/** The POST /v1/bulk-scans body from flags, checked with the API's own schema. */
export function buildBulkRequest(flags: BulkFlags): Built<CreateBulkScanRequest> {
  const { selector, issues } = selectorOf(flags);
  const body: Record<string, unknown> = { selector };
  if (flags.force) body.force = true;
  if (flags.timeout !== undefined) body.timeoutSeconds = numberOrText(flags.timeout);
  if (flags.webhookUrl !== undefined) body.webhookUrl = flags.webhookUrl;
  const checked = check(createBulkScanSchema, body);
  const all = [...issues, ...(checked.ok ? [] : withFlagNames(checked.issues, selectorFlags({ timeoutSeconds: '--timeout', webhookUrl: '--webhook-url', force: '--force' })))];
  return all.length || !checked.ok ? { ok: false, issues: all } : { ok: true, request: checked.value };
}

export interface ScheduleFlags extends SelectorFlags {
  name: string;
  cron: string;
  timezone?: string;
  force?: boolean;
  webhookUrl?: string;
  paused?: boolean;
}

/** The POST /v1/schedules body from flags, checked with the API's own schema. */
export function buildScheduleRequest(flags: ScheduleFlags): Built<CreateScheduleRequest> {
  const { selector, issues } = selectorOf(flags);
  const body: Record<string, unknown> = { name: flags.name, cron: flags.cron, selector };
  if (flags.timezone !== undefined) body.timezone = flags.timezone;
  if (flags.force) body.force = true;
  if (flags.paused) body.enabled = false;
  if (flags.webhookUrl !== undefined) body.webhookUrl = flags.webhookUrl;
  const checked = check(createScheduleSchema, body);
  const all = [...issues, ...(checked.ok ? [] : withFlagNames(checked.issues, selectorFlags({ name: '--name', cron: '--cron', timezone: '--timezone', webhookUrl: '--webhook-url' })))];
  return all.length || !checked.ok ? { ok: false, issues: all } : { ok: true, request: checked.value };
}

/** A selector in a few words: "aws · scanq/api · tags 1.* · latest only". */
export function selectorSummary(s: BulkSelector): string {
  const parts = [
    s.providers?.join(','),
    s.accounts && `account ${s.accounts.join(',')}`,
    s.accountSelector && `labels ${Object.entries(s.accountSelector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',')}`,
    s.regions && `region ${s.regions.join(',')}`,
    s.registries && `registry ${s.registries.join(',')}`,
    s.namespaces && `namespace ${s.namespaces.join(',')}`,
    s.repositories?.join(','),
    s.tagPatterns && `tags ${s.tagPatterns.join(',')}`,
    s.latestTagOnly && 'latest only',
    s.skipScannedWithinHours && `skip scanned <${s.skipScannedWithinHours}h`,
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  return parts.length ? parts.join(' · ') : 'everything';
}
