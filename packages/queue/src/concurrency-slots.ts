import type { RedisClient } from './connection.js';
import { replicatedWrite } from './replica-ack.js';
import { defineLuaCommand, luaCommand } from './scripts.js';

export type SlotAcquisition =
  | { granted: true; inUse: number; room: number }
  | {
      granted: false;
      inUse: number;
      room: number;
      /** ms until the earliest lease or external reduction lapses (an upper bound on the wait; 0 when unknown). */
      waitHintMs: number;
      /** The state is unknown (new, or lost with Redis): `seed` it from the ledger, then acquire again. */
      rebuild: boolean;
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
  'concurrencySlots-acquire-4.lua',
  'concurrencySlots-renew-1.lua',
  'concurrencySlots-release-5.lua',
  'concurrencySlots-seed-3.lua',
  'concurrencySlots-external-1.lua',
  'concurrencySlots-state-3.lua',
] as const;

/**
 * At most `limit` holders at any instant across every process (design: "Quota primitives";
 * Alibaba SAS allows 10 scan tasks in flight per account). A slot is held from task creation
 * until the cloud reports the task finished; each holder has a lease renewed on every poll, so
 * a killed process never strands a slot. Refused callers may leave a waiter id that `release`
 * hands back when room opens, so a freed slot is taken at once instead of at the next retry.
 *
 * Redis is not the ledger: a marker key says the holders are the whole truth. Without it (a new
 * account, or Redis lost its data while tasks still run at the cloud) `acquire` grants nothing
 * and answers `rebuild`: the caller `seed`s the holders the ledger knows, and acquires again.
 */
export class ConcurrencySlots {
  private readonly holdersKey: string;
  private readonly externalKey: string;
  private readonly waitersKey: string;
  private readonly knownKey: string;
  private readonly releasedKey: string;

  constructor(
    private readonly redis: RedisClient,
    readonly key: string,
    readonly limit: number,
    readonly leaseMs: number,
  ) {
    for (const f of SCRIPTS) defineLuaCommand(redis, f);
    this.holdersKey = `${key}:holders`;
    this.externalKey = `${key}:external`;
    this.waitersKey = `${key}:waiters`;
    this.knownKey = `${key}:known`;
    this.releasedKey = `${key}:released`;
  }

  /**
   * Takes a slot for `owner` (a retry by a holder renews it) with a lease of `leaseMs` (default
   * the slots' lease). Refused: records `waiter` (to be named by `release` when room opens) for
   * `waiterTtlMs`. Answers `rebuild` while the state is unknown.
   */
  async acquire(owner: string, opts: { waiter?: string; waiterTtlMs?: number; leaseMs?: number } = {}): Promise<SlotAcquisition> {
    const acquire = luaCommand(this.redis, 'concurrencySlots-acquire');
    const args = [this.holdersKey, this.externalKey, this.waitersKey, this.knownKey, owner, this.limit, opts.leaseMs ?? this.leaseMs, opts.waiter ?? '', opts.waiterTtlMs ?? this.leaseMs];
    // On a replicated topology a slot counts once replicas hold it (a promoted replica would
    // grant it again); one left unconfirmed is given back. A repeat by the owner only renews.
    const [granted, inUse, room, waitHintMs] = await replicatedWrite(this.redis, this.holdersKey, () => acquire(...args) as Promise<[number, number, number, number]>, {
      grants: ([got]) => got === 1,
      undo: () => this.release(owner),
    });
    return granted === 1 ? { granted: true, inUse, room } : { granted: false, inUse, room, waitHintMs: Math.max(0, waitHintMs), rebuild: granted === -1 };
  }

  /**
   * Rebuilds a lost state: `owners` (whose tasks the ledger says still run) hold slots for the
   * full lease, then the state is known; nothing is granted for `settleMs` more (starts in flight
   * renew their slots back meanwhile). Only the first rebuild counts; owners released while the
   * state was unknown are left out. Returns whether this call rebuilt it.
   */
  async seed(owners: readonly string[], opts: { settleMs?: number } = {}): Promise<{ rebuilt: boolean; seeded: number }> {
    const [rebuilt, seeded] = (await luaCommand(this.redis, 'concurrencySlots-seed')(this.holdersKey, this.knownKey, this.releasedKey, this.leaseMs, opts.settleMs ?? 0, ...owners)) as [number, number];
    return { rebuilt: rebuilt === 1, seeded };
  }

  /** Extends `owner`'s lease to `leaseMs` from now (never shortens it); returns false when it had lapsed (it is then taken again, even above the limit). */
  async renew(owner: string, leaseMs = this.leaseMs): Promise<boolean> {
    return (await luaCommand(this.redis, 'concurrencySlots-renew')(this.holdersKey, owner, leaseMs)) === 1;
  }

  /**
   * Renews `owner`'s lease of `leaseMs` every third of it until `stop` (which waits for a renewal
   * in flight, so none lands after the caller's next step): a short lease held while a live
   * process works, lapsing soon after the process dies.
   */
  keepAlive(owner: string, leaseMs: number): { stop(): Promise<void> } {
    let inFlight: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      inFlight = this.renew(owner, leaseMs).catch(() => undefined);
    }, Math.max(50, Math.floor(leaseMs / 3)));
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await inFlight;
      },
    };
  }

  /** Gives `owner`'s slot back; only the owner's own slot is touched. Returns the waiters to wake. */
  async release(owner: string): Promise<{ released: boolean; wake: string[] }> {
    const [released, ...wake] = (await luaCommand(this.redis, 'concurrencySlots-release')(this.holdersKey, this.externalKey, this.waitersKey, this.knownKey, this.releasedKey, owner, this.limit, this.leaseMs)) as [
      number,
      ...string[],
    ];
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
