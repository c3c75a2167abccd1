import { describe, expect, it } from 'vitest';
import { BoundedTasks } from '../src/bounded-tasks.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('BoundedTasks', () => {
  it('runs at most `limit` tasks at once and every task to its end', async () => {
    const tasks = new BoundedTasks(2);
    let running = 0;
    let most = 0;
    const done: number[] = [];
    for (let i = 0; i < 7; i++) {
      await tasks.run(async () => {
        running++;
        most = Math.max(most, running);
        for (let t = 0; t < 3 - (i % 3); t++) await tick();
        running--;
        done.push(i);
      });
    }
    await tasks.drain();
    expect(most).toBe(2);
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('throws the first failure only after every task started has settled', async () => {
    const tasks = new BoundedTasks(2);
    let slowEnded = false;
    await tasks.run(async () => {
      for (let t = 0; t < 20; t++) await tick();
      slowEnded = true;
    });
    // At the limit, run waits for the oldest (the slow one) and then throws the failure.
    const second = tasks.run(async () => {
      throw new Error('insert failed');
    });
    await expect(second).rejects.toThrow('insert failed');
    expect(slowEnded).toBe(true);
    // Once thrown, it is not thrown again; a failure found by drain is thrown by drain.
    await expect(tasks.drain()).resolves.toBeUndefined();
    await tasks.run(async () => {
      throw new Error('last batch failed');
    });
    await expect(tasks.drain()).rejects.toThrow('last batch failed');
  });

  it('settled waits for every task started and throws nothing (the caller fails with its own error)', async () => {
    // Under the limit: run returns at once, so only settled waits for them.
    const tasks = new BoundedTasks(3);
    let ended = false;
    await tasks.run(async () => {
      for (let t = 0; t < 10; t++) await tick();
      throw new Error('insert failed');
    });
    await tasks.run(async () => {
      for (let t = 0; t < 20; t++) await tick();
      ended = true;
    });
    expect(ended).toBe(false);
    await expect(tasks.settled()).resolves.toBeUndefined();
    expect(ended).toBe(true);
  });
});
