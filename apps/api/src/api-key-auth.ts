import type { ErrorResponse } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyReply, FastifyRequest } from 'fastify';

const UNAUTHORIZED_ISSUE = { field: 'headers.authorization', rule: 'api_key', message: 'must carry a valid API key (Authorization: Bearer <key>, or X-API-Key)' };
const UNAUTHORIZED: ErrorResponse = { error: 'unauthorized', message: `${UNAUTHORIZED_ISSUE.field}: ${UNAUTHORIZED_ISSUE.message}`, issues: [UNAUTHORIZED_ISSUE] };

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

/** onRequest hook for /v1: 401 with the same body whatever was wrong (missing, malformed, revoked). */
export function apiKeyAuth(runtime: ScanqRuntime) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!(await runtime.apiKeys.verify(presentedKey(request)))) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="scanq"').send(UNAUTHORIZED);
    }
  };
}
