import { SlidingWindowLog, WINDOW_MS } from '../core/sliding-window.js';

/** Arrival times kept per account+API: enough for any 1000 ms window this simulator will see. */
const KEPT_ARRIVALS = 4096;

/**
 * TCSS documents "A maximum of 20 requests can be initiated per second for this API". The core
 * call counter counts all accounts together, so this keeps its own window per account+API
 * (wall-clock seconds, not the simulator clock: rate limits are about real traffic).
 */
export interface RateLimitStats {
  /** `<account>:<api>` → most calls (accepted or not) seen in one wall-clock second. */
  maxPerSecond: Record<string, number>;
  /** `<account>:<api>` → most calls (accepted or not) that arrived within any 1000 ms (sliding). */
  maxPerSlidingSecond: Record<string, number>;
  /** `<account>:<api>` → most calls accepted in one wall-clock second (never above the limit). */
  maxAcceptedPerSecond: Record<string, number>;
  /** `<account>:<api>` → calls answered with RequestLimitExceeded. */
  rejected: Record<string, number>;
  rejectedTotal: number;
}

interface Window {
  second: number;
  calls: number;
  accepted: number;
}

export class PerAccountRateLimiter {
  private windows = new Map<string, Window>();
  private maxCalls = new Map<string, number>();
  private arrivals = new Map<string, SlidingWindowLog>();
  private maxAccepted = new Map<string, number>();
  private rejected = new Map<string, number>();

  /** Counts one call; returns false when it is over `limit` for its second (answer RequestLimitExceeded). */
  admit(account: string, api: string, limit: number, atMs = Date.now()): boolean {
    const key = `${account}:${api}`;
    const second = Math.floor(atMs / 1000);
    let w = this.windows.get(key);
    if (!w || w.second !== second) this.windows.set(key, (w = { second, calls: 0, accepted: 0 }));
    w.calls += 1;
    this.maxCalls.set(key, Math.max(this.maxCalls.get(key) ?? 0, w.calls));
    let log = this.arrivals.get(key);
    if (!log) this.arrivals.set(key, (log = new SlidingWindowLog(WINDOW_MS, KEPT_ARRIVALS)));
    log.record(atMs);
    if (w.accepted >= limit) {
      this.rejected.set(key, (this.rejected.get(key) ?? 0) + 1);
      return false;
    }
    w.accepted += 1;
    this.maxAccepted.set(key, Math.max(this.maxAccepted.get(key) ?? 0, w.accepted));
    return true;
  }

  stats(): RateLimitStats {
    return {
      maxPerSecond: Object.fromEntries(this.maxCalls),
      maxPerSlidingSecond: Object.fromEntries([...this.arrivals].map(([key, log]) => [key, log.max])),
      maxAcceptedPerSecond: Object.fromEntries(this.maxAccepted),
      rejected: Object.fromEntries(this.rejected),
      rejectedTotal: [...this.rejected.values()].reduce((a, b) => a + b, 0),
    };
  }

  reset(): void {
    this.windows.clear();
    this.maxCalls.clear();
    this.arrivals.clear();
    this.maxAccepted.clear();
    this.rejected.clear();
  }
}
