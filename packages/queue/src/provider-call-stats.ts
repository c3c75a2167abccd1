import type { RedisClient } from './connection.js';

/** Latency buckets (seconds) of cloud API calls. */
export const PROVIDER_CALL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

export interface ProviderCallRow {
  provider: string;
  api: string;
  outcome: string;
  count: number;
  sumSeconds: number;
  /** Cumulative counts per PROVIDER_CALL_BUCKETS bound (same order). */
  buckets: number[];
}

interface Tally {
  count: number;
  sumMs: number;
  buckets: number[];
}

const SEP = '\u001f';

/**
 * Cloud API calls counted where they happen (workers) and read where they are scraped (the API):
 * each process tallies in memory and adds its tallies to one Redis hash every `flushMs` with one
 * pipelined round trip, so counting costs no Redis call per cloud call. Implements the providers'
 * ProviderCallObserver.
 */
export class ProviderCallStats {
  private tallies = new Map<string, Tally>();
  /** This process's counts since it started (never flushed away): a worker's own /metrics. */
  private readonly totals = new Map<string, Tally>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    flushMs = 5_000,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), flushMs);
    this.timer.unref();
  }

  record(call: { provider: string; api: string; ms: number; outcome: string }): void {
    const field = [call.provider, call.api, call.outcome].join(SEP);
    for (const tallies of [this.tallies, this.totals]) {
      let t = tallies.get(field);
      if (!t) tallies.set(field, (t = { count: 0, sumMs: 0, buckets: PROVIDER_CALL_BUCKETS.map(() => 0) }));
      t.count += 1;
      t.sumMs += call.ms;
      PROVIDER_CALL_BUCKETS.forEach((le, i) => {
        if (call.ms / 1000 <= le) t!.buckets[i]! += 1;
      });
    }
  }

  /** What this process counted since it started, one row per provider, API and outcome. */
  ownRows(): ProviderCallRow[] {
    return [...this.totals].map(([field, t]) => {
      const [provider = '', api = '', outcome = ''] = field.split(SEP);
      return { provider, api, outcome, count: t.count, sumSeconds: t.sumMs / 1000, buckets: [...t.buckets] };
    });
  }

  /** Adds what this process counted since the last flush to the shared hash. */
  async flush(): Promise<void> {
    if (this.tallies.size === 0) return;
    const tallies = this.tallies;
    this.tallies = new Map();
    const pipe = this.redis.pipeline();
    for (const [field, t] of tallies) {
      pipe.hincrby(this.key, `${field}${SEP}count`, t.count);
      pipe.hincrbyfloat(this.key, `${field}${SEP}sum`, t.sumMs / 1000);
      t.buckets.forEach((n, i) => n && pipe.hincrby(this.key, `${field}${SEP}le${SEP}${PROVIDER_CALL_BUCKETS[i]}`, n));
    }
    await pipe.exec();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Every process's counts so far, one row per provider, API and outcome. */
  static async read(redis: RedisClient, key: string): Promise<ProviderCallRow[]> {
    const hash = await redis.hgetall(key);
    const rows = new Map<string, ProviderCallRow>();
    for (const [field, value] of Object.entries(hash)) {
      const [provider, api, outcome, kind, le] = field.split(SEP);
      if (!provider || !api || !outcome || !kind) continue;
      const id = [provider, api, outcome].join(SEP);
      let row = rows.get(id);
      if (!row) rows.set(id, (row = { provider, api, outcome, count: 0, sumSeconds: 0, buckets: PROVIDER_CALL_BUCKETS.map(() => 0) }));
      if (kind === 'count') row.count = Number(value);
      else if (kind === 'sum') row.sumSeconds = Number(value);
      else if (kind === 'le') {
        const i = PROVIDER_CALL_BUCKETS.indexOf(Number(le) as (typeof PROVIDER_CALL_BUCKETS)[number]);
        if (i >= 0) row.buckets[i] = Number(value);
      }
    }
    return [...rows.values()];
  }
}
