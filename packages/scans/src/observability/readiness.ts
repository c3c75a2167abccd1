import type { SqlClient } from '@scanq/db';
import type { RedisClient, RedisKeyspace } from '@scanq/queue';

export type DependencyState = 'ok' | 'down';

/** Rejects when `promise` has not settled within `ms` (the promise itself runs on). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Writes and removes one key in one script: a PING answers on a read-only replica (after a
 * failover), on a full server (maxmemory) and on a cluster node that owns none of our slots,
 * where every queue command fails. The key lives under the queue prefix (its hash tag, its shard)
 * and is gone when the script ends.
 */
const WRITE_PROBE = "redis.call('SET', KEYS[1], '1', 'PX', 10000) return redis.call('DEL', KEYS[1])";

export const redisProbeKey = (keyspace: RedisKeyspace) => `${keyspace.tag('maintenance')}:readyz-probe`;

const bounded = (check: () => Promise<unknown>, timeoutMs: number): Promise<DependencyState> =>
  withTimeout(check(), timeoutMs).then(
    () => 'ok' as const,
    () => 'down' as const,
  );

/** Redis takes a write on the queue prefix's shard within `timeoutMs`. */
export const probeRedis = (redis: RedisClient, keyspace: RedisKeyspace, timeoutMs: number): Promise<DependencyState> => bounded(() => redis.eval(WRITE_PROBE, 1, redisProbeKey(keyspace)), timeoutMs);

/** Postgres answers a query through the pool within `timeoutMs` (a free connection included). */
export const probePostgres = (sql: SqlClient, timeoutMs: number): Promise<DependencyState> => bounded(() => sql.rows('SELECT 1'), timeoutMs);

/**
 * Postgres and Redis reachable and usable, each check bounded by `timeoutMs` on its own (a
 * connection that queues commands while reconnecting would otherwise hold the probe forever).
 */
export async function probeDependencies(deps: { sql: SqlClient; redis: RedisClient; keyspace: RedisKeyspace }, timeoutMs: number): Promise<{ postgres: DependencyState; redis: DependencyState }> {
  const [postgres, redis] = await Promise.all([probePostgres(deps.sql, timeoutMs), probeRedis(deps.redis, deps.keyspace, timeoutMs)]);
  return { postgres, redis };
}
