import { randomUUID } from 'node:crypto';
import type { SimResponse } from '../core/frontend.js';

/**
 * Tencent Cloud API 3.0 answers every request, failed or not, with HTTP 200 and a `Response`
 * envelope; errors carry `Response.Error{Code,Message}`. The Node SDK only surfaces `code` when the
 * status is 200 (it throws a code-less error otherwise), so never answer with another status.
 */
export class TcError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TcError';
  }
}

/** Error codes this front end answers with (common codes + TCSS codes from tencentcloud-sdk-go errors.go). */
export const TC_ERRORS = {
  invalidAuthorization: 'AuthFailure.InvalidAuthorization',
  secretIdNotFound: 'AuthFailure.SecretIdNotFound',
  signatureExpire: 'AuthFailure.SignatureExpire',
  signatureFailure: 'AuthFailure.SignatureFailure',
  failedOperation: 'FailedOperation',
  internalError: 'InternalError',
  invalidAction: 'InvalidAction',
  invalidParameter: 'InvalidParameter',
  invalidParameterValue: 'InvalidParameterValue',
  missingParameter: 'MissingParameter',
  noSuchVersion: 'NoSuchVersion',
  requestLimitExceeded: 'RequestLimitExceeded',
  resourceNotFound: 'ResourceNotFound',
} as const;

export function tcSuccess(body: Record<string, unknown>): SimResponse {
  return envelope({ ...body, RequestId: randomUUID() }, 'ok');
}

export function tcFailure(code: string, message: string): SimResponse {
  return envelope({ Error: { Code: code, Message: message }, RequestId: randomUUID() }, code);
}

function envelope(response: Record<string, unknown>, outcome: string): SimResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: { Response: response }, outcome };
}
