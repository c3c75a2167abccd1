import { answeredBy, ProviderError, type ScanReason } from '@scanq/core';

/** What each ECR error means for a scan (codes from the StartImageScan contract and botocore). */
const TERMINAL: Record<string, ScanReason> = {
  ImageNotFoundException: 'image_not_found',
  RepositoryNotFoundException: 'repository_not_found',
  InvalidParameterException: 'invalid_parameter',
  ValidationException: 'validation',
  UnsupportedImageTypeException: 'unsupported_image_type',
  ImageArchivedException: 'unsupported_image_type',
  ScanNotFoundException: 'scan_not_found',
  AccessDeniedException: 'no_permission',
  UnrecognizedClientException: 'no_permission',
  InvalidSignatureException: 'no_permission',
  MissingAuthenticationTokenException: 'no_permission',
};

const THROTTLING = new Set(['ThrottlingException', 'ThrottleException', 'TooManyRequestsException', 'RequestLimitExceeded']);

/** Classifies anything the ECR client threw into a ProviderError. */
export function toProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  return answeredBy(classify(err), (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode !== undefined);
}

function classify(err: unknown): ProviderError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const code = e?.name ?? 'Error';
  const message = e?.message ?? String(err);
  if (code === 'LimitExceededException') return new ProviderError('quota', code, message, 'limit_exceeded_waiting');
  // The session token ran out between signing and arrival: the client's credentials are dropped (aws-ecr.provider.ts) and the next attempt gets fresh ones.
  if (code === 'ExpiredTokenException' || code === 'ExpiredToken') return new ProviderError('retryable', code, message, 'no_permission');
  if (THROTTLING.has(code) || e?.$metadata?.httpStatusCode === 429) return new ProviderError('retryable', code, message, 'provider_error');
  const reason = TERMINAL[code];
  if (reason) return new ProviderError('terminal', code, message, reason);
  // ServerException, 5xx, timeouts, connection resets: worth retrying.
  return new ProviderError('retryable', code, message, 'provider_error');
}
