import { describe, expect, it } from 'vitest';
import { type BatchOutcome, Batcher } from '../src/batcher.js';

/** A run function that records each batch and answers when told. */
function recorder() {
  const batches: number[][] = [];
  const release: (() => void)[] = [];
  const run = (items: number[]) =>
    new Promise<BatchOutcome<number>[]>((resolve) => {
      batches.push(items);
      release.push(() => resolve(items.map((n) => (n < 0 ? { ok: false, error: new Error(`bad ${n}`) } : { ok: true, value: n * 10 }))));
    });
  return { batches, release, run };
}
const turn = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('sends one turn’s items together, cut at maxBatch, and answers each its own', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 3, maxInFlight: 10 });
    const answers = Promise.allSettled([1, 2, -3, 4, 5].map((n) => b.add(n)));
    await turn();
    expect(r.batches).toEqual([[1, 2, -3], [4, 5]]);
    r.release.forEach((f) => f());
    const settled = await answers;
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([10, 20, 'bad -3', 40, 50]);
  });

  it('holds what arrives while maxInFlight batches are out, and sends it as one batch when one returns', async () => {
    const r = recorder();
    const b = new Batcher(r.run, { maxBatch: 100, maxInFlight: 1 });
    const first = b.add(1);
    await turn();
    const later = [2, 3, 4].map((n) => b.add(n));
    await turn();
    expect(r.batches).toEqual([[1]]);
    r.release[0]!();
    expect(await first).toBe(10);
    await turn();
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
    r.release[1]!();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
  });

  it('gives every item of a batch the error when the run throws or miscounts', async () => {
    const boom = new Batcher<number, number>(async () => Promise.reject(new Error('statement failed')), { maxBatch: 10, maxInFlight: 1 });
    const settled = await Promise.allSettled([1, 2, 3].map((n) => boom.add(n)));
    expect(settled.map((s) => s.status === 'rejected' && (s.reason as Error).message)).toEqual(['statement failed', 'statement failed', 'statement failed']);
    const short = new Batcher<number, number>(async () => [{ ok: true, value: 1 }], { maxBatch: 10, maxInFlight: 1 });
    const miscounted = await Promise.allSettled([1, 2].map((n) => short.add(n)));
    expect(miscounted.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});
