import type { ErrorResponse } from '@scanq/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

type Issue = NonNullable<ErrorResponse['issues']>[number];

/** zod issue → the rule a client broke, in words a client can switch on. */
function ruleOf(keyword: string, params: Record<string, unknown>, message = ''): string {
  switch (keyword) {
    case 'invalid_format':
      return params.format === 'regex' ? 'pattern' : String(params.format ?? 'format');
    case 'too_small':
      return params.origin === 'string' ? 'min_length' : params.origin === 'array' ? 'min_items' : 'minimum';
    case 'too_big':
      return params.origin === 'string' ? 'max_length' : params.origin === 'array' ? 'max_items' : 'maximum';
    case 'invalid_type':
      // zod 4 issues carry no input; its message says "received undefined" when the field is missing.
      return /received undefined/.test(message) ? 'required' : 'type';
    case 'unrecognized_keys':
      return 'unknown_field';
    case 'invalid_value':
    case 'invalid_union':
      return 'one_of';
    case 'custom':
      return 'constraint';
    default:
      return keyword;
  }
}

function toIssues(context: string, validation: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[]): Issue[] {
  return validation.flatMap((v) => {
    const base = `${context}${v.instancePath.replace(/\//g, '.')}`.replace(/\.$/, '');
    if (v.keyword === 'unrecognized_keys' && Array.isArray(v.params.keys)) {
      return (v.params.keys as string[]).map((k) => ({ field: `${base}.${k}`, rule: 'unknown_field', message: 'is not a known field' }));
    }
    if (v.keyword === 'invalid_union' && v.params.note === 'No matching discriminator') {
      return [{ field: base, rule: 'one_of', message: v.message ?? 'unsupported value' }];
    }
    return [{ field: base, rule: ruleOf(v.keyword, v.params, v.message ?? ''), message: v.message ?? 'is invalid' }];
  });
}

/**
 * Every error leaves as JSON that says what went wrong: 400 naming each bad field and the rule
 * it broke, the framework's own 4xx passed through (bad JSON, wrong content type, too large),
 * and a 500 only for our own faults — never for anything a client sent.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = toIssues(error.validationContext ?? 'body', error.validation as never);
      const body: ErrorResponse = { error: 'validation_error', message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues };
      return reply.code(400).send(body);
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const body: ErrorResponse = { error: error.code?.toLowerCase() ?? 'bad_request', message: error.message };
      return reply.code(status).send(body);
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: 'internal_error', message: 'internal error' } satisfies ErrorResponse);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } satisfies ErrorResponse));
}
