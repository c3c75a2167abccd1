import { Redis, type RedisOptions } from 'ioredis';

/**
 * One ioredis connection. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands
 * must wait out reconnects instead of failing).
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}
