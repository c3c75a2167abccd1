import type { Provider } from '@scanq/core';
import type { Redis } from 'ioredis';
import { TokenBucket, type TokenBucketState } from './token-bucket.js';

/** One cloud API of one account: the unit a cloud's request rate limit counts. */
export interface CallKey {
  provider: Provider;
  accountId: string;
  api: string;
}

/** A provider's request rate: `ratePerSec` calls per API per account per second. */
export interface CallRate {
  ratePerSec: number;
  /** Calls released together inside a second (default 1: evenly spaced). */
  burst?: number;
  /** See TokenBucketOptions. */
  guardMs?: number;
  leadMs?: number;
}

export interface CallGateStats {
  /** Tokens handed to callers. */
  granted: number;
  /** Tokens that came too late to reach the cloud inside their second, so were dropped unused. */
  dropped: number;
  /** Total ms callers waited for tokens. */
  waitedMs: number;
}

/** Calls per provider and account that count as cold in a process, and the time they keep spare. */
const COLD_CALLS = 3;
const COLD_SAFETY_MS = 600;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The worker's `CallGate` (providers' contract): before each cloud call an adapter awaits
 * `acquire`, which takes a token from the `TokenBucket` of that provider + account + API and waits
 * until the token's release time. Providers without a configured rate pass straight through.
 *
 * Timing is measured with this process's monotonic clock only, relative to the Redis answer:
 * the wait is counted from when the answer arrived (never early), and the token is used only if
 * the time since the request was sent (an over-estimate of its age) leaves `safetyMs` before its
 * second ends; a token that aged past that (event-loop stall) is dropped and another is taken,
 * so a late call can never spill into the next second's count.
 */
export class TokenBucketCallGate {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly counters: CallGateStats = { granted: 0, dropped: 0, waitedMs: 0 };
  private readonly callsByClient = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    /** Key namespace, e.g. `{scanq}:quota:token-bucket` (keeps the queue prefix's hash tag). */
    private readonly keyPrefix: string,
    private readonly rates: Partial<Record<Provider, CallRate>>,
      /** ms a token must still have before its second ends when the call goes out (default guardMs − 100). */
    private readonly options: { safetyMs?: number; /** Calls per provider and account treated as cold (default 3). */ coldCalls?: number } = {},
  ) {}

  /** The bucket behind a call key, or null when its provider is not rate limited. */
  bucket(key: CallKey): TokenBucket | null {
    const rate = this.rates[key.provider];
    if (!rate) return null;
    const name = `${this.keyPrefix}:${key.provider}:${key.accountId}:${key.api}`;
    let bucket = this.buckets.get(name);
    if (!bucket) {
      bucket = new TokenBucket(this.redis, name, rate.ratePerSec, rate.burst ?? 1, {
        ...(rate.guardMs !== undefined ? { guardMs: rate.guardMs } : {}),
        ...(rate.leadMs !== undefined ? { leadMs: rate.leadMs } : {}),
      });
      this.buckets.set(name, bucket);
    }
    return bucket;
  }

  async acquire(key: CallKey): Promise<void> {
    const bucket = this.bucket(key);
    if (!bucket) return;
    // Of the guard, up to 100 ms may go to a caller's lateness at the last release of a second;
    // the rest is kept for the call to travel to the cloud and be counted there.
    const warmSafetyMs = this.options.safetyMs ?? Math.max(20, bucket.guardMs - 100);
    // A cold client's first calls (SDK set-up, first connection, code not yet optimized) take
    // far longer to reach the cloud: they only use tokens with most of their second left, so a
    // slow first call cannot land in the next second's count.
    const warmth = `${key.provider}:${key.accountId}`;
    const calls = this.callsByClient.get(warmth) ?? 0;
    this.callsByClient.set(warmth, calls + 1);
    const safetyMs = calls < (this.options.coldCalls ?? COLD_CALLS) ? Math.max(warmSafetyMs, COLD_SAFETY_MS) : warmSafetyMs;
    const started = performance.now();
    for (;;) {
      const asked = performance.now();
      const grant = await bucket.take();
      const answered = performance.now();
      for (let left = grant.waitMs; left > 0; left = grant.waitMs - (performance.now() - answered)) await sleep(Math.ceil(left));
      if (performance.now() - asked <= grant.deadlineMs - safetyMs) {
        this.counters.granted += 1;
        this.counters.waitedMs += performance.now() - started;
        return;
      }
      this.counters.dropped += 1;
    }
  }

  stats(): CallGateStats {
    return { ...this.counters };
  }

  /** The buckets this process has used, as Redis sees them now. */
  async inspect(): Promise<TokenBucketState[]> {
    return Promise.all([...this.buckets.values()].map((b) => b.inspect()));
  }
}
