import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { TokenBucket, TokenBucketCallGate } from '../src/index.js';

/** Redis server time in ms (the clock the bucket counts seconds by). */
async function serverNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

const countBy = <T>(items: T[], key: (t: T) => string | number) => {
  const out = new Map<string | number, number>();
  for (const i of items) out.set(key(i), (out.get(key(i)) ?? 0) + 1);
  return out;
};

describe('TokenBucket (Redis + Lua, second-aligned, reservations)', () => {
  let env: TestEnv;
  const clients: Redis[] = [];
  beforeAll(async () => {
    env = await createTestEnv('tokenbucket');
    for (let i = 0; i < 6; i++) clients.push(new Redis(env.redisUrl));
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await env?.cleanup();
  });

  it('never reserves more than ratePerSec tokens in one server second, however many take at once (several connections)', async () => {
    const buckets = clients.map((c) => new TokenBucket(c, `${env.prefix}:tb:burst`, 20, 1));
    const grants = await Promise.all(Array.from({ length: 130 }, (_, i) => buckets[i % buckets.length]!.take()));
    const perSecond = countBy(grants, (g) => g.second);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(20);
    // Reservations are dense: 130 tokens need at most 8 seconds (7 full ones and the rest).
    expect(perSecond.size).toBeLessThanOrEqual(8);
    // Every token has its own slot: (second, index) pairs are unique and indexes run 1..20.
    expect(new Set(grants.map((g) => `${g.second}:${g.index}`)).size).toBe(130);
    expect(grants.every((g) => g.index >= 1 && g.index <= 20)).toBe(true);
  });

  it('releases tokens evenly through the open part of the second and never inside the guard', async () => {
    const bucket = new TokenBucket(clients[0]!, `${env.prefix}:tb:spacing`, 20, 1, { leadMs: 20, guardMs: 200 });
    const before = await serverNow(clients[0]!);
    const grants = await Promise.all(Array.from({ length: 60 }, () => bucket.take()));
    // deadline − wait = ms from a token's release to the end of its second: never inside the guard.
    for (const g of grants) expect(g.deadlineMs - g.waitMs).toBeGreaterThanOrEqual(200);
    // Within a future second (fully reserved, nothing caught up), consecutive tokens are 39–40 ms apart.
    const future = grants.filter((g) => g.second > Math.floor(before / 1000) + 1).sort((a, b) => a.index - b.index);
    const bySecond = countBy(future, (g) => g.second);
    const full = [...bySecond].find(([, n]) => n === 20)?.[0];
    expect(full).toBeDefined();
    const slots = future.filter((g) => g.second === full).map((g) => g.deadlineMs - g.waitMs);
    for (let i = 1; i < slots.length; i++) expect(slots[i - 1]! - slots[i]!).toBeGreaterThanOrEqual(38);
    expect(Math.min(...slots)).toBeGreaterThanOrEqual(200); // last release at least guardMs before the end
    expect(Math.max(...slots)).toBeLessThanOrEqual(980); // first release leadMs after the start
  });

  it('hands out burst tokens together when burst = rate (a fixed window per second)', async () => {
    const bucket = new TokenBucket(clients[1]!, `${env.prefix}:tb:window`, 5, 5, { leadMs: 0, guardMs: 100 });
    const grants = await Promise.all(Array.from({ length: 15 }, () => bucket.take()));
    const bySecond = [...countBy(grants, (g) => g.second).values()];
    expect(Math.max(...bySecond)).toBe(5);
    // In a future second all five are released at its start: deadline − wait = 1000 ms.
    const future = grants.filter((g) => g.waitMs > 0 && g.deadlineMs - g.waitMs === 1000);
    expect(future.length).toBeGreaterThanOrEqual(5);
  });

  it('shows its state: reserved tokens in the current second and what is left', async () => {
    const bucket = new TokenBucket(clients[2]!, `${env.prefix}:tb:inspect`, 20, 20, { leadMs: 0, guardMs: 0 });
    expect(await bucket.inspect()).toMatchObject({ second: null, reserved: 0, availableNow: 20 });
    // Take three inside one second (retry if the second turned over in between).
    for (;;) {
      const grants = await Promise.all([bucket.take(), bucket.take(), bucket.take()]);
      const state = await bucket.inspect();
      if (new Set(grants.map((g) => g.second)).size === 1 && state.second === grants[0]!.second && Math.floor(state.nowMs / 1000) === state.second) {
        expect(state.reserved).toBe(3 + (grants[0]!.index - 1));
        expect(state.availableNow).toBe(20 - state.reserved);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('rejects impossible configurations', () => {
    expect(() => new TokenBucket(clients[0]!, 'x', 0)).toThrow(/ratePerSec/);
    expect(() => new TokenBucket(clients[0]!, 'x', 20, 0)).toThrow(/burst/);
    expect(() => new TokenBucket(clients[0]!, 'x', 20, 1, { leadMs: 500, guardMs: 500 })).toThrow(/guardMs/);
  });
});

describe('TokenBucketCallGate', () => {
  let env: TestEnv;
  const clients: Redis[] = [];
  beforeAll(async () => {
    env = await createTestEnv('callgate');
    for (let i = 0; i < 4; i++) clients.push(new Redis(env.redisUrl));
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await env?.cleanup();
  });

  it('lets many concurrent callers on several connections through at most 20 per API per server second, and callers on another API or account are not held up', async () => {
    // Four "processes" (gates on separate connections) share the buckets through Redis.
    const gates = clients.map((c) => new TokenBucketCallGate(c, `${env.prefix}:tb`, { tencent: { ratePerSec: 20 } }));
    const released: { api: string; account: string; at: number }[] = [];
    const call = async (i: number, api: string, account: string) => {
      await gates[i % gates.length]!.acquire({ provider: 'tencent', accountId: account, api });
      released.push({ api, account, at: await serverNow(clients[i % clients.length]!) });
    };
    await Promise.all([
      ...Array.from({ length: 70 }, (_, i) => call(i, 'DescribeAssetImageRegistryDetail', 'acct-1')),
      ...Array.from({ length: 30 }, (_, i) => call(i, 'DescribeAssetImageRegistryVulList', 'acct-1')),
      ...Array.from({ length: 30 }, (_, i) => call(i, 'DescribeAssetImageRegistryDetail', 'acct-2')),
    ]);
    const perWindow = countBy(released, (r) => `${r.account}:${r.api}:${Math.floor(r.at / 1000)}`);
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(20);
    // Sane waits: 70 calls at 20/s take 3–5 server seconds, not more.
    const detail = released.filter((r) => r.account === 'acct-1' && r.api === 'DescribeAssetImageRegistryDetail').map((r) => r.at);
    const seconds = new Set(detail.map((t) => Math.floor(t / 1000)));
    expect(seconds.size).toBeGreaterThanOrEqual(4);
    expect(seconds.size).toBeLessThanOrEqual(5);
    // The other API and the other account have buckets of their own: 30 calls each span 2–3 seconds.
    for (const [account, api] of [['acct-1', 'DescribeAssetImageRegistryVulList'], ['acct-2', 'DescribeAssetImageRegistryDetail']]) {
      const spans = new Set(released.filter((r) => r.account === account && r.api === api).map((r) => Math.floor(r.at / 1000)));
      expect(spans.size).toBeLessThanOrEqual(3);
    }
    const stats = gates.map((g) => g.stats());
    expect(stats.reduce((a, s) => a + s.granted, 0)).toBe(130);
  });

  it("keeps a cold client's first calls to tokens with most of their second left", async () => {
    const rate = { tencent: { ratePerSec: 20, burst: 20, guardMs: 100, leadMs: 0 } };
    const cold = new TokenBucketCallGate(clients[2]!, `${env.prefix}:tb:cold`, rate);
    const warm = new TokenBucketCallGate(clients[2]!, `${env.prefix}:tb:warm`, rate, { coldCalls: 0 });
    // Late in a second (600–800 ms in): tokens of this second have less than 600 ms left.
    const lateInSecond = async () => {
      while (Date.now() % 1000 < 600 || Date.now() % 1000 > 800) await new Promise((r) => setTimeout(r, 5));
    };
    await lateInSecond();
    await cold.acquire({ provider: 'tencent', accountId: 'c', api: 'X' });
    // The cold call passed over this second's token and used one of the next second.
    expect(cold.stats()).toMatchObject({ granted: 1 });
    expect(cold.stats().dropped).toBeGreaterThanOrEqual(1);
    await lateInSecond();
    await warm.acquire({ provider: 'tencent', accountId: 'c', api: 'X' });
    expect(warm.stats()).toMatchObject({ granted: 1, dropped: 0 });
  });

  it('passes providers without a rate straight through', async () => {
    const gate = new TokenBucketCallGate(clients[0]!, `${env.prefix}:tb`, { tencent: { ratePerSec: 1 } });
    await Promise.all(Array.from({ length: 50 }, () => gate.acquire({ provider: 'aws', accountId: 'a', api: 'StartImageScan' })));
    expect(gate.bucket({ provider: 'aws', accountId: 'a', api: 'StartImageScan' })).toBeNull();
    expect(gate.stats().granted).toBe(0);
  });

  it('drops a token that aged past its second (a stalled caller) and takes another, so the call still lands inside its own second', async () => {
    // A stalled event loop: the Redis answer is handed to the caller 1.2 s after it was sent.
    let stalls = 1;
    const slowRedis = new Proxy(clients[1]!, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop === 'tokenBucket-take' && typeof v === 'function') {
          return async (...args: unknown[]) => {
            const r = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (stalls-- > 0) await new Promise((res) => setTimeout(res, 1200));
            return r;
          };
        }
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Redis;
    const gate = new TokenBucketCallGate(slowRedis, `${env.prefix}:tb:stall`, { tencent: { ratePerSec: 20, burst: 20, guardMs: 100, leadMs: 0 } }, { coldCalls: 0 });
    await gate.acquire({ provider: 'tencent', accountId: 'a', api: 'X' });
    expect(gate.stats()).toMatchObject({ granted: 1, dropped: 1 });
  });
});
