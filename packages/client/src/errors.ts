import { type ErrorResponse, issuesMessage } from '@scanq/core';

/** One bad field, as the API reports it: where it is and which rule it broke. */
export type ApiIssue = NonNullable<ErrorResponse['issues']>[number];

/** Base of every error the client throws, so callers can catch the client's errors alone. */
export class ScanqClientError extends Error {
  override name = 'ScanqClientError';
}

/** The API answered with an error status (4xx/5xx); `error` is its machine-readable code. */
export class ScanqApiError extends ScanqClientError {
  override name = 'ScanqApiError';
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly issues: ApiIssue[] = [],
  ) {
    super(message);
  }

  /** The request itself was wrong (validation, unknown account, conflicting idempotency key, …). */
  get isBadInput(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 401 && this.status !== 403 && this.status !== 404;
  }
}

/** The API could not be reached, or did not answer within the timeout. */
export class ScanqNetworkError extends ScanqClientError {
  override name = 'ScanqNetworkError';
  constructor(
    readonly kind: 'unreachable' | 'timeout',
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The API answered 2xx with a body that does not match the schema the client was built with:
 * client and server have drifted apart (different versions), or something else answered.
 */
export class ScanqResponseError extends ScanqClientError {
  override name = 'ScanqResponseError';
  constructor(
    readonly url: string,
    readonly status: number,
    message: string,
    readonly issues: ApiIssue[] = [],
  ) {
    super(message);
  }
}

/** Input the client refuses before sending: its own options, or a value no HTTP header can carry. */
export class ScanqInputError extends ScanqClientError {
  override name = 'ScanqInputError';
  constructor(readonly issues: ApiIssue[]) {
    super(issuesMessage(issues));
  }
}
