import type { ScanReason } from './domain.js';

/**
 * How a provider call failed, in terms the worker acts on:
 * - `terminal`: the scan (or image) ends `failed` with `reason`; retrying cannot help.
 * - `retryable`: transient (5xx, network, throttling); BullMQ retries with backoff.
 * - `quota`: the cloud said "not now" (BeyondQuata, LimitExceeded, RequestLimitExceeded);
 *   the job waits `retryAfterMs` and tries again without spending an attempt.
 */
export type ProviderErrorKind = 'terminal' | 'retryable' | 'quota';

export class ProviderError extends Error {
  override name = 'ProviderError';
  /**
   * The cloud answered (a status or its own error code came back), so the call is over there.
   * False for a timeout or a lost connection: the cloud may still be working on the request.
   */
  answered = false;
  constructor(
    readonly kind: ProviderErrorKind,
    /** The cloud's own error code (e.g. `ImageNotFoundException`, `BeyondQuata`). */
    readonly code: string,
    message: string,
    readonly reason: ScanReason = kind === 'terminal' ? 'provider_error' : 'provider_error',
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export const isProviderError = (err: unknown): err is ProviderError => err instanceof ProviderError;

/** Marks `err` as answered by the cloud when `answered` (see ProviderError.answered). */
export function answeredBy<E extends ProviderError>(err: E, answered: boolean): E {
  err.answered = answered;
  return err;
}

/**
 * The code of a cloud call cut short because its worker is shutting down (SIGTERM): a
 * `retryable` ProviderError, so every path that treats a failed call as possibly having
 * reached the cloud does so here too, but one that costs the scan nothing: the worker hands its
 * job back to the queue, untouched, for another worker.
 */
export const SHUTTING_DOWN = 'WorkerShuttingDown';

export const isShutdownAbort = (err: unknown): err is ProviderError => isProviderError(err) && err.code === SHUTTING_DOWN;
