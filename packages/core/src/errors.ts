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
