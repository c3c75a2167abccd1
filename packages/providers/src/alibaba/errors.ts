import { answeredBy, ProviderError, type ScanReason } from '@scanq/core';

/**
 * What each SAS error means for a scan. Business codes come from the seed's error table
 * (BeyondQuata, TaskNumEmpty, NoPermission, ServerError); gateway codes (signature, keys,
 * parameters, throttling) from the POP gateway every Alibaba RPC API sits behind.
 */
const TERMINAL: Record<string, ScanReason> = {
  TaskNumEmpty: 'no_images_matched',
  NoPermission: 'no_permission',
  'Forbidden.RAM': 'no_permission',
  Forbidden: 'no_permission',
  'InvalidAccessKeyId.NotFound': 'no_permission',
  'InvalidAccessKeyId.Inactive': 'no_permission',
  SignatureDoesNotMatch: 'no_permission',
  'InvalidSecurityToken.MismatchWithAccessKey': 'no_permission',
  'InvalidSecurityToken.Malformed': 'no_permission',
  IncompleteSignature: 'no_permission',
  InvalidParameter: 'invalid_parameter',
  MissingParameter: 'invalid_parameter',
  InvalidVersion: 'invalid_parameter',
  'InvalidAction.NotFound': 'invalid_parameter',
};

/** How long a BeyondQuata waits when nobody names a better time (the policy usually does). */
export const BEYOND_QUOTA_RETRY_MS = 30_000;

interface TeaError {
  name?: string;
  code?: string;
  message?: string;
  statusCode?: number;
  data?: { Code?: string; Message?: string; RequestId?: string; statusCode?: number };
}

/** Classifies anything `@alicloud/openapi-client` threw into a ProviderError. */
export function toProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as TeaError;
  return answeredBy(classify(err), (e.data?.statusCode ?? e.statusCode) !== undefined || e.data?.Code !== undefined);
}

function classify(err: unknown): ProviderError {
  const e = (err ?? {}) as TeaError;
  const status = e.data?.statusCode ?? e.statusCode;
  const code = e.data?.Code ?? e.code ?? e.name ?? 'Error';
  const message = e.data?.Message ? `${e.data.Message}${e.data.RequestId ? ` (request id ${e.data.RequestId})` : ''}` : (e.message ?? String(err));
  if (code === 'BeyondQuata') return new ProviderError('quota', code, message, 'quota_wait', BEYOND_QUOTA_RETRY_MS);
  // The STS token ran out between fetching and arrival: the held one is dropped (sas-client.ts), the next attempt gets a fresh one.
  if (code === 'InvalidSecurityToken.Expired') return new ProviderError('retryable', code, message, 'no_permission');
  if (code.startsWith('Throttling')) return new ProviderError('retryable', code, message, 'provider_error');
  const reason = TERMINAL[code] ?? (code.startsWith('Missing') ? 'invalid_parameter' : undefined);
  if (reason && (status === undefined || status < 500)) return new ProviderError('terminal', code, message, reason);
  // ServerError, other 5xx, timeouts, connection resets, unreadable bodies: worth retrying.
  return new ProviderError('retryable', code, message, 'provider_error');
}
