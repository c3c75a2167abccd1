import type { RedisClient } from './connection.js';
import { defineLuaCommand, luaCommand } from './scripts.js';

/** A reserved departure time: go at `atMs` (Redis clock), `waitMs` after Redis answered. */
export interface PaceGrant {
  atMs: number;
  waitMs: number;
}

export interface PacerState {
  key: string;
  limit: number;
  windowMs: number;
  /** Redis server time when read. */
  nowMs: number;
  /** Reservations due in the last 1000 ms (the cloud's own window), abandoned ones included. */
  lastSecond: number;
  /** Reservations still ahead (callers waiting for their time). */
  ahead: number;
}

/**
 * `SlidingWindowPacer(key, limit, windowMs)`: hands out departure times, across every process
 * (Redis + Lua, Redis server time), such that any `windowMs` holds at most `limit` of them.
 * Each `reserve` is the caller's own time (FIFO), so a caller asks Redis once and then waits.
 * Unlike a second-aligned bucket it does not assume a call reaches the cloud in the second it
 * was counted in: the window is longer than the cloud's by a margin for late arrivals.
 * See lua/slidingWindow-reserve-1.lua.
 */
export class SlidingWindowPacer {
  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`SlidingWindowPacer ${key}: limit must be an integer >= 1`);
    if (!Number.isInteger(windowMs) || windowMs < 1) throw new Error(`SlidingWindowPacer ${key}: windowMs must be an integer >= 1`);
    for (const f of ['slidingWindow-reserve-1.lua', 'slidingWindow-inspect-1.lua']) defineLuaCommand(redis, f);
  }

  /** Reserves the next departure time; `spanMs` > 0 holds it that much longer (a call that may arrive late). */
  async reserve(spanMs = 0): Promise<PaceGrant> {
    const [atMs, waitMs] = (await luaCommand(this.redis, 'slidingWindow-reserve')(this.key, this.limit, this.windowMs, Math.max(0, Math.round(spanMs)))) as [number, number];
    return { atMs, waitMs: Math.max(0, waitMs) };
  }

  async inspect(): Promise<PacerState> {
    const [nowMs, lastSecond, ahead] = (await luaCommand(this.redis, 'slidingWindow-inspect')(this.key, 1000)) as [number, number, number];
    return { key: this.key, limit: this.limit, windowMs: this.windowMs, nowMs, lastSecond, ahead };
  }
}
