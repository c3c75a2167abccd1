/** One item's outcome in a batch: its own value or its own error. */
export type BatchOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface BatcherOptions {
  /** Items per batch at most (a fuller queue is cut into several batches). */
  maxBatch: number;
  /** Batches running at once; items arriving meanwhile wait and go out together in the next. */
  maxInFlight: number;
}

interface Waiting<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * Group commit: items handed in during one turn of the event loop (and while `maxInFlight`
 * batches are out) go to `run` together. `run` answers each item (same order, same length); if
 * it throws, every item of that batch gets the error, so no caller is left waiting or half told.
 * Under no load a batch is one item and the wait is one `setImmediate`.
 */
export class Batcher<I, O> {
  private pending: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (items: I[]) => Promise<BatchOutcome<O>[]>,
    private readonly options: BatcherOptions,
  ) {
    if (options.maxBatch < 1 || options.maxInFlight < 1) throw new Error('Batcher: maxBatch and maxInFlight must be at least 1');
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate, not nextTick: the requests read in this poll phase all join the batch.
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    });
  }

  private flush(): void {
    while (this.pending.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.pending.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.runBatch(batch).finally(() => {
        this.inFlight -= 1;
        // What queued up while this batch ran has waited already: out at once.
        this.flush();
      });
    }
  }

  private async runBatch(batch: Waiting<I, O>[]): Promise<void> {
    let outcomes: BatchOutcome<O>[];
    try {
      outcomes = await this.run(batch.map((w) => w.item));
      if (outcomes.length !== batch.length) throw new Error(`Batcher: ${outcomes.length} outcomes for ${batch.length} items`);
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    });
  }
}
