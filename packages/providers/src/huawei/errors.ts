import { answeredBy, ProviderError, type ScanReason } from '@scanq/core';

/**
 * HSS and API-gateway error codes → what they mean for a scan. HSS answers HTTP 400 with
 * `{error_code, error_msg}` (support.huaweicloud.com/intl/en-us/api-hss2.0/ErrorCode.html); the
 * gateway (APIG) answers authentication and flow-control failures itself. The SDK surfaces both
 * as ServiceResponseException {httpStatusCode, errorCode, errorMsg, requestId}.
 */
const TERMINAL: Record<string, ScanReason> = {
  'HSS.0001': 'invalid', // invalid parameter
  'HSS.0002': 'invalid', // request could not be parsed
  'HSS.0010': 'no_permission', // access denied
  'HSS.0011': 'not_found',
  'HSS.0013': 'no_permission', // insufficient permissions
  // Container-edition scan quota used up: waiting does not free it, buying quota does.
  'HSS.1002': 'insufficient_authorization',
  'APIG.0301': 'no_permission', // IAM authentication information incorrect (AK/SK, signature, project)
  'APIG.0302': 'no_permission',
  'APIG.0303': 'no_permission',
  'APIG.0304': 'no_permission',
  'APIG.0305': 'no_permission',
  'APIG.0306': 'no_permission',
  'APIG.0101': 'provider_error', // API not published at this endpoint: wrong endpoint or path
};

/** APIG flow control ("policy user over ratelimit … time:1 second"): try again after that second. */
const THROTTLED = new Set(['APIG.0308']);
export const THROTTLE_WAIT_MS = 1_000;

/** What the core SDK throws for an answered or failed request (its ServiceResponseException, an axios error). */
export interface SdkError {
  httpStatusCode?: number | string;
  errorCode?: string;
  errorMsg?: string;
  requestId?: string;
  message?: string;
  name?: string;
}

/** Classifies anything the HSS call threw into a ProviderError. */
export function toProviderError(err: unknown, api: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const status = Number((err as SdkError | null)?.httpStatusCode);
  return answeredBy(classify(err, api), Number.isFinite(status) && status > 0);
}

function classify(err: unknown, api: string): ProviderError {
  const e = (err ?? {}) as SdkError;
  const status = e.httpStatusCode === undefined ? undefined : Number(e.httpStatusCode);
  const code = e.errorCode || (status ? `HTTP${status}` : e.name || 'NetworkError');
  const detail = e.errorMsg || e.message || String(err);
  const message = `${api}: ${detail}${e.requestId ? ` (request ${e.requestId})` : ''}`;
  if (THROTTLED.has(code) || status === 429) return new ProviderError('quota', code, message, 'quota_wait', THROTTLE_WAIT_MS);
  const reason = TERMINAL[code];
  if (reason) return new ProviderError('terminal', code, message, reason);
  if (status === 401 || status === 403) return new ProviderError('terminal', code, message, 'no_permission');
  // 5xx, timeouts, connection resets (no status): worth retrying with the queue's backoff.
  if (status === undefined || Number.isNaN(status) || status >= 500) return new ProviderError('retryable', code, message, 'provider_error');
  // Any other 4xx says the request itself is wrong; repeating it cannot help.
  return new ProviderError('terminal', code, message, 'provider_error');
}
