import { randomUUID } from 'node:crypto';
import type { SimResponse } from '../core/frontend.js';

/**
 * An error the SAS endpoint answers with. The body has the POP gateway's shape
 * (`{RequestId, HostId, Code, Message, Recommend}`); the SDK throws it as
 * `{code: Code, statusCode, data: {...body, statusCode}}`.
 */
export class SasError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SasError';
  }
}

export const HOST_ID = 'tds.aliyuncs.com';

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

export function errorResponse(err: SasError, requestId = newRequestId()): SimResponse {
  return {
    status: err.status,
    headers: { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': requestId },
    body: {
      RequestId: requestId,
      HostId: HOST_ID,
      Code: err.code,
      Message: err.message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=Sas&requestId=${requestId}`,
    },
    outcome: err.code,
  };
}

/** Errors of the API gateway (authentication, routing) and of SAS itself, with their real statuses. */
export const sasErrors = {
  // Gateway: a missing common or required parameter is reported as `Missing<Name>`.
  missing: (name: string) => new SasError(400, `Missing${name}`, `${name} is mandatory for this action.`),
  invalidParameter: (name: string) =>
    new SasError(400, 'InvalidParameter', `The specified parameter "${name}" is not valid.`),
  invalidVersion: () => new SasError(400, 'InvalidVersion', 'Specified parameter Version is not valid.'),
  actionNotFound: () =>
    new SasError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.'),
  accessKeyNotFound: () => new SasError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.'),
  incompleteSignature: () =>
    new SasError(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.'),
  signatureV2Mismatch: (stringToSign: string) =>
    new SasError(
      400,
      'SignatureDoesNotMatch',
      `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`,
    ),
  signatureV3Mismatch: (stringToSign: string) =>
    new SasError(
      400,
      'SignatureDoesNotMatch',
      `Specified signature does not match our calculation. server StringToSign is [${stringToSign}]`,
    ),
  timestampFormat: () =>
    new SasError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.'),
  timestampExpired: () => new SasError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.'),
  nonceUsed: () => new SasError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.'),
  throttled: () => new SasError(400, 'Throttling.User', 'Request was denied due to user flow control.'),
  // SAS business errors (the seed's error table).
  noPermission: () => new SasError(403, 'NoPermission', 'caller has no permission'),
  serverError: () => new SasError(500, 'ServerError', 'ServerError'),
  beyondQuota: () => new SasError(400, 'BeyondQuata', 'Please check the scan quota'),
  taskNumEmpty: () => new SasError(400, 'TaskNumEmpty', 'Create task quantity is empty.'),
} as const;
