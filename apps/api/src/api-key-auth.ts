import type { ErrorResponse } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitCheck } from './load.js';

const UNAUTHORIZED_ISSUE = { field: 'headers.authorization', rule: 'api_key', message: 'must carry a valid API key (Authorization: Bearer <key>, or X-API-Key)' };
const UNAUTHORIZED: ErrorResponse = { error: 'unauthorized', message: `${UNAUTHORIZED_ISSUE.field}: ${UNAUTHORIZED_ISSUE.message}`, issues: [UNAUTHORIZED_ISSUE] };

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

/**
 * onRequest hook for /v1: 401 with the same body whatever was wrong (missing, malformed, revoked).
 * The rate limit runs between identifying the key and refusing it: a valid key spends its own
 * budget, anything else its address's (so guessing keys is limited too).
 */
export function apiKeyAuth(runtime: ScanqRuntime, rateLimit: RateLimitCheck) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    request.apiKeyId = await runtime.apiKeys.identify(presentedKey(request));
    await rateLimit(request, reply);
    if (request.apiKeyId === null) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="scanq"').send(UNAUTHORIZED);
    }
  };
}
