import { zodIssueMessage, zodIssueRule } from '@scanq/core';
import type { z } from 'zod';
import type { ApiIssue } from './errors.js';

type RawIssue = z.core.$ZodIssue & { input?: unknown; origin?: string; format?: string; keys?: string[]; note?: string };

/**
 * zod issues in the API's 400 shape ({field, rule, message}, fields prefixed like `body.`), so a
 * client that checks input before sending reports it exactly as the server would.
 */
export function toApiIssues(issues: readonly z.core.$ZodIssue[], context = 'body'): ApiIssue[] {
  return issues.flatMap((raw) => {
    const issue = raw as RawIssue;
    const field = [context, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') return (issue.keys ?? []).map((k) => ({ field: `${field}.${k}`, rule: 'unknown_field', message: 'is not a known field' }));
    const rule = zodIssueRule(issue);
    return [{ field, rule, message: zodIssueMessage(issue, rule) }];
  });
}

export type Checked<T> = { ok: true; value: T } | { ok: false; issues: ApiIssue[] };

/** Validates `value` with `schema` locally (the same schema the API validates with). */
export function check<S extends z.ZodType>(schema: S, value: unknown, context = 'body'): Checked<z.output<S>> {
  // reportInput: a missing field (input undefined) is told apart from a wrong type.
  const result = schema.safeParse(value, { reportInput: true });
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toApiIssues(result.error.issues, context) };
}
