/**
 * Counts every call the simulator receives, per `<cloud>:<api>`, in total and per wall-clock
 * second, so tests and benchmarks can read back what the workers really did (e.g. that no
 * Tencent API ever saw more than 20 calls in one second). Also keeps named gauges with their
 * high-water mark (e.g. Alibaba tasks running at once).
 */
export interface CallCounterSnapshot {
  totals: Record<string, number>;
  /** Outcome of each call: `<cloud>:<api>:<code>` → count (`ok` for success). */
  outcomes: Record<string, number>;
  /** `<cloud>:<api>` → { epochSecond: count } */
  perSecond: Record<string, Record<string, number>>;
  /** `<cloud>:<api>` → highest count seen in any one-second window. */
  maxPerSecond: Record<string, number>;
  gauges: Record<string, { current: number; max: number }>;
}

export class CallCounter {
  private totals = new Map<string, number>();
  private outcomes = new Map<string, number>();
  private perSecond = new Map<string, Map<number, number>>();
  private gauges = new Map<string, { current: number; max: number }>();

  /** Records one call; `atMs` is wall-clock time (not the simulator clock). */
  record(cloud: string, api: string, atMs = Date.now()): void {
    const key = `${cloud}:${api}`;
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
    const second = Math.floor(atMs / 1000);
    let buckets = this.perSecond.get(key);
    if (!buckets) this.perSecond.set(key, (buckets = new Map()));
    buckets.set(second, (buckets.get(second) ?? 0) + 1);
  }

  /** Records how a call ended (`ok` or the error code it answered). */
  recordOutcome(cloud: string, api: string, code: string): void {
    const key = `${cloud}:${api}:${code}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  /** Calls to `<cloud>:<api>` in the wall-clock second containing `atMs`. */
  countInSecond(cloud: string, api: string, atMs = Date.now()): number {
    return this.perSecond.get(`${cloud}:${api}`)?.get(Math.floor(atMs / 1000)) ?? 0;
  }

  total(cloud: string, api: string): number {
    return this.totals.get(`${cloud}:${api}`) ?? 0;
  }

  setGauge(name: string, value: number): void {
    const g = this.gauges.get(name) ?? { current: 0, max: 0 };
    g.current = value;
    g.max = Math.max(g.max, value);
    this.gauges.set(name, g);
  }

  snapshot(): CallCounterSnapshot {
    const perSecond: CallCounterSnapshot['perSecond'] = {};
    const maxPerSecond: CallCounterSnapshot['maxPerSecond'] = {};
    for (const [key, buckets] of this.perSecond) {
      perSecond[key] = Object.fromEntries([...buckets].map(([s, n]) => [String(s), n]));
      maxPerSecond[key] = Math.max(0, ...buckets.values());
    }
    return {
      totals: Object.fromEntries(this.totals),
      outcomes: Object.fromEntries(this.outcomes),
      perSecond,
      maxPerSecond,
      gauges: Object.fromEntries([...this.gauges].map(([k, v]) => [k, { ...v }])),
    };
  }

  reset(): void {
    this.totals.clear();
    this.outcomes.clear();
    this.perSecond.clear();
    this.gauges.clear();
  }
}
