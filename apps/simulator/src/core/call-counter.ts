import { SlidingWindowLog } from './sliding-window.js';

/**
 * Counts every call the simulator receives, per `<cloud>:<api>`, in total, per wall-clock
 * second and per sliding 1000 ms window (each call's arrival time kept), so tests and
 * benchmarks can read back what the workers really did (e.g. that no Tencent API ever saw more
 * than 20 calls within one second). Also counts injected faults and the scan tasks each front
 * end created per image, and keeps named gauges with their high-water mark (e.g. Alibaba tasks
 * running at once).
 */
export interface CallCounterSnapshot {
  totals: Record<string, number>;
  /** Outcome of each call: `<cloud>:<api>:<code>` → count (`ok` for success). */
  outcomes: Record<string, number>;
  /** `<cloud>:<api>` → { epochSecond: count } */
  perSecond: Record<string, Record<string, number>>;
  /** `<cloud>:<api>` → highest count seen in any one wall-clock second (aligned to whole seconds). */
  maxPerSecond: Record<string, number>;
  /** `<cloud>:<api>` → most calls that arrived within any 1000 ms (sliding, not aligned). */
  maxPerSlidingSecond: Record<string, number>;
  /** Injected faults: `<cloud>:<api>:<kind>` → count. */
  faults: Record<string, number>;
  /** Scan tasks the cloud created (see `recordTask`), per cloud. */
  tasks: Record<string, TaskCounts>;
  gauges: Record<string, { current: number; max: number }>;
}

export interface TaskCounts {
  /** Tasks created (AWS: successful StartImageScan calls; Huawei: batch-scan calls that selected images). */
  created: number;
  /** `<account>/<repository>@<digest>` → tasks that named the image. */
  perImage: Record<string, number>;
}

/** The key `tasks.<cloud>.perImage` counts an image under, the same for every cloud. */
export function taskImageKey(account: string, repository: string, digest: string): string {
  const hex = digest.replace(/^sha256:/i, '').toLowerCase();
  return `${account}/${repository}@sha256:${hex}`;
}

/** Wall-clock ms that never steps back: arrival times for the sliding windows. */
const monotonicNow = (): number => performance.timeOrigin + performance.now();

export class CallCounter {
  private totals = new Map<string, number>();
  private outcomes = new Map<string, number>();
  private perSecond = new Map<string, Map<number, number>>();
  private arrivals = new Map<string, SlidingWindowLog>();
  private faults = new Map<string, number>();
  private tasks = new Map<string, { created: number; perImage: Map<string, number> }>();
  private gauges = new Map<string, { current: number; max: number }>();

  /** Records one call; `atMs` is wall-clock time (not the simulator clock). */
  record(cloud: string, api: string, atMs?: number): void {
    const key = `${cloud}:${api}`;
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
    const second = Math.floor((atMs ?? Date.now()) / 1000);
    let buckets = this.perSecond.get(key);
    if (!buckets) this.perSecond.set(key, (buckets = new Map()));
    buckets.set(second, (buckets.get(second) ?? 0) + 1);
    let log = this.arrivals.get(key);
    if (!log) this.arrivals.set(key, (log = new SlidingWindowLog()));
    log.record(atMs ?? monotonicNow());
  }

  /** Records how a call ended (`ok` or the error code it answered). */
  recordOutcome(cloud: string, api: string, code: string): void {
    const key = `${cloud}:${api}:${code}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  /** Records a fault injected into a call. */
  recordFault(cloud: string, api: string, kind: string): void {
    const key = `${cloud}:${api}:${kind}`;
    this.faults.set(key, (this.faults.get(key) ?? 0) + 1);
  }

  /**
   * Records one scan task a front end created, naming each image it covers once (keys from
   * `taskImageKey`), so a test can tell whether an image got more than one task.
   */
  recordTask(cloud: string, imageKeys: Iterable<string>): void {
    let counts = this.tasks.get(cloud);
    if (!counts) this.tasks.set(cloud, (counts = { created: 0, perImage: new Map() }));
    counts.created += 1;
    for (const key of new Set(imageKeys)) counts.perImage.set(key, (counts.perImage.get(key) ?? 0) + 1);
  }

  /** Calls to `<cloud>:<api>` in the wall-clock second containing `atMs`. */
  countInSecond(cloud: string, api: string, atMs = Date.now()): number {
    return this.perSecond.get(`${cloud}:${api}`)?.get(Math.floor(atMs / 1000)) ?? 0;
  }

  total(cloud: string, api: string): number {
    return this.totals.get(`${cloud}:${api}`) ?? 0;
  }

  /** Arrival times (ms) of the latest calls to `<cloud>:<api>` (up to about a million), oldest first. */
  timestamps(key: string, sinceMs?: number): number[] {
    return this.arrivals.get(key)?.timestamps(sinceMs) ?? [];
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
      maxPerSlidingSecond: Object.fromEntries([...this.arrivals].map(([key, log]) => [key, log.max])),
      faults: Object.fromEntries(this.faults),
      tasks: Object.fromEntries([...this.tasks].map(([cloud, t]) => [cloud, { created: t.created, perImage: Object.fromEntries(t.perImage) }])),
      gauges: Object.fromEntries([...this.gauges].map(([k, v]) => [k, { ...v }])),
    };
  }

  reset(): void {
    this.totals.clear();
    this.outcomes.clear();
    this.perSecond.clear();
    this.arrivals.clear();
    this.faults.clear();
    this.tasks.clear();
    this.gauges.clear();
  }
}
