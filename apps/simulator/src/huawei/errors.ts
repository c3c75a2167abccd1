import { randomBytes } from 'node:crypto';
import type { SimResponse } from '../core/frontend.js';

/**
 * Huawei Cloud error shapes. HSS answers `{error_code, error_msg}`; the API gateway (APIG) in
 * front of it adds `request_id` to its own errors. Every response carries `X-Request-Id`, which
 * the SDK copies into `ServiceResponseException.requestId`.
 */

/** 32 lowercase hex characters, the form APIG request ids take. */
export function newRequestId(): string {
  return randomBytes(16).toString('hex');
}

export function requestIdHeaders(requestId: string): Record<string, string> {
  return { 'x-request-id': requestId };
}

/** HSS error codes (support.huaweicloud.com/intl/en-us/api-hss2.0/ErrorCode.html): all HTTP 400. */
export const HSS_ERRORS = {
  invalidParameter: { code: 'HSS.0001', msg: 'Invalid parameter.' },
  parseFailed: { code: 'HSS.0002', msg: 'Failed to parse the request.' },
  accessDenied: { code: 'HSS.0010', msg: 'Access denied.' },
  notFound: { code: 'HSS.0011', msg: 'Requested resource not found.' },
  quotaInsufficient: { code: 'HSS.1002', msg: 'Available quotas are insufficient.' },
} as const;

export type HssErrorKind = keyof typeof HSS_ERRORS;

export function hssError(kind: HssErrorKind, detail?: string): SimResponse {
  const { code, msg } = HSS_ERRORS[kind];
  const requestId = newRequestId();
  return {
    status: 400,
    headers: requestIdHeaders(requestId),
    body: { error_code: code, error_msg: detail ? `${msg} ${detail}` : msg },
    outcome: code,
  };
}

/** A validation failure naming the offending field, rendered as HSS.0001. */
export class InvalidParameter extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export function invalidParameter(err: InvalidParameter): SimResponse {
  return hssError('invalidParameter', err.message);
}

function apigError(status: number, code: string, msg: string): SimResponse {
  const requestId = newRequestId();
  return {
    status,
    headers: requestIdHeaders(requestId),
    body: { error_code: code, error_msg: msg, request_id: requestId },
    outcome: code,
  };
}

/**
 * IAM authentication failures at the gateway: APIG.0301, HTTP 401. Messages as documented in
 * the APIG FAQ "Common Errors Related to IAM Authentication Information".
 */
export const authErrors = {
  missing: () => apigError(401, 'APIG.0301', 'Incorrect IAM authentication information: x-auth-token not found'),
  /** The simulator issues no IAM tokens, so any X-Auth-Token fails to decrypt. */
  badToken: () => apigError(401, 'APIG.0301', 'Incorrect IAM authentication information: decrypt token fail'),
  unknownAk: (ak: string) =>
    apigError(401, 'APIG.0301', `Incorrect IAM authentication information: Get secretKey failed,ak:${ak},err:ak not exist`),
  badSignature: () => apigError(401, 'APIG.0301', 'Incorrect IAM authentication information: verify aksk signature fail'),
  expired: (signedAt: string, serverAt: string) =>
    apigError(
      401,
      'APIG.0301',
      `Incorrect IAM authentication information: calc ak sk signature fail:signature expired, signature time:${signedAt},server time:${serverAt}`,
    ),
  /** A temporary AK whose X-Security-Token is wrong or expired. */
  token: (message: string) => apigError(401, 'APIG.0301', message),
  projectMismatch: (projectId: string) =>
    apigError(401, 'APIG.0301', `Incorrect IAM authentication information: project ${projectId} does not belong to the AK`),
};

/** No API is published at this method + path: APIG.0101, HTTP 404. */
export function apiNotFound(): SimResponse {
  return apigError(404, 'APIG.0101', 'The API does not exist or has not been published in the environment');
}

/** APIG flow control (APIG.0308, HTTP 429); the message is the documented one. */
export function throttled(limitPerSecond: number): SimResponse {
  return apigError(
    429,
    'APIG.0308',
    `The throttling threshold has been reached: policy user over ratelimit,limit:${limitPerSecond},time:1 second`,
  );
}

/** A backend failure. HSS documents no 5xx code, so this uses APIG's generic system error. */
export function systemError(): SimResponse {
  return apigError(500, 'APIG.9999', 'System error');
}
