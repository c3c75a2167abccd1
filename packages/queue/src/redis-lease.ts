import { randomUUID } from 'node:crypto';
import type { RedisClient } from './connection.js';
import { defineLuaCommand, luaCommand } from './scripts.js';

/**
 * An owner-only lock with a time-to-live: taken with SET NX PX, extended and released only by
 * the token that took it. A holder that dies lets go when the time-to-live lapses; a holder that
 * works on keeps it with `keepAlive`.
 */
export class RedisLease {
  private renewal: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    private readonly token: string,
    private readonly ttlMs: number,
  ) {}

  /** The lease, or null while another holder has it. */
  static async acquire(redis: RedisClient, key: string, ttlMs: number): Promise<RedisLease | null> {
    const token = `${process.pid}-${randomUUID()}`;
    if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return null;
    for (const f of ['redisLease-renew-1.lua', 'deleteIfOwner-1.lua']) defineLuaCommand(redis, f);
    return new RedisLease(redis, key, token, ttlMs);
  }

  /** Extends the lease every third of its time-to-live until it is released. */
  keepAlive(): this {
    const renew = luaCommand(this.redis, 'redisLease-renew');
    this.renewal = setInterval(() => void renew(this.key, this.token, this.ttlMs).catch(() => undefined), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.renewal.unref();
    return this;
  }

  async release(): Promise<void> {
    clearInterval(this.renewal);
    await luaCommand(this.redis, 'deleteIfOwner')(this.key, this.token);
  }
}
