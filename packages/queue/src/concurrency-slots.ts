import type { Redis } from 'ioredis';
import { defineLuaCommand, luaCommand } from './scripts.js';

export type SlotAcquisition =
  | { granted: true; inUse: number; room: number }
  | {
      granted: false;
      inUse: number;
      room: number;
      /** ms until the earliest lease or external reduction lapses (an upper bound on the wait; 0 when unknown). */
      waitHintMs: number;
    };

export interface SlotsState {
  limit: number;
  /** Slots held by live leases. */
  inUse: number;
  /** Slots assumed taken by tasks created outside scanq, and for how much longer. */
  external: number;
  externalTtlMs: number;
  /** limit − external − inUse, never below 0. */
  free: number;
  holders: { owner: string; expiresInMs: number }[];
  waiters: { id: string; expiresInMs: number }[];
}

const SCRIPTS = [
  'concurrencySlots-acquire-3.lua',
  'concurrencySlots-renew-1.lua',
  'concurrencySlots-release-3.lua',
  'concurrencySlots-external-1.lua',
  'concurrencySlots-state-3.lua',
] as const;

/**
 * At most `limit` holders at any instant across every process (design: "Quota primitives";
 * Alibaba SAS allows 10 scan tasks in flight per account). A slot is held from task creation
 * until the cloud reports the task finished; each holder has a lease renewed on every poll, so
 * a killed process never strands a slot. Refused callers may leave a waiter id that `release`
 * hands back when room opens, so a freed slot is taken at once instead of at the next retry.
 */
export class ConcurrencySlots {
  private readonly holdersKey: string;
  private readonly externalKey: string;
  private readonly waitersKey: string;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly limit: number,
    readonly leaseMs: number,
  ) {
    for (const f of SCRIPTS) defineLuaCommand(redis, f);
    this.holdersKey = `${key}:holders`;
    this.externalKey = `${key}:external`;
    this.waitersKey = `${key}:waiters`;
  }

  /**
   * Takes a slot for `owner` (a retry by a holder renews it). Refused: records `waiter` (to be
   * named by `release` when room opens) for `waiterTtlMs`.
   */
  async acquire(owner: string, opts: { waiter?: string; waiterTtlMs?: number } = {}): Promise<SlotAcquisition> {
    const [granted, inUse, room, waitHintMs] = (await luaCommand(this.redis, 'concurrencySlots-acquire')(
      this.holdersKey,
      this.externalKey,
      this.waitersKey,
      owner,
      this.limit,
      this.leaseMs,
      opts.waiter ?? '',
      opts.waiterTtlMs ?? this.leaseMs,
    )) as [number, number, number, number];
    return granted === 1 ? { granted: true, inUse, room } : { granted: false, inUse, room, waitHintMs: Math.max(0, waitHintMs) };
  }

  /** Extends `owner`'s lease; returns false when it had lapsed (it is then taken again, even above the limit). */
  async renew(owner: string): Promise<boolean> {
    return (await luaCommand(this.redis, 'concurrencySlots-renew')(this.holdersKey, owner, this.leaseMs)) === 1;
  }

  /** Gives `owner`'s slot back; only the owner's own slot is touched. Returns the waiters to wake. */
  async release(owner: string): Promise<{ released: boolean; wake: string[] }> {
    const [released, ...wake] = (await luaCommand(this.redis, 'concurrencySlots-release')(this.holdersKey, this.externalKey, this.waitersKey, owner, this.limit)) as [number, ...string[]];
    return { released: released === 1, wake };
  }

  /**
   * Records `count` slots taken outside scanq for `holdMs`. Only raises what is recorded,
   * unless `replace` (the cloud reported room: a lower count, or 0 to clear).
   */
  async setExternal(count: number, holdMs: number, replace = false): Promise<number> {
    return Number(await luaCommand(this.redis, 'concurrencySlots-external')(this.externalKey, Math.max(0, Math.floor(count)), holdMs, replace ? 1 : 0));
  }

  async state(): Promise<SlotsState> {
    const [now, external, externalTtlMs, holders, waiters] = (await luaCommand(this.redis, 'concurrencySlots-state')(this.holdersKey, this.externalKey, this.waitersKey)) as [
      number,
      number,
      number,
      string[],
      string[],
    ];
    const pairs = (flat: string[]) => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i] as string, Number(flat[2 * i + 1]) - now] as const);
    const held = pairs(holders).map(([owner, expiresInMs]) => ({ owner, expiresInMs }));
    return {
      limit: this.limit,
      inUse: held.length,
      external,
      externalTtlMs: Math.max(0, externalTtlMs),
      free: Math.max(0, this.limit - external - held.length),
      holders: held,
      waiters: pairs(waiters).map(([id, expiresInMs]) => ({ id, expiresInMs })),
    };
  }

  /** Slots held by live leases right now. */
  async inUse(): Promise<number> {
    return (await this.state()).inUse;
  }
}
