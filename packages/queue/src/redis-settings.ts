/**
 * Server settings of the Redis that scanq runs on, as `redis-server` arguments: docker-compose's
 * Redis, the one `pnpm start` starts, and the benches' own use exactly these; on a managed Redis
 * set the same in its parameter group.
 *
 * `hash-max-ziplist-value 256` (Redis 7 reads it as `hash-max-listpack-value`; 6.2 parameter
 * groups know only this name): a BullMQ job is a hash whose `opts` field (~150 B: attempts,
 * backoff, history bounds, the job id again) passes Redis' default 64-byte limit, which turns every
 * job hash from a compact listpack into a hashtable. A scan parked between polls is such a hash
 * for hours: measured 918 B with the default, 504 B with 256 (`MEMORY USAGE`, bench/memory.ts).
 * Reading a 10-field listpack is as quick as a hashtable lookup.
 */
export const REDIS_SERVER_ARGS: readonly string[] = ['--hash-max-ziplist-value', '256'];
