import { type Dependency, dependencyOutage, type ErrorResponse, issuesMessage, zodIssueMessage, zodIssueRule } from '@scanq/core';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { SubmitError } from '@scanq/scans';
import { InputError } from './request-input.js';
import { RateLimitedError, rateLimitedBody } from './load.js';

/** The largest request body the API reads. */
export const BODY_LIMIT_BYTES = 1024 * 1024;
/** The longest URL (path and query) the API reads; ids are far shorter, and so are real queries. */
export const MAX_URL_LENGTH = 8 * 1024;
/** The longest path parameter (an id is a 36-character UUID): longer ones are refused while routing. */
export const MAX_PARAM_LENGTH = 100;

/** A 503's hint: outages outlast a second or two, and clients should not hammer a recovering server. */
export const RETRY_AFTER_SECONDS = 5;

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
    if (error instanceof RateLimitedError) return reply.code(429).send(rateLimitedBody(error));
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = toIssues(error.validationContext ?? 'body', error.validation as never);
      const body: ErrorResponse = { error: 'validation_error', message: issuesMessage(issues), issues };
      return reply.code(400).send(body);
    }
    // A request the services refused (unknown account, idempotency conflict, name taken): its status, naming the field.
    if (error instanceof SubmitError) {
      const issues = [{ field: error.field ?? 'body', rule: error.code, message: error.message }];
      return reply.code(error.status).send({ error: error.code, message: error.message, issues } satisfies ErrorResponse);
    }
    if (error instanceof InputError) {
      return reply.code(error.statusCode).send({ error: error.code, message: error.message, issues: error.issues } satisfies ErrorResponse);
    }
    const framework = FRAMEWORK_ERRORS[error.code];
    if (framework) return reply.code(error.statusCode ?? 400).send({ error: framework.error, message: issuesMessage([framework.issue]), issues: [framework.issue] } satisfies ErrorResponse);
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Any other refusal of the framework or a plugin: the request as a whole, by the framework's code.
      const rule = error.code?.toLowerCase() ?? 'bad_request';
      return reply.code(status).send(issueBody(rule, { field: 'request', rule, message: error.message }));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: 'internal_error', message: 'internal error' } satisfies ErrorResponse);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(issueBody('not_found', { field: 'url', rule: 'route', message: `no route ${request.method} ${shorten(request.url.split('?')[0] ?? '')}` })));
  // Before anything reads it: a URL longer than any the API serves is refused whole.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.length > MAX_URL_LENGTH) return reply.code(414).send(issueBody('uri_too_long', { field: 'url', rule: 'max_length', message: `must be at most ${MAX_URL_LENGTH} characters` }));
  });
}

/** An error body with its one issue (the message repeats it, as every error body does). */
export function issueBody(error: string, issue: Issue): ErrorResponse {
  return { error, message: issuesMessage([issue]), issues: [issue] };
}

/** 404 for a route's resource that does not exist: the path parameter that named it. */
export const notFoundBody = (what: string, id: string): ErrorResponse => issueBody('not_found', { field: 'params.id', rule: 'exists', message: `no ${what} ${shorten(id)}` });

/** Text from the request, cut short and printable only before it goes back into a body. */
const shorten = (text: string, max = 200) => {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
};

/**
 * Refusals Fastify makes while routing, before any hook or handler: a URL that does not decode
 * (`/v1/scans/%FF%FE`) and a path parameter over MAX_PARAM_LENGTH. Neither echoes the URL.
 */
