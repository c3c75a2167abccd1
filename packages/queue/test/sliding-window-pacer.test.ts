import { createRedis, type RedisClient } from '../src/index.js';
import { CALL_DEADLINE, CallDeadline } from '@scanq/core/call-deadline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { PacedCallGate, SlidingWindowPacer } from '../src/index.js';

/** The most reservations any half-open window [x, x + windowMs) holds. */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= windowMs) i++;
    worst = Math.max(worst, j - i + 1);
  }
  return worst;
}

/** The most intervals [start, end] any window [x, x + windowMs) touches. */
function maxTouching(intervals: { start: number; end: number }[], windowMs: number): number {
  let worst = 0;
  // A window touching the most intervals can start at some interval's end (or just after it).
  for (const w of intervals) {
    const x = w.end - windowMs + 1;
    worst = Math.max(worst, intervals.filter((i) => i.end >= x && i.start < x + windowMs).length);
  }
  return worst;
}

describe('SlidingWindowPacer (Redis + Lua, sliding window, reservations)', () => {
  let env: TestEnv;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    env = await createTestEnv('pacer');
    for (let i = 0; i < 6; i++) clients.push(createRedis(env.redisTopology));
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await env?.cleanup();
  });

  it('never reserves more than `limit` times in any window, however many take at once on several connections, and packs them densely', async () => {
    const pacers = clients.map((c) => new SlidingWindowPacer(c, `${env.keyspace.tag('test')}:pace:burst`, 20, 1300));
    const grants = await Promise.all(Array.from({ length: 150 }, (_, i) => pacers[i % pacers.length]!.reserve()));
    const times = grants.map((g) => g.atMs);
    expect(maxInWindow(times, 1300)).toBeLessThanOrEqual(20);
    // Dense: the first 20 go at once (within the ms Redis took to run them), the next 20 a window later.
    const first = Math.min(...times);
    expect(times.filter((t) => t < first + 1300)).toHaveLength(20);
    expect(times.filter((t) => t < first + 2 * 1300)).toHaveLength(40);
    expect(grants.every((g) => g.waitMs >= 0)).toBe(true);
  });

  it('keeps the window across rounds of takers that come and go', async () => {
    const pacer = new SlidingWindowPacer(clients[0]!, `${env.keyspace.tag('test')}:pace:rounds`, 5, 200);
    const times: number[] = [];
    for (let round = 0; round < 6; round++) {
      const grants = await Promise.all(Array.from({ length: 4 + (round % 3) * 3 }, (_, i) => new SlidingWindowPacer(clients[i % clients.length]!, pacer.key, 5, 200).reserve()));
      times.push(...grants.map((g) => g.atMs));
      await new Promise((r) => setTimeout(r, 50 * round));
    }
    expect(maxInWindow(times, 200)).toBeLessThanOrEqual(5);
  });

  it("holds a spanned (cold) reservation over its whole span: later ones count from its end", async () => {
    const pacer = new SlidingWindowPacer(clients[1]!, `${env.keyspace.tag('test')}:pace:span`, 3, 400);
    const cold = await pacer.reserve(500);
    const warm = await Promise.all(Array.from({ length: 8 }, () => pacer.reserve()));
    expect(warm.every((g) => g.atMs >= cold.atMs + 500)).toBe(true);
    const intervals = [{ start: cold.atMs, end: cold.atMs + 500 }, ...warm.map((g) => ({ start: g.atMs, end: g.atMs }))];
    expect(maxTouching(intervals, 400)).toBeLessThanOrEqual(3);
  });

  it('shows its state: calls due in the last second and callers still waiting', async () => {
    const pacer = new SlidingWindowPacer(clients[2]!, `${env.keyspace.tag('test')}:pace:inspect`, 2, 60_000);
    expect(await pacer.inspect()).toMatchObject({ lastSecond: 0, ahead: 0, limit: 2, windowMs: 60_000 });
    // Two go now; the next two are a minute away.
    await Promise.all(Array.from({ length: 4 }, () => pacer.reserve()));
    const state = await pacer.inspect();
    expect(state.ahead).toBe(2);
    expect(state.lastSecond).toBeLessThanOrEqual(2);
  });

  it('rejects impossible configurations', () => {
    expect(() => new SlidingWindowPacer(clients[0]!, 'x', 0, 1000)).toThrow(/limit/);
    expect(() => new SlidingWindowPacer(clients[0]!, 'x', 20, 0)).toThrow(/windowMs/);
  });
});

