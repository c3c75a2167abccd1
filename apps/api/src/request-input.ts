import { type ErrorResponse, issuesMessage } from '@scanq/core';
import type { FastifyInstance, preValidationAsyncHookHandler } from 'fastify';

type Issue = NonNullable<ErrorResponse['issues']>[number];

/** A NUL or a UTF-16 surrogate without its pair: valid in a JS string, storable in no Postgres text or jsonb. */
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_REPORTED = 20;

/**
 * Issues for what no schema rule covers but Postgres (or prototype safety) cannot take: strings
 * (values and keys) with a NUL or an unpaired surrogate, `__proto__` keys, and — in a query
 * string, where every scanq parameter is single — a parameter given twice. Walked with an explicit
 * stack, so no nesting depth can overflow it.
 */
export function inputIssues(value: unknown, root: string): Issue[] {
  const issues: Issue[] = [];
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

/** 400 for input the schemas cannot see is unstorable (see inputIssues) or absent, before validation runs. */
export const refuseRawInputIssues: preValidationAsyncHookHandler = async (request, reply) => {
  // An empty JSON body parses to no body: where the route needs one, say that rather than "not null".
  const missingBody = request.body == null && request.routeOptions.schema?.body !== undefined;
  const issues = [
    ...(missingBody ? [{ field: 'body', rule: 'required', message: 'is required (a JSON object)' }] : []),
    ...inputIssues(request.body, 'body'),
    ...inputIssues(request.query, 'querystring'),
    ...inputIssues(request.params, 'params'),
  ];
  if (issues.length === 0) return;
  const body: ErrorResponse = { error: 'validation_error', message: issuesMessage(issues), issues };
  await reply.code(400).send(body);
};

/** A 4xx that carries the field and rule it is about (the error handler sends `issues`). */
export class InputError extends Error {
  readonly statusCode: number;
  constructor(
    statusCode: number,
    readonly code: string,
    readonly issues: Issue[],
  ) {
    super(issuesMessage(issues));
    this.statusCode = statusCode;
  }
}

/**
 * JSON bodies: an empty body is no body (a bare `POST …/cancel` with a JSON content type is
 * fine; a route that needs a body then says `body: is required`), and a body that is not JSON
 * is refused with the parser's own reason. JSON.parse makes `__proto__` an own key, never a
 * prototype; `refuseRawInputIssues` then refuses it.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(new InputError(400, 'invalid_json', [{ field: 'body', rule: 'json', message: `is not valid JSON (${(err as Error).message})` }]), undefined);
    }
  });
}
