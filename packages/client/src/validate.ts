import type { z } from 'zod';
import type { ApiIssue } from './errors.js';

type RawIssue = z.core.$ZodIssue & { input?: unknown; origin?: string; format?: string; keys?: string[]; note?: string };

/** zod issue code → the rule name the API reports for it (same words as apps/api/src/errors.ts). */
function ruleOf(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_format':
      return issue.format === 'regex' ? 'pattern' : String(issue.format ?? 'format');
    case 'too_small':
      return issue.origin === 'string' ? 'min_length' : issue.origin === 'array' ? 'min_items' : 'minimum';
    case 'too_big':
      return issue.origin === 'string' ? 'max_length' : issue.origin === 'array' ? 'max_items' : 'maximum';
    case 'invalid_type':
      return issue.input === undefined ? 'required' : 'type';
    case 'invalid_value':
    case 'invalid_union':
      return 'one_of';
    case 'custom':
      return 'constraint';
    default:
      return issue.code;
  }
}

/**
 * zod issues in the API's 400 shape ({field, rule, message}, fields prefixed like `body.`), so a
 * client that checks input before sending reports it exactly as the server would.
 */
export function toApiIssues(issues: readonly z.core.$ZodIssue[], context = 'body'): ApiIssue[] {
  return issues.flatMap((raw) => {
    const issue = raw as RawIssue;
    const field = [context, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') return (issue.keys ?? []).map((k) => ({ field: `${field}.${k}`, rule: 'unknown_field', message: 'is not a known field' }));
    return [{ field, rule: ruleOf(issue), message: issue.message }];
  });
}

export type Checked<T> = { ok: true; value: T } | { ok: false; issues: ApiIssue[] };

/** Validates `value` with `schema` locally (the same schema the API validates with). */
export function check<S extends z.ZodType>(schema: S, value: unknown, context = 'body'): Checked<z.output<S>> {
  // reportInput: a missing field (input undefined) is told apart from a wrong type.
  const result = schema.safeParse(value, { reportInput: true });
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toApiIssues(result.error.issues, context) };
}
