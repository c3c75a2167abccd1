import { createRedis, type RedisClient } from '../src/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { ScanOnceWindow } from '../src/index.js';

describe('ScanOnceWindow (Redis + Lua)', () => {
  let env: TestEnv;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    env = await createTestEnv('window');
    for (let i = 0; i < 8; i++) clients.push(createRedis(env.redisTopology));
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await env?.cleanup();
  });

  it('lets exactly one of many concurrent claimers (separate connections) have the window', async () => {
    const windows = clients.map((c) => new ScanOnceWindow(c, `${env.keyspace.tag('test')}:w`, 60_000));
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => windows[i % windows.length]!.claim(['acct', 'img-a'], `scan-${i}`)));
    const winners = results.filter((r) => r.claimed);
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => !r.claimed);
    expect(losers.every((r) => !r.claimed && r.opensInMs > 0 && r.opensInMs <= 60_000)).toBe(true);
  });

  it('gives a retry by the same owner the window again, and nobody else', async () => {
    const w = new ScanOnceWindow(clients[0]!, `${env.keyspace.tag('test')}:w`, 60_000);
    expect((await w.claim(['acct', 'img-b'], 'scan-1')).claimed).toBe(true);
    expect((await w.claim(['acct', 'img-b'], 'scan-1')).claimed).toBe(true);
    const other = await w.claim(['acct', 'img-b'], 'scan-2');
    expect(other).toMatchObject({ claimed: false, holder: 'scan-1' });
  });

  it('keeps the window closed after a scan the cloud ran (seed) until that scan is a window old', async () => {
    const w = new ScanOnceWindow(clients[0]!, `${env.keyspace.tag('test')}:w`, 60_000);
    const now = Date.now();
    await w.seed(['acct', 'img-c'], now - 50_000, 'cloud', now);
    const claim = await w.claim(['acct', 'img-c'], 'scan-1');
    expect(claim).toMatchObject({ claimed: false, holder: 'cloud' });
    expect(claim.opensInMs).toBeLessThanOrEqual(10_000);
    // A scan older than the window leaves it open.
    await w.seed(['acct', 'img-d'], now - 70_000, 'cloud', now);
    expect((await w.claim(['acct', 'img-d'], 'scan-1')).claimed).toBe(true);
  });

  it('never shortens a window by seeding an older scan', async () => {
    const w = new ScanOnceWindow(clients[0]!, `${env.keyspace.tag('test')}:w`, 60_000);
    await w.claim(['acct', 'img-e'], 'scan-1');
    await w.seed(['acct', 'img-e'], Date.now() - 55_000, 'cloud');
    expect(await w.opensIn(['acct', 'img-e'])).toBeGreaterThan(50_000);
  });

  it('releases only for the owner', async () => {
    const w = new ScanOnceWindow(clients[0]!, `${env.keyspace.tag('test')}:w`, 60_000);
    await w.claim(['acct', 'img-f'], 'scan-1');
    expect(await w.release(['acct', 'img-f'], 'scan-2')).toBe(false);
    expect(await w.release(['acct', 'img-f'], 'scan-1')).toBe(true);
    expect((await w.claim(['acct', 'img-f'], 'scan-2')).claimed).toBe(true);
  });
});
