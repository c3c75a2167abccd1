import type { Redis } from 'ioredis';
import { defineLuaCommand, luaCommand } from './scripts.js';

export interface TokenBucketOptions {
  /** First release this many ms into each second (absorbs timers that fire a little early). */
  leadMs?: number;
  /** No release in the last `guardMs` of a second: a call made on time lands in its own second. */
  guardMs?: number;
}

/** A reserved token: go now (`waitMs` 0) or in `waitMs`; it must reach the cloud within `deadlineMs`. */
export interface TokenGrant {
  waitMs: number;
  /** ms from the moment Redis answered until the token's second ends. */
  deadlineMs: number;
  /** Server second (unix seconds) the token belongs to. */
  second: number;
  /** 1-based number of the token within its second. */
  index: number;
}

export interface TokenBucketState {
  key: string;
  ratePerSec: number;
  burst: number;
  /** Redis server time when read. */
  nowMs: number;
  /** Server second of the latest reservation; null when idle. */
  second: number | null;
  /** Tokens reserved in that second. */
  reserved: number;
  /** Tokens still free in the current second (0 while reservations run into later seconds). */
  availableNow: number;
}

export const DEFAULT_TOKEN_BUCKET_LEAD_MS = 20;
export const DEFAULT_TOKEN_BUCKET_GUARD_MS = 300;

/**
 * `TokenBucket(key, ratePerSec, burst)`: at most `ratePerSec` tokens per Redis-server second,
 * across every process (Redis + Lua, atomic). Unlike a sliding bucket it is aligned to the
 * server's seconds, because the clouds count calls per calendar second: tokens never carry over
 * into the next second, are released `burst` at a time on an even schedule through the first
 * `1000 - guardMs` ms, and each `take` reserves its own token (FIFO), so a taker asks Redis once
 * and then waits the time it was given. See lua/tokenBucket-take-1.lua.
 */
export class TokenBucket {
  readonly leadMs: number;
  readonly guardMs: number;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly ratePerSec: number,
    readonly burst = 1,
    options: TokenBucketOptions = {},
  ) {
    this.leadMs = options.leadMs ?? DEFAULT_TOKEN_BUCKET_LEAD_MS;
    this.guardMs = options.guardMs ?? DEFAULT_TOKEN_BUCKET_GUARD_MS;
    if (!Number.isInteger(ratePerSec) || ratePerSec < 1) throw new Error(`TokenBucket ${key}: ratePerSec must be an integer >= 1`);
    if (!Number.isInteger(burst) || burst < 1) throw new Error(`TokenBucket ${key}: burst must be an integer >= 1`);
    if (this.leadMs < 0 || this.guardMs < 0 || this.leadMs + this.guardMs >= 1000) throw new Error(`TokenBucket ${key}: leadMs + guardMs must be 0–999`);
    for (const f of ['tokenBucket-take-1.lua', 'tokenBucket-inspect-1.lua']) defineLuaCommand(redis, f);
  }

  /** Reserves the next token: go now, or wait the given ms (the token stays reserved for the caller). */
  async take(): Promise<TokenGrant> {
    const [waitMs, deadlineMs, second, index] = (await luaCommand(this.redis, 'tokenBucket-take')(this.key, this.ratePerSec, Math.min(this.burst, this.ratePerSec), this.leadMs, this.guardMs)) as [
      number,
      number,
      number,
      number,
    ];
    return { waitMs: Math.max(0, waitMs), deadlineMs, second, index };
  }

  /** What the bucket looks like now (for /v1/quotas, logs and tests). */
  async inspect(): Promise<TokenBucketState> {
    const [nowMs, second, reserved] = (await luaCommand(this.redis, 'tokenBucket-inspect')(this.key)) as [number, number, number];
    const nowSecond = Math.floor(nowMs / 1000);
    const idle = second < 0;
    const open = nowMs % 1000 < 1000 - this.guardMs;
    const freeThisSecond = idle || second < nowSecond ? this.ratePerSec : second === nowSecond ? Math.max(0, this.ratePerSec - reserved) : 0;
    const availableNow = open ? freeThisSecond : 0;
    return { key: this.key, ratePerSec: this.ratePerSec, burst: this.burst, nowMs, second: idle ? null : second, reserved: idle ? 0 : reserved, availableNow };
  }
}
