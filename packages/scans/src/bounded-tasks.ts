/**
 * At most `limit` tasks running at once, in the order given: `run` waits for the oldest when
 * the limit is reached, `drain` waits for every one. The first failure is thrown (by `run` or
 * `drain`) only once every task started has settled, so nothing is still writing when the
 * caller cleans up after it, and no rejection goes unhandled.
 */
export class BoundedTasks {
  private readonly running: Promise<void>[] = [];
  private failure: { err: unknown } | undefined;

  constructor(private readonly limit: number) {}

  async run(task: () => Promise<void>): Promise<void> {
    if (this.failure) await this.drain();
    const p = task().catch((err: unknown) => {
      this.failure ??= { err };
    });
    this.running.push(p);
    while (this.running.length >= this.limit) {
      await this.running.shift();
      if (this.failure) await this.drain();
    }
  }

  async drain(): Promise<void> {
    await this.settled();
    if (this.failure) {
      const { err } = this.failure;
      this.failure = undefined;
      throw err;
    }
  }

  /**
   * Waits for every task started, throwing nothing: for a caller that already fails with an
   * error of its own (the listing broke), which must not be replaced by a task's.
   */
  async settled(): Promise<void> {
    while (this.running.length > 0) await this.running.shift();
  }
}