describe('PacedCallGate', () => {
  let env: TestEnv;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    env = await createTestEnv('pacedgate');
    for (let i = 0; i < 4; i++) clients.push(createRedis(env.redisTopology));
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await env?.cleanup();
  });

  /** Every reservation a pacer key holds (ends, ms). */
  const reserved = (key: string) => clients[0]!.lrange(key, 0, -1).then((xs) => xs.map(Number));

  it('lets many concurrent callers on several connections through within the window per API and account; other APIs and accounts are paced apart', async () => {
    const rate = { tencent: { limit: 20, marginMs: 300 } };
    // Four "processes" (gates on separate connections) share the pacers through Redis.
    const gates = clients.map((c) => new PacedCallGate(c, `${env.keyspace.tag('test')}:pace`, rate, { coldCalls: 0 }));
    const call = (i: number, api: string, account: string) => gates[i % gates.length]!.acquire({ provider: 'tencent', accountId: account, api });
    // Each group's reservations are read as soon as its calls are through (the key lapses a window after its last).
    const group = async (account: string, api: string, calls: number) => {
      await Promise.all(Array.from({ length: calls }, (_, i) => call(i, api, account)));
      return { calls, times: await reserved(`${env.keyspace.tag('test')}:pace:tencent:${account}:${api}`) };
    };
    const groups = await Promise.all([
      group('acct-1', 'DescribeAssetImageRegistryDetail', 50),
      group('acct-1', 'DescribeAssetImageRegistryVulList', 30),
      group('acct-2', 'DescribeAssetImageRegistryDetail', 30),
    ]);
    expect(gates.reduce((a, g) => a + g.stats().granted, 0)).toBe(110);
    // A caller that woke too late (a loaded machine) reserves again later, and that reservation
    // trims ones a window old from the list: then the list no longer holds every call.
    const abandoned = gates.reduce((a, g) => a + g.stats().abandoned, 0);
    for (const { calls, times } of groups) {
      if (abandoned === 0) expect(times.length).toBeGreaterThanOrEqual(calls);
      expect(maxInWindow(times, 1300)).toBeLessThanOrEqual(20);
    }
  });

  it("spans a cold client's first calls, so a slow first call cannot crowd the next window", async () => {
    const gate = new PacedCallGate(clients[1]!, `${env.keyspace.tag('test')}:pace:cold`, { tencent: { limit: 20, marginMs: 300 } }, { coldCalls: 1 });
    const key = { provider: 'tencent' as const, accountId: 'c', api: 'X' };
    const [s, us] = await clients[1]!.time();
    const before = Number(s) * 1000 + Math.floor(Number(us) / 1000);
    await gate.acquire(key);
    await gate.acquire(key);
    const [coldEnd, warm] = await reserved(`${env.keyspace.tag('test')}:pace:cold:tencent:c:X`);
    // The cold call's reservation lasts 500 ms past its time; the warm one goes no earlier than that.
    expect(coldEnd).toBeGreaterThanOrEqual(before + 500);
    expect(warm).toBeGreaterThanOrEqual(coldEnd!);
    expect(gate.stats()).toMatchObject({ granted: 2 });
  });

  it('turns a call with a deadline away, reserving nothing, when its turn is more than half its time off', async () => {
    const gate = new PacedCallGate(clients[0]!, `${env.keyspace.tag('test')}:pace:deadline`, { tencent: { limit: 2, marginMs: 5_000 } }, { coldCalls: 0 });
    const key = { provider: 'tencent' as const, accountId: 'd', api: 'CreateAssetImageRegistryScanTask' };
    const list = `${env.keyspace.tag('test')}:pace:deadline:tencent:d:CreateAssetImageRegistryScanTask`;
    // Two calls fill the 6 s window; a third's turn is ~6 s off, past half of a deadline 4 s away.
    await gate.acquire(key);
    await gate.acquire(key);
    const late = new CallDeadline(Date.now() + 4_000, 'the test create');
    const err = await late.run(() => gate.acquire(key)).then(() => undefined, (e: unknown) => e);
    // A quota wait (no attempt spent) for about the time to its turn; nothing held for it.
    expect(err).toMatchObject({ kind: 'quota', code: CALL_DEADLINE, reason: 'quota_wait', message: expect.stringContaining('rate gate') });
    expect((err as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(2_000);
    expect(await reserved(list)).toHaveLength(2);
    // Without a deadline the same call waits for its turn and takes it.
    const p = gate.acquire(key);
    await expect.poll(async () => (await reserved(list)).length).toBe(3);
    await p;
    expect(gate.stats().granted).toBe(3);
  }, 20_000);

  it('passes providers without a rate straight through', async () => {
    const gate = new PacedCallGate(clients[0]!, `${env.keyspace.tag('test')}:pace`, { tencent: { limit: 1, marginMs: 300 } });
    await Promise.all(Array.from({ length: 50 }, () => gate.acquire({ provider: 'aws', accountId: 'a', api: 'StartImageScan' })));
    expect(gate.pacer({ provider: 'aws', accountId: 'a', api: 'StartImageScan' })).toBeNull();
    expect(gate.stats().granted).toBe(0);
  });

  it('gives up a reservation its caller woke too late for (a stalled event loop) and reserves again, the first still counted', async () => {
    // A stalled event loop: the Redis answer reaches the caller 1.2 s after it was sent.
    let stalls = 1;
    const slowRedis = new Proxy(clients[1]!, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop === 'slidingWindow-reserve' && typeof v === 'function') {
          return async (...args: unknown[]) => {
            const r = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (stalls-- > 0) await new Promise((res) => setTimeout(res, 1200));
            return r;
          };
        }
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as RedisClient;
    const gate = new PacedCallGate(slowRedis, `${env.keyspace.tag('test')}:pace:stall`, { tencent: { limit: 20, marginMs: 300 } }, { coldCalls: 0 });
    await gate.acquire({ provider: 'tencent', accountId: 'a', api: 'X' });
    expect(gate.stats()).toMatchObject({ granted: 1, abandoned: 1 });
    expect(await reserved(`${env.keyspace.tag('test')}:pace:stall:tencent:a:X`)).toHaveLength(2);
  });
});
