import type { RedisTopologyConfig } from '@scanq/core';
import { createRedis, type RedisClient, RedisKeyspace, scanKeys } from '@scanq/queue';

type Target = RedisTopologyConfig | string;

/** A client to the test's Redis, whichever topology (through the product's one factory). */
const connect = (target: Target): RedisClient => createRedis(target, { maxRetriesPerRequest: 3 });

/** Every Redis key of namespace `base` (each of its hash tags; every master of a cluster). */
export async function keysByPrefix(target: Target, base: string): Promise<string[]> {
  const redis = connect(target);
  try {
    return await scanKeys(redis, new RedisKeyspace(base).pattern);
  } finally {
    redis.disconnect();
  }
}

/** Removes every Redis key of namespace `base` (a test file's or benchmark's queues and quotas). */
export async function deleteKeysByPrefix(target: Target, base: string): Promise<void> {
  const keys = await keysByPrefix(target, base);
  if (keys.length === 0) return;
  const redis = connect(target);
  try {
    // One DEL per key: keys of several hash tags live in different cluster slots.
    for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => redis.del(k)));
  } finally {
    redis.disconnect();
  }
}

/** Every key under a raw SCAN pattern on every master (run-wide sweeps). */
export async function keysMatching(target: Target, pattern: string): Promise<string[]> {
  const redis = connect(target);
  try {
    return await scanKeys(redis, pattern);
  } finally {
    redis.disconnect();
  }
}
