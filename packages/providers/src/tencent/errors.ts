import { answeredBy, ProviderError, type ScanReason } from '@scanq/core';

/**
 * What each TCSS error code means for a scan. Tencent Cloud API 3.0 answers errors with HTTP 200
 * and `Response.Error{Code, Message}`; the SDK throws them with `code` set (a transport failure
 * or any non-200 answer arrives without a code). Codes: TCSS errors (tencentcloud-sdk-go
 * tcss/v20201101/errors.go) and the API's common codes. Sub-codes (`InvalidParameter.X`)
 * follow their family.
 */
const TERMINAL_FAMILIES: [prefix: string, reason: ScanReason][] = [
  ['InvalidParameterValue', 'invalid'],
  ['InvalidParameter', 'invalid'],
  ['MissingParameter', 'invalid'],
  ['UnknownParameter', 'invalid'],
  ['ResourceNotFound', 'not_found'],
  ['AuthFailure', 'no_permission'],
  ['UnauthorizedOperation', 'no_permission'],
  ['FailedOperation.AuthorizedNotEnough', 'insufficient_authorization'],
  ['OperationDenied', 'no_permission'],
  ['UnsupportedOperation', 'provider_error'],
  ['InvalidAction', 'provider_error'],
  ['NoSuchVersion', 'provider_error'],
];

/** "Not now" answers about account quota (not the per-second rate): wait, then try again. */
const QUOTA_FAMILIES = ['LimitExceeded', 'ResourceInsufficient'];
/** How long a scan waits after a quota answer before it tries again. */
export const QUOTA_RETRY_MS = 60_000;

/** The per-second rate limit: handled inside the adapter by waiting and calling again. */
export const isRequestLimitExceeded = (code: string): boolean => code === 'RequestLimitExceeded' || code.startsWith('RequestLimitExceeded.');

const inFamily = (code: string, prefix: string) => code === prefix || code.startsWith(`${prefix}.`);

/** Classifies anything the TCSS client threw into a ProviderError. */
export function toProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  // An error with the cloud's RequestId or an HTTP status came back from TCSS; a bare network error did not.
  const e = err as { requestId?: string; httpCode?: number } | null;
  return answeredBy(classify(err), !!e?.requestId || !!e?.httpCode);
}

function classify(err: unknown): ProviderError {
  const e = err as { code?: string; message?: string; httpCode?: number; requestId?: string };
  const code = typeof e?.code === 'string' && e.code !== '' ? e.code : e?.httpCode ? `HTTP${e.httpCode}` : 'NetworkError';
  const message = `${e?.message ?? String(err)}${e?.requestId ? ` (RequestId ${e.requestId})` : ''}`;
  if (isRequestLimitExceeded(code)) return new ProviderError('quota', code, message, 'quota_wait', 1_000);
  if (QUOTA_FAMILIES.some((p) => inFamily(code, p))) return new ProviderError('quota', code, message, 'quota_wait', QUOTA_RETRY_MS);
  const terminal = TERMINAL_FAMILIES.find(([p]) => inFamily(code, p));
  if (terminal) return new ProviderError('terminal', code, message, terminal[1]);
  // InternalError, ResourceUnavailable, FailedOperation (e.g. ErrAlreadyScanning), timeouts,
  // connection resets, non-200 answers: worth retrying with backoff.
  return new ProviderError('retryable', code, message, 'provider_error');
}
