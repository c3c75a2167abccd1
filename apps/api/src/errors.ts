import { type Dependency, dependencyOutage, type ErrorResponse, issuesMessage, zodIssueMessage, zodIssueRule } from '@scanq/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { SubmitError } from '@scanq/scans';
import { InputError } from './request-input.js';

/** The largest request body the API reads. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** A 503's hint: outages outlast a second or two, and clients should not hammer a recovering server. */
export const RETRY_AFTER_SECONDS = 5;

/** `promise`, or a rejection once `ms` has passed. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The body of a 503 for an unreachable dependency (named, without its error text). */
export function unavailableBody(dependency: Dependency): ErrorResponse {
  const issues = [{ field: `dependency.${dependency}`, rule: 'available', message: `is unavailable; retry in ${RETRY_AFTER_SECONDS} s` }];
  return { error: 'service_unavailable', message: issuesMessage(issues), issues };
}

/** One warning per dependency per 30 s: an outage under load would otherwise log every request. */
const lastWarned = new Map<Dependency, number>();
function warnOnce(log: { warn(obj: object, msg: string): void }, dependency: Dependency, err: Error): void {
  const now = Date.now();
  if ((lastWarned.get(dependency) ?? 0) > now - 30_000) return;
  lastWarned.set(dependency, now);
  log.warn({ dependency, err: { type: err.name, message: err.message, code: (err as { code?: unknown }).code } }, `${dependency} unavailable: answering 503`);
}

type Issue = NonNullable<ErrorResponse['issues']>[number];

function toIssues(context: string, validation: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[]): Issue[] {
  return validation.flatMap((v) => {
    const base = `${context}${v.instancePath.replace(/\//g, '.')}`.replace(/\.$/, '');
    if (v.keyword === 'unrecognized_keys' && Array.isArray(v.params.keys)) {
      return (v.params.keys as string[]).map((k) => ({ field: `${base}.${k}`, rule: 'unknown_field', message: 'is not a known field' }));
    }
    if (v.keyword === 'invalid_union' && v.params.note === 'No matching discriminator') {
      return [{ field: base, rule: 'one_of', message: v.message ?? 'unsupported value' }];
    }
    const rule = zodIssueRule({ ...v.params, code: v.keyword, message: v.message ?? '' });
    return [{ field: base, rule, message: zodIssueMessage(v, rule) }];
  });
}

/** Fastify's own refusals of a request, in the API's words: the field and the rule. */
const FRAMEWORK_ERRORS: Record<string, { error: string; issue: Issue }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { error: 'payload_too_large', issue: { field: 'body', rule: 'max_size', message: `must be at most ${BODY_LIMIT_BYTES / 1024} KiB` } },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { error: 'unsupported_media_type', issue: { field: 'headers.content-type', rule: 'one_of', message: 'must be application/json' } },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { error: 'bad_request', issue: { field: 'headers.content-length', rule: 'match', message: 'must match the body length' } },
};

/**
 * Every error leaves as JSON that says what went wrong: 400 naming each bad field and the rule
 * it broke, the framework's own 4xx passed through (bad JSON, wrong content type, too large),
 * and a 500 only for our own faults — never for anything a client sent.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // A dependency down is no fault of the request nor of ours: 503, and when to come back.
    const down = dependencyOutage(error);
    if (down) {
      warnOnce(request.log, down, error);
      return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send(unavailableBody(down));
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = toIssues(error.validationContext ?? 'body', error.validation as never);
      const body: ErrorResponse = { error: 'validation_error', message: issuesMessage(issues), issues };
      return reply.code(400).send(body);
    }
    // A request the services refused (unknown account, idempotency conflict, name taken): its status, naming the field.
    if (error instanceof SubmitError) {
      const issues = error.field ? [{ field: error.field, rule: error.code, message: error.message }] : undefined;
      return reply.code(error.status).send({ error: error.code, message: error.message, ...(issues ? { issues } : {}) } satisfies ErrorResponse);
    }
    if (error instanceof InputError) {
      return reply.code(error.statusCode).send({ error: error.code, message: error.message, issues: error.issues } satisfies ErrorResponse);
    }
    const framework = FRAMEWORK_ERRORS[error.code];
    if (framework) return reply.code(error.statusCode ?? 400).send({ error: framework.error, message: issuesMessage([framework.issue]), issues: [framework.issue] } satisfies ErrorResponse);
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
