import { readFileSync } from 'node:fs';
import { type ApiIssue, type CreateScanRequest, check } from '@scanq/client';
import { createScanRequestSchema } from '@scanq/core';
import { withFlagNames } from './command-context.js';

/** Flags of `scanq scan <provider>`. The AWS ones mirror the API's AWS request field by field. */
export interface ScanFlags {
  account?: string;
  timeout?: string;
  file?: string;
  targetJson?: string;
  // AWS
  repository?: string;
  registryId?: string;
  tag?: string;
  digest?: string;
}

const AWS_FLAGS = { repository: '--repository', registryId: '--registry-id', tag: '--tag', digest: '--digest' } as const;
/** Request field → the flag that sets it, so an issue about it names both. */
const FLAG_OF_FIELD: Record<string, string> = {
  account: '--account',
  timeoutSeconds: '--timeout',
  repositoryName: '--repository',
  registryId: '--registry-id',
  'imageId.imageTag': '--tag',
  'imageId.imageDigest': '--digest',
};

export type BuiltRequest = { ok: true; request: CreateScanRequest } | { ok: false; issues: ApiIssue[] };

function readJsonObject(text: string, source: string, field: string): { object: Record<string, unknown> } | { issue: ApiIssue } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { issue: { field, rule: 'json', message: `${source} is not valid JSON (${(err as Error).message})` } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { issue: { field, rule: 'type', message: `${source} must be a JSON object` } };
  return { object: value as Record<string, unknown> };
}

/**
 * The request body from, in order of precedence: flags, then --target-json, then --file (a
 * whole request body). Checked with the API's own schema, so bad input is reported before
 * anything is sent, with the fields and rules the API would name.
 */
export function buildScanRequest(provider: string, flags: ScanFlags): BuiltRequest {
  const issues: ApiIssue[] = [];
  let body: Record<string, unknown> = {};
  if (flags.file !== undefined) {
    let text: string;
    try {
      text = flags.file === '-' ? readFileSync(0, 'utf8') : readFileSync(flags.file, 'utf8');
    } catch (err) {
      return { ok: false, issues: [{ field: '--file', rule: 'readable', message: (err as Error).message }] };
    }
    const parsed = readJsonObject(text, `--file ${flags.file}`, '--file');
    if ('issue' in parsed) issues.push(parsed.issue);
    else body = parsed.object;
  }
  if (flags.targetJson !== undefined) {
    const parsed = readJsonObject(flags.targetJson, '--target-json', '--target-json');
    if ('issue' in parsed) issues.push(parsed.issue);
    else body = { ...body, ...parsed.object };
  }
  if (issues.length) return { ok: false, issues };

  body.provider = provider;
  if (flags.account !== undefined) body.account = flags.account;
  if (flags.timeout !== undefined) {
    // A non-number stays a string so the schema reports it as the wrong type.
    body.timeoutSeconds = /^\d+$/.test(flags.timeout) ? Number(flags.timeout) : flags.timeout;
  }
  const awsFlagsUsed = (Object.keys(AWS_FLAGS) as (keyof typeof AWS_FLAGS)[]).filter((k) => flags[k] !== undefined);
  if (provider !== 'aws') {
    for (const k of awsFlagsUsed) issues.push({ field: AWS_FLAGS[k], rule: 'provider', message: `applies to aws only; for ${provider} pass the target with --target-json or --file` });
    if (issues.length) return { ok: false, issues };
  } else {
    if (flags.repository !== undefined) body.repositoryName = flags.repository;
    if (flags.registryId !== undefined) body.registryId = flags.registryId;
    if (flags.tag !== undefined || flags.digest !== undefined) {
      const imageId = { ...((body.imageId as Record<string, unknown> | undefined) ?? {}) };
      if (flags.tag !== undefined) imageId.imageTag = flags.tag;
      if (flags.digest !== undefined) imageId.imageDigest = flags.digest;
      body.imageId = imageId;
    }
  }
  const checked = check(createScanRequestSchema, body);
  return checked.ok ? { ok: true, request: checked.value } : { ok: false, issues: withFlagNames(checked.issues, FLAG_OF_FIELD) };
}
