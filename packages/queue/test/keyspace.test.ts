import { PROVIDERS, QueueName, queueForProvider } from '@scanq/core';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { createRedis, type RedisClient, RedisKeyspace } from '../src/index.js';

/** The hash tag of a key (what Redis Cluster hashes): the text inside its first `{…}`. */
const tagOf = (key: string) => key.slice(key.indexOf('{') + 1, key.indexOf('}'));

describe('RedisKeyspace (one hash tag per queue)', () => {
  const ks = new RedisKeyspace('scanq');

  it('gives every queue a tag of its own, and a provider its quota keys in its queue’s tag', () => {
    const tags = Object.values(QueueName).map((q) => tagOf(ks.queuePrefix(q)));
    expect(new Set(tags).size).toBe(tags.length);
    for (const p of PROVIDERS) {
      expect(tagOf(ks.quota(p))).toBe(tagOf(ks.queuePrefix(queueForProvider(p))));
      expect(tagOf(ks.callPace(p))).toBe(tagOf(ks.queuePrefix(queueForProvider(p))));
    }
    expect(tagOf(ks.lock('bulk-plan:x'))).toBe('scanq:maintenance');
    expect(ks.pattern).toBe('{scanq:*');
    expect(() => new RedisKeyspace('{scanq}')).toThrow(/braces/);
  });

  describe('on the run’s Redis', () => {
    let env: TestEnv;
    let redis: RedisClient;
    beforeAll(async () => {
      env = await createTestEnv('keyspace');
      redis = createRedis(env.redisTopology);
    });
    afterAll(async () => {
      redis?.disconnect();
      await env?.cleanup();
    });

    // Only a cluster has slots to spread over (the cluster project runs this file on one).
    it.runIf(inject('scanqTest').redisEnv.SCANQ_REDIS_MODE === 'cluster')('spreads the default namespace’s provider queues over more than one master', async () => {
      const cluster = redis;
      if (!(cluster instanceof Cluster)) return expect.fail('not a cluster client');
      await cluster.ping();
      const masterOf = async (tag: string) => {
        const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', tag));
        return cluster.slots[slot]![0];
      };
      const masters = new Set(await Promise.all(PROVIDERS.map((p) => masterOf(ks.queuePrefix(queueForProvider(p))))));
      expect(masters.size).toBeGreaterThanOrEqual(2);
    });
  });
});
