import { type ErrorResponse, inputIssues, issuesMessage } from '@scanq/core';
import type { FastifyInstance, preValidationAsyncHookHandler } from 'fastify';

type Issue = NonNullable<ErrorResponse['issues']>[number];

// inputIssues lives in core: the intake worker refuses the same input the same way.
export { inputIssues };

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
