/**
 * Group commit: writes that arrive together go to Postgres as one statement (one round trip,
 * one commit, one WAL flush) instead of one each. A write waits at most `maxWaitMs` for company,
 * or goes at once when `maxSize` are waiting. Each caller awaits its own result, and only once
 * the batch's statement has returned (committed): nothing is acknowledged before it is durable.
 * A batch whose statement fails rejects every caller in it with that error; the next batch is
 * independent of it.
 */
export class GroupCommit<I, O> {
  private waiting: { item: I; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Writes a batch; returns one result per item, in the items' order. */
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly options: { maxSize: number; maxWaitMs: number },
  ) {
    if (!(options.maxSize >= 1)) throw new Error(`GroupCommit maxSize must be at least 1 (got ${options.maxSize})`);
    if (!(options.maxWaitMs >= 0)) throw new Error(`GroupCommit maxWaitMs must be 0 or more (got ${options.maxWaitMs})`);
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.options.maxSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    });
  }

  /** Sends what is waiting now (also what the timer does). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    this.write(batch.map((w) => w.item)).then(
      (results) => {
        if (results.length !== batch.length) {
          const err = new Error(`GroupCommit: the write returned ${results.length} results for ${batch.length} items`);
          for (const w of batch) w.reject(err);
          return;
        }
        batch.forEach((w, i) => w.resolve(results[i]!));
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
