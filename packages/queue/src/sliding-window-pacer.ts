import type { RedisClient } from './connection.js';
import { replicatedWrite } from './replica-ack.js';
import { defineLuaCommand, luaCommand } from './scripts.js';

/** A reserved departure time: go at `atMs` (Redis clock), `waitMs` after Redis answered. */
export interface PaceGrant {
  atMs: number;
  waitMs: number;
  /** When Redis answered the reservation (performance.now()), before replicas confirmed it. */
  answeredAt: number;
  /** False: the time was beyond the caller's maxWaitMs and nothing was reserved. */
  reserved: boolean;
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

  /**
   * Reserves the next departure time; `spanMs` > 0 holds it that much longer (a call that may
   * arrive late); `leadMs` puts it at least that far ahead of now; `maxWaitMs` reserves only a
   * time at most that far off (`reserved: false` otherwise: nothing is held). On a replicated
   * topology it is handed out only once replicas hold it (a promoted replica would hand it out
   * again); one left unconfirmed stays counted.
   */
  async reserve(spanMs = 0, leadMs = 0, maxWaitMs = -1): Promise<PaceGrant> {
    const reserve = luaCommand(this.redis, 'slidingWindow-reserve');
    const args = [this.key, this.limit, this.windowMs, Math.max(0, Math.round(spanMs)), Math.max(0, Math.round(leadMs)), Math.round(maxWaitMs)];
    let answeredAt = 0;
    const [atMs, waitMs, reserved] = (await replicatedWrite(
      this.redis,
      this.key,
      () =>
        reserve(...args).then((r) => {
          answeredAt = performance.now();
          return r;
        }),
      { grants: (r) => (r as number[])[2] === 1 },
    )) as [number, number, number];
    return { atMs, waitMs: Math.max(0, waitMs), answeredAt, reserved: reserved === 1 };
  }

  async inspect(): Promise<PacerState> {
    const [nowMs, lastSecond, ahead] = (await luaCommand(this.redis, 'slidingWindow-inspect')(this.key, 1000)) as [number, number, number];
    return { key: this.key, limit: this.limit, windowMs: this.windowMs, nowMs, lastSecond, ahead };
  }
}
