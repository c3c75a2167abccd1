import type { RedisClient } from './connection.js';
import { defineLuaCommand, luaCommand } from './scripts.js';

export type WindowClaim =
  | { claimed: true; opensInMs: number }
  | { claimed: false; opensInMs: number; holder: string };

/** The holder recorded for a scan the cloud ran on its own (scan-on-push). */
export const CLOUD_HOLDER = 'cloud';

/**
 * At most one scan start per key per window, across every worker process (AWS ECR: one
 * StartImageScan per image per 24 h). Redis holds the claim; callers also record it in
 * Postgres so a Redis loss never reopens a window early.
 */
export class ScanOnceWindow {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    readonly windowMs: number,
  ) {
    for (const f of ['scanOnceWindow-claim-1.lua', 'scanOnceWindow-seed-1.lua', 'deleteIfOwner-1.lua']) defineLuaCommand(redis, f);
  }

  key(parts: readonly string[]): string {
    return `${this.keyPrefix}:${parts.join(':')}`;
  }

  /** Claims the window for `owner`; a retry by the same owner is claimed again. */
  async claim(parts: readonly string[], owner: string): Promise<WindowClaim> {
    const [claimed, ttl, holder] = (await luaCommand(this.redis, 'scanOnceWindow-claim')(this.key(parts), owner, this.windowMs)) as [number, number, string];
    return claimed === 1 ? { claimed: true, opensInMs: Math.max(0, ttl) } : { claimed: false, opensInMs: Math.max(0, ttl), holder };
  }

  /** Records a scan that happened at `at` (ms epoch) without a claim; keeps the later expiry. */
  async seed(parts: readonly string[], at: number, holder = CLOUD_HOLDER, now = Date.now()): Promise<void> {
    const opensIn = at + this.windowMs - now;
    if (opensIn <= 0) return;
    await luaCommand(this.redis, 'scanOnceWindow-seed')(this.key(parts), holder, Math.ceil(opensIn));
  }

  async release(parts: readonly string[], owner: string): Promise<boolean> {
    return (await luaCommand(this.redis, 'deleteIfOwner')(this.key(parts), owner)) === 1;
  }

  /** ms until the window opens (0 when open). */
  async opensIn(parts: readonly string[]): Promise<number> {
    return Math.max(0, await this.redis.pttl(this.key(parts)));
  }
}
