// A subpath of its own (`@scanq/core/call-deadline`), like `@scanq/core/net`: it needs Node, the rest of core does not.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ProviderError } from './errors.js';

/** The code of a cloud call cut off (or never sent) because its deadline passed. */
export const CALL_DEADLINE = 'CallDeadline';

const scopes = new AsyncLocalStorage<CallDeadline>();

/**
 * A hard end for a cloud call whose late arrival would do harm: a create call, which a retry
 * repeats once the call is surely over. Every HTTP request the call makes (through the
 * providers' transport, `admit`) is cut at `at`, its connection reset so that nothing the kernel
 * still holds for it (a request written while the network was cut) can reach the cloud later,
 * and no request may start after `at`. So a create call's bytes never arrive after `at`,
 * whatever the network did, and `sentNothing` says when none left at all.
 *
 * The scope follows the call through awaits (AsyncLocalStorage): SDK middleware, credential
 * refreshes and rate gates inside it are all bounded by the same `at`.
 */
export class CallDeadline {
  private expired = false;
  private readonly cuts = new Set<(err: Error) => void>();
  /** HTTP requests admitted in this scope. */
  requestsMade = 0;

  constructor(
    /** Epoch ms. */
    readonly at: number,
    /** What the call is, for the error message. */
    private readonly what: string,
  ) {}

  /** The deadline of the call running now, if it has one. */
  static current(): CallDeadline | undefined {
    return scopes.getStore();
  }

  /** True while no request of the call has been sent (one refused before sending counts as none). */
  get sentNothing(): boolean {
    return this.requestsMade === 0;
  }

  /** The error a call gets once its deadline passed. */
  error(detail = 'its deadline passed'): ProviderError {
    return new ProviderError('retryable', CALL_DEADLINE, `${this.what} cut off: ${detail} (${new Date(this.at).toISOString()})`, 'provider_error');
  }

  /**
   * Runs `fn` under this deadline: rejects with `error()` at `at` at the latest, after cutting
   * every request still open. A deadline already past rejects without running `fn`.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const left = this.at - Date.now();
    if (left <= 0) {
      this.expired = true;
      throw this.error();
    }
    let timer: NodeJS.Timeout | undefined;
    const cutOff = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = this.error();
        // Rejected first: the cut makes the call fail too, and the race must settle with this error.
        reject(err);
        this.expire(err);
      }, left);
    });
    try {
      return await Promise.race([scopes.run(this, fn), cutOff]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A request of this call is about to be sent: `cut` ends it (and resets its connection) at
   * the deadline. Returns the function to call once the request is over, or undefined when the
   * deadline has passed: the request must then not be sent.
   */
  admit(cut: (err: Error) => void): (() => void) | undefined {
    if (this.expired || Date.now() >= this.at) return undefined;
    this.requestsMade += 1;
    this.cuts.add(cut);
    return () => this.cuts.delete(cut);
  }

  /** Milliseconds left (≤ 0 once past). */
  remainingMs(): number {
    return this.at - Date.now();
  }

  private expire(err: Error): void {
    this.expired = true;
    for (const cut of this.cuts) {
      try {
        cut(err);
      } catch {
        // One request's teardown failing must not spare the others.
      }
    }
    this.cuts.clear();
  }
}
