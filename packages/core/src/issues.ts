/**
 * A zod issue → the rule name a 400 reports for it, in words a client can switch on. One
 * mapping for the API (issues from fastify-type-provider-zod) and the typed client (issues
 * from a local `check`), so both name a broken rule the same way.
 */
export function zodIssueRule(issue: { code: string; format?: unknown; origin?: unknown; input?: unknown; message?: string }): string {
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
      if ('input' in issue) return issue.input === undefined ? 'required' : 'type';
      return /received undefined/.test(issue.message ?? '') ? 'required' : 'type';
    case 'unrecognized_keys':
      return 'unknown_field';
    case 'invalid_value':
    case 'invalid_union':
      return 'one_of';
    case 'custom':
      return 'constraint';
    default:
      return issue.code;
  }
}