export const frameworkErrors = ((error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void => {
  if (error.code === 'FST_ERR_BAD_URL') return void reply.code(400).send(issueBody('bad_request', { field: 'url', rule: 'encoding', message: 'is not a valid URL (a %-escape that is no UTF-8)' }));
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return void reply.code(414).send(issueBody('uri_too_long', { field: 'url', rule: 'max_length', message: `has a path segment longer than ${MAX_PARAM_LENGTH} characters` }));
  return void reply.code(500).send({ error: 'internal_error', message: 'internal error' } satisfies ErrorResponse);
  // Fastify types the handler generic over each route's schema; this one answers before any route.
}) as NonNullable<FastifyServerOptions['frameworkErrors']>;

/** Node's parser codes → the part of the request at fault (llhttp's own reason goes in the message). */
const PARSER_ERRORS: Record<string, { field: string; rule: string }> = {
  HPE_INVALID_METHOD: { field: 'method', rule: 'method' },
  HPE_INVALID_URL: { field: 'url', rule: 'url' },
  HPE_INVALID_CONSTANT: { field: 'request_line', rule: 'syntax' },
  HPE_INVALID_VERSION: { field: 'version', rule: 'http_version' },
  HPE_INVALID_CONTENT_LENGTH: { field: 'headers.content-length', rule: 'content_length' },
  HPE_UNEXPECTED_CONTENT_LENGTH: { field: 'headers.content-length', rule: 'content_length' },
  HPE_INVALID_TRANSFER_ENCODING: { field: 'headers.transfer-encoding', rule: 'transfer_encoding' },
  HPE_INVALID_CHUNK_SIZE: { field: 'body', rule: 'chunked' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { field: 'body', rule: 'chunked' },
};

interface ParserError extends Error {
  code?: string;
  reason?: string;
  bytesParsed?: number;
  /** A Buffer of what was received (Fastify's type says otherwise). */
  rawPacket?: unknown;
}

const packetOf = (err: ParserError): Buffer | undefined => (Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined);

/** The header line a parser error points at (best effort: the packet seen and the offset in it). */
function headerAt(err: ParserError): { name?: string } {
  const raw = packetOf(err)?.toString('latin1');
  if (raw === undefined || err.bytesParsed === undefined) return {};
  const start = raw.lastIndexOf('\n', Math.max(0, err.bytesParsed - 1)) + 1;
  const end = raw.indexOf('\n', start);
  const line = raw.slice(start, end === -1 ? undefined : end).replace(/\r$/, '');
  const colon = line.indexOf(':');
  const name = colon > 0 ? line.slice(0, colon) : '';
  return /^[!#$%&'*+.^_`|~0-9a-z-]{1,100}$/i.test(name) ? { name: name.toLowerCase() } : {};
}

/** The issue for a request Node's HTTP parser refused (no Fastify request exists for it). */
export function clientErrorIssue(err: ParserError): { status: number; error: string; issue: Issue } {
  const reason = err.reason ?? err.message;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, error: 'request_timeout', issue: { field: 'request', rule: 'timeout', message: 'did not arrive in time' } };
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The request line alone over the limit is a URL too long; otherwise the headers are.
    const firstLine = packetOf(err)?.indexOf('\n') ?? -1;
    if (firstLine === -1 || firstLine > MAX_URL_LENGTH) return { status: 414, error: 'uri_too_long', issue: { field: 'url', rule: 'max_length', message: `must be at most ${MAX_URL_LENGTH} characters` } };
    return { status: 431, error: 'headers_too_large', issue: { field: 'headers', rule: 'max_size', message: 'are larger than the server reads (16 KiB with the request line)' } };
  }
  if (err.code === 'HPE_INVALID_HEADER_TOKEN') {
    const { name } = headerAt(err);
    const inValue = /value/i.test(reason);
    return { status: 400, error: 'bad_request', issue: { field: name && inValue ? `headers.${name}` : 'headers', rule: inValue ? 'header_value' : 'header_name', message: `is malformed (${reason})` } };
  }
  const known = PARSER_ERRORS[err.code ?? ''];
  return { status: 400, error: 'bad_request', issue: { ...(known ?? { field: 'request', rule: 'http' }), message: `is malformed (${reason})` } };
}

/**
 * Node's HTTP parser refuses a malformed request line or header before Fastify sees a request:
 * answer on the raw socket in the API's error shape (Fastify's default says only "Client
 * Error"), then close the connection, whose framing can no longer be trusted.
 */
export function clientErrorHandler(err: ParserError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) return void socket.destroy();
  const { status, error, issue } = clientErrorIssue(err);
  const body = JSON.stringify(issueBody(error, issue));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
