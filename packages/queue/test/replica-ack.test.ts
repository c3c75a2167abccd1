import { loadConfig } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisClusterTopology, RedisSentinelTopology, serverPid } from '../../../test/support/topologies.js';
import { ConcurrencySlots, createRedis, quotaConnection, type RedisClient, ReplicaAckError, SlidingWindowPacer } from '../src/index.js';

/**
 * A quota grant on a replicated topology counts only once a replica holds it (WAIT after the
 * write): here the replica of the key's master is frozen (SIGSTOP), so no grant can be
 * confirmed. Each topology is one of this file's own (a Sentinel group; a Cluster with a replica
 * per master), whatever project runs it: the replica must be frozen, which a shared one cannot be.
 */
for (const kind of ['sentinel', 'cluster'] as const) {
  describe(`quota grants wait for a replica on ${kind === 'sentinel' ? 'a Sentinel group' : 'a Redis Cluster'} (WAIT)`, () => {
    // One hash tag: on a cluster every key here lives on one master, whose replica is frozen.
    const tag = `{scanq-test-ack-${kind}}`;
    let topology: RedisSentinelTopology | RedisClusterTopology;
    let replicaPid = 0;
    let frozen = false;
    const clients: RedisClient[] = [];
    const client = (env: Record<string, string>) => {
      const c = createRedis(loadConfig({ ...topology.env, ...env }).redis);
      clients.push(c);
      return c;
    };
    const freeze = () => {
      process.kill(replicaPid, 'SIGSTOP');
      frozen = true;
    };
    const thaw = () => {
      if (frozen) process.kill(replicaPid, 'SIGCONT');
      frozen = false;
    };

    beforeAll(async () => {
      topology = kind === 'sentinel' ? await RedisSentinelTopology.start() : await RedisClusterTopology.start({ replicas: 1 });
      const replica = topology instanceof RedisSentinelTopology ? await topology.replicaPort() : await topology.replicaPortFor(tag);
      replicaPid = await serverPid(replica);
    });
    afterAll(async () => {
      thaw();
      for (const c of clients) c.disconnect();
      await topology?.destroy();
    });

    it('grants with the replica acknowledging, refuses while it is frozen (counted, a slot given back), and goes through once it thaws', async () => {
      // The mode's default: 1 replica. A short timeout: each refusal below costs it.
      const redis = client({ SCANQ_REDIS_WAIT_TIMEOUT_MS: '1500' });
      const unwaited = client({ SCANQ_REDIS_WAIT_REPLICAS: '0' });
      const patient = client({ SCANQ_REDIS_WAIT_TIMEOUT_MS: '60000' });
      const paceKey = `${tag}:pace`;
      // A long window: the reservations outlive the refusals' waits (the key expires a window after the last).
      const pacer = new SlidingWindowPacer(redis, paceKey, 100, 60_000);
      const slots = new ConcurrencySlots(redis, `${tag}:slots`, 3, 60_000);
      await slots.seed([]);

      await pacer.reserve();
      expect((await slots.acquire('a')).granted).toBe(true);

      freeze();
      try {
        await expect(pacer.reserve()).rejects.toBeInstanceOf(ReplicaAckError);
        // Written on the master and left counted there: an unconfirmed reservation only costs room.
        expect(await unwaited.llen(paceKey)).toBe(2);
        await expect(slots.acquire('b')).rejects.toThrow(/not confirmed by 1 replica\(s\) \(0 did\)/);
        // An unconfirmed slot is given back: only 'a' holds one.
        expect((await new ConcurrencySlots(unwaited, `${tag}:slots`, 3, 60_000).state()).holders.map((h) => h.owner)).toEqual(['a']);
        // SCANQ_REDIS_WAIT_REPLICAS=0: no WAIT, granted at once with the replica frozen.
        expect((await new ConcurrencySlots(unwaited, `${tag}:slots`, 3, 60_000).acquire('c')).granted).toBe(true);
        expect(quotaConnection(unwaited)).toBe(unwaited);

        // A grant waiting when the replica thaws is confirmed then.
        const waiting = new SlidingWindowPacer(patient, paceKey, 100, 60_000).reserve();
        const settled = waiting.then(() => 'granted', (err: Error) => err.message);
        await new Promise((r) => setTimeout(r, 1000));
        expect(await Promise.race([settled, Promise.resolve('still waiting')])).toBe('still waiting');
        thaw();
        expect(await settled).toBe('granted');
      } finally {
        thaw();
      }
      await redis.del(paceKey, `${tag}:slots:holders`, `${tag}:slots:known`, `${tag}:slots:waiters`, `${tag}:slots:external`, `${tag}:slots:released`);
    });
  });
}
