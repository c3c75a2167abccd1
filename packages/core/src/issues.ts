/**
 * A zod issue → the rule name a 400 reports for it, in words a client can switch on. One
 * mapping for the API (issues from fastify-type-provider-zod) and the typed client (issues
 * from a local `check`), so both name a broken rule the same way.
 */
export function zodIssueRule(issue: { code: string; format?: unknown; origin?: unknown; input?: unknown; message?: string; params?: unknown }): string {
  switch (issue.code) {
    case 'invalid_format':
      return issue.format === 'regex' ? 'pattern' : String(issue.format ?? 'format');
    case 'too_small':
      return issue.origin === 'string' ? 'min_length' : issue.origin === 'array' ? 'min_items' : 'minimum';
    case 'too_big':
      return issue.origin === 'string' ? 'max_length' : issue.origin === 'array' ? 'max_items' : 'maximum';
    case 'invalid_type':
      // Parsed with `reportInput` the issue carries the input; otherwise zod's message says
      // "received undefined" when the field is missing.
      // A schema's own message for a missing field says so ("is required …").
      if (/^is required/.test(issue.message ?? '')) return 'required';
      if ('input' in issue) return issue.input === undefined ? 'required' : 'type';
      return /received undefined/.test(issue.message ?? '') ? 'required' : 'type';
    case 'unrecognized_keys':
      return 'unknown_field';
    case 'invalid_value':
    case 'invalid_union':
      return 'one_of';
    case 'custom': {
      // A refinement may name its rule (`params: { rule }`), e.g. an endpoint's `https`.
      const named = (issue.params as { rule?: unknown } | undefined)?.rule;
      return typeof named === 'string' ? named : 'constraint';
    }
    default:
      return issue.code;
  }
}

/**
 * The message a 400 reports for a zod issue: zod's own wording, except its generic type
 * messages ("Invalid input: expected string, received undefined"), which become what a caller
 * must change ("is required", "must be a string, not number").
 */
export function zodIssueMessage(issue: { message?: string }, rule: string): string {
  const message = issue.message ?? 'is invalid';
  if (rule === 'required' && /^Invalid input/.test(message)) return 'is required';
  const type = /^Invalid input: expected (\w+), received (\w+)$/.exec(message);
  if (rule === 'type' && type) return `must be ${/^[aeiou]/.test(type[1]!) ? 'an' : 'a'} ${type[1]}, not ${type[2]}`;
  return message;
}

/** Every issue in one line, as error messages carry them: "body.account: is required; …". */
export function issuesMessage(issues: readonly { field: string; message: string }[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}
