import { Redis } from 'ioredis';

/** Every Redis key under `prefix`. */
export async function keysByPrefix(redisUrl: string, prefix: string): Promise<string[]> {
  const redis = new Redis(redisUrl);
  const found: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    return found;
  } finally {
    redis.disconnect();
  }
}

/** Removes every Redis key under `prefix` (a test file's or benchmark's queues and quotas). */
export async function deleteKeysByPrefix(redisUrl: string, prefix: string): Promise<void> {
  const keys = await keysByPrefix(redisUrl, prefix);
  if (keys.length === 0) return;
  const redis = new Redis(redisUrl);
  try {
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  } finally {
    redis.disconnect();
  }
}
