/** Length of the window quota checks judge by: any 1000 ms, wherever it starts. */
export const WINDOW_MS = 1000;
/** Timestamps kept per key: 2^20 (8 MB) — a million calls of one API before the oldest are dropped. */
export const MAX_TIMESTAMPS = 1 << 20;
const INITIAL_CAPACITY = 1024;

/**
 * Arrival times of one key's calls, in a ring that grows as needed up to `maxKept`, and the most
 * calls seen within any `windowMs` (sliding: two calls are in one window when less than
 * `windowMs` apart, unlike the wall-clock-second buckets, which split a burst at each
 * second's edge). The maximum is kept as calls arrive, so reading it costs nothing; dropping
 * old timestamps never changes it.
 */
export class SlidingWindowLog {
  private ring: Float64Array;
  /** Calls ever recorded; the i-th lives at ring[i % capacity] while i ≥ count − capacity. */
  private count = 0;
  /** Absolute index of the oldest call still inside the window ending at the latest call. */
  private windowStart = 0;
  private maxInWindow = 0;

  constructor(
    private readonly windowMs = WINDOW_MS,
    private readonly maxKept = MAX_TIMESTAMPS,
  ) {
    this.ring = new Float64Array(Math.min(INITIAL_CAPACITY, maxKept));
  }

  /**
   * Records a call at `atMs`. Times are taken as non-decreasing: one earlier than the latest (a
   * wall clock stepped back) counts as arriving with the latest, so a window is never undercounted.
   */
  record(atMs: number): void {
    const last = this.count > 0 ? this.at(this.count - 1) : Number.NEGATIVE_INFINITY;
    const t = Math.max(atMs, last);
    this.ensureRoom();
    this.ring[this.count % this.ring.length] = t;
    this.count += 1;
    // The oldest kept timestamp bounds the window: past the cap, a window longer than the ring
    // (over a million calls a second) would be undercounted, which no test comes near.
    this.windowStart = Math.max(this.windowStart, this.count - this.ring.length);
    while (this.at(this.windowStart) <= t - this.windowMs) this.windowStart += 1;
    this.maxInWindow = Math.max(this.maxInWindow, this.count - this.windowStart);
  }

  /** The most calls that arrived within any `windowMs`. */
  get max(): number {
    return this.maxInWindow;
  }

  get total(): number {
    return this.count;
  }

  /** The kept timestamps (the latest `maxKept`), oldest first, optionally only those at or after `sinceMs`. */
  timestamps(sinceMs = Number.NEGATIVE_INFINITY): number[] {
    const out: number[] = [];
    for (let i = Math.max(0, this.count - this.ring.length); i < this.count; i++) {
      const t = this.at(i);
      if (t >= sinceMs) out.push(t);
    }
    return out;
  }

  private at(index: number): number {
    return this.ring[index % this.ring.length] as number;
  }

  /** Doubles the ring (keeping order) until it holds `maxKept`; after that the oldest are overwritten. */
  private ensureRoom(): void {
    if (this.count < this.ring.length || this.ring.length >= this.maxKept) return;
    const bigger = new Float64Array(Math.min(this.ring.length * 2, this.maxKept));
    // Full and not yet wrapped (it grows before wrapping), so the ring is in order from 0.
    bigger.set(this.ring);
    this.ring = bigger;
  }
}
