import type { z } from 'zod';
import { zodIssueMessage, zodIssueRule } from './issues.js';

/** One bad field, as a 400 reports it: where it is, which rule it broke, in words. */
export interface InputIssue {
  field: string;
  rule: string;
  message: string;
}

type RawIssue = z.core.$ZodIssue & { input?: unknown; origin?: string; format?: string; keys?: string[]; note?: string };

/**
 * zod issues in the API's 400 shape ({field, rule, message}, fields prefixed like `body.`): one
 * mapping for the API's error handler, the typed client, the producer and the intake worker.
 */
export function toApiIssues(issues: readonly z.core.$ZodIssue[], context = 'body'): InputIssue[] {
  return issues.flatMap((raw) => {
    const issue = raw as RawIssue;
    const field = [context, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') return (issue.keys ?? []).map((k) => ({ field: `${field}.${k}`, rule: 'unknown_field', message: 'is not a known field' }));
    const rule = zodIssueRule(issue);
    return [{ field, rule, message: zodIssueMessage(issue, rule) }];
  });
}

export type Checked<T> = { ok: true; value: T } | { ok: false; issues: InputIssue[] };

/** Validates `value` with `schema` (the same schema the API validates with). */
export function check<S extends z.ZodType>(schema: S, value: unknown, context = 'body'): Checked<z.output<S>> {
  // reportInput: a missing field (input undefined) is told apart from a wrong type.
  const result = schema.safeParse(value, { reportInput: true });
  return result.success ? { ok: true, value: result.data } : { ok: false, issues: toApiIssues(result.error.issues, context) };
}

/** A NUL or a UTF-16 surrogate without its pair: valid in a JS string, storable in no Postgres text or jsonb. */
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_REPORTED = 20;

/**
 * Issues for what no schema rule covers but Postgres (or prototype safety) cannot take: strings
 * (values and keys) with a NUL or an unpaired surrogate, `__proto__` keys, and — in a query
 * string, where every scanq parameter is single — a parameter given twice. Walked with an explicit
 * stack, so no nesting depth can overflow it.
 */
export function inputIssues(value: unknown, root: string): InputIssue[] {
  const issues: InputIssue[] = [];
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0 && issues.length < MAX_REPORTED) {
    const [item, path] = stack.pop()!;
    if (typeof item === 'string') {
      if (UNSTORABLE_TEXT.test(item)) issues.push({ field: path, rule: 'text', message: 'must not contain NUL (\\u0000) or an unpaired UTF-16 surrogate' });
    } else if (Array.isArray(item)) {
      if (root === 'querystring') issues.push({ field: path, rule: 'single', message: 'must be given once' });
      else for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${path}.${i}`]);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item).reverse()) {
        const field = `${path}.${key}`;
        if (key === '__proto__') issues.push({ field, rule: 'unknown_field', message: 'is not allowed (prototype key)' });
        else if (UNSTORABLE_TEXT.test(key)) issues.push({ field: path, rule: 'text', message: 'has a key with NUL (\\u0000) or an unpaired UTF-16 surrogate' });
        else stack.push([child, field]);
      }
    }
  }
  return issues;
}

/**
 * A request body as the API takes it: absent, unstorable text and prototype keys first (the
 * API's pre-validation), then the schema. What the API's 400 would list, in the same words.
 */
export function checkBody<S extends z.ZodType>(schema: S, body: unknown): Checked<z.output<S>> {
  if (body == null) return { ok: false, issues: [{ field: 'body', rule: 'required', message: 'is required (a JSON object)' }] };
  const raw = inputIssues(body, 'body');
  if (raw.length) return { ok: false, issues: raw };
  return check(schema, body);
}
