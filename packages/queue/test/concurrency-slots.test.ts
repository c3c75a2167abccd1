import { randomUUID } from 'node:crypto';
import { createRedis, type RedisClient } from '../src/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { waitFor } from '../../../test/support/wait.js';
import { ConcurrencySlots } from '../src/index.js';

describe('ConcurrencySlots (Redis + Lua)', () => {
  let env: TestEnv;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    env = await createTestEnv('slots');
    for (let i = 0; i < 8; i++) clients.push(createRedis(env.redisTopology));
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await env?.cleanup();
  });

  /** A fresh key per test (tests never see each other's holders), its state known and empty. */
  const key = async () => {
    const k = `${env.keyspace.tag('test')}:slots:${randomUUID()}`;
    await new ConcurrencySlots(clients[0]!, k, 1, 60_000).seed([]);
    return k;
  };

  it('grants exactly `limit` of many concurrent acquirers on separate connections', async () => {
    const k = await key();
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
    const k = await key();
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
    const s = new ConcurrencySlots(clients[0]!, await key(), 2, 300);
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
    const s = new ConcurrencySlots(clients[1]!, await key(), 1, 400);
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
    const s = new ConcurrencySlots(clients[2]!, await key(), 2, 60_000);
    await s.acquire('a');
    expect((await s.release('b')).released).toBe(false);
    expect(await s.inUse()).toBe(1);
    expect((await s.release('a')).released).toBe(true);
    expect((await s.release('a')).released).toBe(false);
    expect(await s.inUse()).toBe(0);
  });

  it('names the longest-waiting waiters when a slot frees, each once, as many as there is room', async () => {
    const s = new ConcurrencySlots(clients[3]!, await key(), 2, 60_000);
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
    const s = new ConcurrencySlots(clients[4]!, await key(), 10, 60_000);
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

  it('grants nothing while its state is unknown (a Redis loss), and rebuilds it once from the ledger: a later, staler rebuild changes nothing', async () => {
    const k = `${env.keyspace.tag('test')}:slots:${randomUUID()}`;
    const s = new ConcurrencySlots(clients[5]!, k, 3, 60_000);
    expect(await s.acquire('new', { waiter: 'job-new' })).toMatchObject({ granted: false, rebuild: true });
    expect((await s.state()).waiters).toEqual([]); // nothing recorded while unknown
    // Concurrent rebuilds (several waiting starts read the ledger at once): exactly one counts.
    const rebuilds = await Promise.all(clients.map((c) => new ConcurrencySlots(c, k, 3, 60_000).seed(['t1', 't2', 't3'])));
    expect(rebuilds.filter((r) => r.rebuilt)).toHaveLength(1);
    expect((await s.state()).holders.map((h) => h.owner).sort()).toEqual(['t1', 't2', 't3']);
    expect((await s.acquire('new')).granted).toBe(false);
    await s.release('t1');
    // A rebuild that read the ledger before t1 ended changes nothing now.
    expect(await s.seed(['t1', 't2', 't3'])).toEqual({ rebuilt: false, seeded: 0 });
    expect((await s.acquire('new')).granted).toBe(true);
  });

  it("does not seed back a slot released while the state was unknown (the ledger may not show the task's end yet)", async () => {
    const k = `${env.keyspace.tag('test')}:slots:${randomUUID()}`;
    const s = new ConcurrencySlots(clients[6]!, k, 2, 60_000);
    // t1's task ends between a rebuild's ledger read (t1, t2 running) and its seed.
    await s.release('t1');
    expect(await s.seed(['t1', 't2'])).toEqual({ rebuilt: true, seeded: 1 });
    expect((await s.state()).holders.map((h) => h.owner)).toEqual(['t2']);
    expect((await s.acquire('new')).granted).toBe(true);
  });

  it('holds grants back for the settling time after a rebuild, while a holder taking its slot back (a start in flight) passes', async () => {
    const k = `${env.keyspace.tag('test')}:slots:${randomUUID()}`;
    const s = new ConcurrencySlots(clients[7]!, k, 2, 60_000);
    expect((await s.seed([], { settleMs: 60_000 })).rebuilt).toBe(true);
    // A start that was creating its task when Redis was lost renews its slot back.
    expect(await s.renew('creating', 5_000)).toBe(false);
    expect((await s.acquire('creating')).granted).toBe(true);
    const refused = await s.acquire('new', { waiter: 'job-new' });
    expect(refused).toMatchObject({ granted: false, rebuild: false, inUse: 1 });
    if (!refused.granted) expect(refused.waitHintMs).toBeGreaterThan(50_000);
    expect((await s.state()).waiters.map((w) => w.id)).toEqual(['job-new']);
  });

  it('keeps a short lease alive while its holder works, never shortens a longer one, and lets it lapse soon after the holder stops', async () => {
    const s = new ConcurrencySlots(clients[0]!, await key(), 1, 60_000);
    expect((await s.acquire('creating', { leaseMs: 300 })).granted).toBe(true);
    const alive = s.keepAlive('creating', 300);
    await new Promise((r) => setTimeout(r, 700));
    expect((await s.state()).holders.map((h) => h.owner)).toEqual(['creating']);
    await alive.stop();
    // The task exists: the full lease; a later short renewal or retry does not cut it.
    await s.renew('creating');
    await s.renew('creating', 300);
    expect((await s.acquire('creating', { leaseMs: 300 })).granted).toBe(true);
    expect((await s.state()).holders[0]!.expiresInMs).toBeGreaterThan(30_000);

    const t = new ConcurrencySlots(clients[1]!, await key(), 1, 60_000);
    expect((await t.acquire('dies', { leaseMs: 300 })).granted).toBe(true);
    await t.keepAlive('dies', 300).stop(); // its process died: nobody renews
    await waitFor(async () => ((await t.acquire('next')).granted ? true : undefined), { timeoutMs: 5_000, what: 'the short lease to lapse' });
  });
});
