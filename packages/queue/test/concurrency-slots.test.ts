import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { waitFor } from '../../../test/support/wait.js';
import { ConcurrencySlots } from '../src/index.js';

describe('ConcurrencySlots (Redis + Lua)', () => {
  let env: TestEnv;
  const clients: Redis[] = [];
  beforeAll(async () => {
    env = await createTestEnv('slots');
    for (let i = 0; i < 8; i++) clients.push(new Redis(env.redisUrl));
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await env?.cleanup();
  });

  /** A fresh key per test: tests never see each other's holders. */
  const key = () => `${env.prefix}:slots:${randomUUID()}`;

  it('grants exactly `limit` of many concurrent acquirers on separate connections', async () => {
    const k = key();
    const slots = clients.map((c) => new ConcurrencySlots(c, k, 10, 60_000));
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => slots[i % slots.length]!.acquire(`scan-${i}`)));
    const granted = results.filter((r) => r.granted);
    expect(granted).toHaveLength(10);
    expect(results.filter((r) => !r.granted).every((r) => r.inUse === 10 && r.room === 10)).toBe(true);
    const state = await slots[0]!.state();
    expect(state).toMatchObject({ limit: 10, inUse: 10, free: 0, external: 0 });
    expect(state.holders.every((h) => h.expiresInMs > 0 && h.expiresInMs <= 60_000)).toBe(true);
  });

  it('never has more than `limit` holders while acquirers and releasers race', async () => {
    const k = key();
    const slots = clients.map((c) => new ConcurrencySlots(c, k, 3, 60_000));
    let maxSeen = 0;
    let grants = 0;
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const s = slots[i % slots.length]!;
        for (let round = 0; round < 10; round++) {
          const owner = `w${i}-r${round}`;
          const r = await s.acquire(owner);
          if (!r.granted) continue;
          grants++;
          maxSeen = Math.max(maxSeen, r.inUse, await s.inUse());
          await s.release(owner);
        }
      }),
    );
    expect(grants).toBeGreaterThan(3);
    expect(maxSeen).toBeLessThanOrEqual(3);
    expect(await slots[0]!.inUse()).toBe(0);
  });

  it('lets a retry by a holder keep its slot (no second slot), and frees a lapsed lease for others', async () => {
    const s = new ConcurrencySlots(clients[0]!, key(), 2, 300);
    expect((await s.acquire('a')).granted).toBe(true);
    expect(await s.acquire('a')).toMatchObject({ granted: true, inUse: 1 });
    expect((await s.acquire('b')).granted).toBe(true);
    const refused = await s.acquire('c');
    expect(refused).toMatchObject({ granted: false, inUse: 2 });
    if (!refused.granted) expect(refused.waitHintMs).toBeGreaterThan(0);
    // Nobody renews: both leases lapse and their slots are free again.
    await waitFor(async () => ((await s.acquire('c')).granted ? true : undefined), { timeoutMs: 5_000, what: 'a lapsed lease to free its slot' });
    expect((await s.state()).holders.map((h) => h.owner)).toEqual(['c']);
  });

  it('keeps a renewed slot past its original lease, and takes a lapsed one back even when full', async () => {
    const s = new ConcurrencySlots(clients[1]!, key(), 1, 400);
    expect((await s.acquire('live')).granted).toBe(true);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 200));
      expect(await s.renew('live')).toBe(true);
    }
    // 800 ms after acquiring, twice the lease, the renewed holder still has the only slot.
    expect((await s.acquire('other')).granted).toBe(false);
    await waitFor(async () => ((await s.inUse()) === 0 ? true : undefined), { timeoutMs: 5_000, what: 'the lease to lapse' });
    expect((await s.acquire('other')).granted).toBe(true);
    // The lapsed task still runs in the cloud: renewing counts it again, above the limit.
    expect(await s.renew('live')).toBe(false);
    expect(await s.inUse()).toBe(2);
    expect((await s.acquire('third')).granted).toBe(false);
  });

  it('releases only the owner\'s own slot', async () => {
    const s = new ConcurrencySlots(clients[2]!, key(), 2, 60_000);
    await s.acquire('a');
    expect((await s.release('b')).released).toBe(false);
    expect(await s.inUse()).toBe(1);
    expect((await s.release('a')).released).toBe(true);
    expect((await s.release('a')).released).toBe(false);
    expect(await s.inUse()).toBe(0);
  });

  it('names the longest-waiting waiters when a slot frees, each once, as many as there is room', async () => {
    const s = new ConcurrencySlots(clients[3]!, key(), 2, 60_000);
    await s.acquire('a');
    await s.acquire('b');
    expect((await s.acquire('c', { waiter: 'job-c', waiterTtlMs: 60_000 })).granted).toBe(false);
    await new Promise((r) => setTimeout(r, 5));
    expect((await s.acquire('d', { waiter: 'job-d', waiterTtlMs: 60_000 })).granted).toBe(false);
    expect((await s.state()).waiters.map((w) => w.id)).toEqual(['job-c', 'job-d']);
    expect(await s.release('a')).toEqual({ released: true, wake: ['job-c'] });
    // A named waiter leaves the list: the next release names the next one.
    expect((await s.state()).waiters.map((w) => w.id)).toEqual(['job-d']);
    expect(await s.release('b')).toEqual({ released: true, wake: ['job-d'] });
    expect((await s.state()).waiters).toEqual([]);
    // A woken waiter that finds no room records itself again.
    await s.acquire('x');
    await s.acquire('y');
    expect((await s.acquire('c', { waiter: 'job-c' })).granted).toBe(false);
    expect((await s.state()).waiters.map((w) => w.id)).toEqual(['job-c']);
  });

  it('lowers the room by an external reduction until it expires, and clears it on replace', async () => {
    const s = new ConcurrencySlots(clients[4]!, key(), 10, 60_000);
    for (let i = 0; i < 4; i++) expect((await s.acquire(`s${i}`)).granted).toBe(true);
    expect(await s.setExternal(6, 400)).toBe(6);
    // A smaller count does not lower a larger one unless told to replace it.
    expect(await s.setExternal(2, 400)).toBe(6);
    const refused = await s.acquire('s4');
    expect(refused).toMatchObject({ granted: false, inUse: 4, room: 4 });
    if (!refused.granted) expect(refused.waitHintMs).toBeLessThanOrEqual(400);
    expect(await s.state()).toMatchObject({ inUse: 4, external: 6, free: 0 });
    await waitFor(async () => ((await s.acquire('s4')).granted ? true : undefined), { timeoutMs: 5_000, what: 'the external reduction to expire' });

    expect(await s.setExternal(4, 60_000)).toBe(4);
    expect((await s.acquire('s5')).granted).toBe(true);
    expect((await s.acquire('s6')).granted).toBe(false);
    expect(await s.setExternal(0, 60_000, true)).toBe(0);
    expect((await s.acquire('s6')).granted).toBe(true);
    expect(await s.state()).toMatchObject({ inUse: 7, external: 0, free: 3 });
  });
});
