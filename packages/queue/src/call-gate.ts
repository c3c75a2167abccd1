import { type Provider, ProviderError } from '@scanq/core';
import { CALL_DEADLINE, CallDeadline } from '@scanq/core/call-deadline';
import type { RedisClient } from './connection.js';
import { replicaAckOf } from './replica-ack.js';
import { type PacerState, SlidingWindowPacer } from './sliding-window-pacer.js';

/** One cloud API of one account: the unit a cloud's request rate limit counts. */
export interface CallKey {
  provider: Provider;
  accountId: string;
  api: string;
}

/** A provider's request limit: at most `limit` calls per API per account in any 1000 ms at the cloud. */
export interface CallRate {
  limit: number;
  /**
   * Extra ms the workers' window is longer than the cloud's: it absorbs how much later one call
   * may reach the cloud than another (latency spread) plus a caller's lateness (`slackMs`).
   */
  marginMs: number;
  /** How late after its reserved time a call may still go (default a third of the margin). */
  slackMs?: number;
}

export interface CallGateStats {
  /** Calls let through. */
  granted: number;
  /** Reservations given up because the caller woke too late for them (they stay counted). */
  abandoned: number;
  /** Total ms callers waited. */
  waitedMs: number;
}

/** Calls per provider and account that count as cold in a process, and how much later they may arrive. */
const COLD_CALLS = 3;
const COLD_SPAN_MS = 500;

/** Ceiling of the lead a reservation is given for its replica confirmation (see `acquire`). */
const MAX_ACK_LEAD_MS = 500;
/** Where nothing is measured yet: a slack's worth (a first burst answered past its slack would all be given up). */
const INITIAL_ACK_ROUND_TRIP_MS = 100;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The worker's `CallGate` (providers' contract): before each cloud call an adapter awaits
 * `acquire`, which reserves a departure time from the `SlidingWindowPacer` of that provider +
 * account + API (at most `limit` per 1000 + marginMs ms) and waits for it. Providers without a
 * configured rate pass straight through.
 *
 * Why this holds at the cloud: a call leaves within `slackMs` after its reserved time and takes
 * between the fastest and slowest latency to arrive, so any `limit` + 1 calls arrive at least
 * 1000 + margin − slack − (latency spread) ms apart: ≥ 1000 while margin ≥ slack + spread.
 *
 * Lateness is judged with this process's monotonic clock only: the reserved time is no earlier
 * than (request sent + wait), so a call never goes before it (the wait counts from the answer)
 * and one that wakes more than `slackMs` after (request sent + wait) — a stalled event loop, a
 * starved machine — gives its reservation up (still counted: conservative) and reserves again.
 */
export class PacedCallGate {
  private readonly pacers = new Map<string, SlidingWindowPacer>();
  private readonly counters: CallGateStats = { granted: 0, abandoned: 0, waitedMs: 0 };
  private readonly callsByClient = new Map<string, number>();
  /** Smoothed ms from asking for a reservation to holding it, where replicas must confirm it first (unused otherwise). */
  private ackRoundTripMs = INITIAL_ACK_ROUND_TRIP_MS;

  constructor(
    private readonly redis: RedisClient,
    /**
     * Where a provider's pacers live (`<prefix>:<accountId>:<api>`): a function of the provider
     * (RedisKeyspace.callPace: the provider's hash tag), or one namespace (`<ns>:<provider>`).
     */
    private readonly keyPrefix: string | ((provider: Provider) => string),
    private readonly rates: Partial<Record<Provider, CallRate>>,
    private readonly options: { /** Calls per provider and account treated as cold (default 3). */ coldCalls?: number } = {},
  ) {}

  /** The pacer behind a call key, or null when its provider is not rate limited. */
  pacer(key: CallKey): SlidingWindowPacer | null {
    const rate = this.rates[key.provider];
    if (!rate) return null;
    const prefix = typeof this.keyPrefix === 'string' ? `${this.keyPrefix}:${key.provider}` : this.keyPrefix(key.provider);
    const name = `${prefix}:${key.accountId}:${key.api}`;
    let pacer = this.pacers.get(name);
    if (!pacer) {
      pacer = new SlidingWindowPacer(this.redis, name, rate.limit, 1000 + rate.marginMs);
      this.pacers.set(name, pacer);
    }
    return pacer;
  }

  async acquire(key: CallKey): Promise<void> {
    const pacer = this.pacer(key);
    if (!pacer) return;
    const rate = this.rates[key.provider]!;
    const slackMs = rate.slackMs ?? Math.round(rate.marginMs / 3);
    // A cold client's first calls (SDK set-up, first connection, code not yet optimized) may
    // reach the cloud far later than the margin allows: their reservation spans that time.
    const warmth = `${key.provider}:${key.accountId}`;
    const calls = this.callsByClient.get(warmth) ?? 0;
    this.callsByClient.set(warmth, calls + 1);
    const spanMs = calls < (this.options.coldCalls ?? COLD_CALLS) ? COLD_SPAN_MS : 0;
    const started = performance.now();
    // Where replicas must confirm a reservation (WAIT), it is answered that much later: reserve
    // that far ahead (1.5 × the smoothed round trip), or every reservation due now would be
    // answered past its slack and given up. Standalone: no lead.
    const confirmed = replicaAckOf(this.redis) !== undefined;
    const deadline = CallDeadline.current();
    for (;;) {
      const asked = performance.now();
      const leadMs = confirmed ? Math.min(MAX_ACK_LEAD_MS, Math.ceil(1.5 * this.ackRoundTripMs)) : 0;
      // A call with a hard end (a create) waits at most half its time left, leaving the rest to the call itself.
      const maxWaitMs = deadline ? Math.max(0, Math.floor(deadline.remainingMs() / 2)) : -1;
      const grant = await pacer.reserve(spanMs, leadMs, maxWaitMs);
      if (!grant.reserved) {
        // Nothing reserved, nothing sent: the caller's job waits for the turn without spending an attempt.
        throw new ProviderError('quota', CALL_DEADLINE, `${key.api} rate gate: the next turn is ${grant.waitMs} ms away, more than half the time this call has left`, 'quota_wait', grant.waitMs);
      }
      // The wait counts from Redis's answer to the reservation itself (the time was fixed before it), not from the replicas' confirmation.
      const answered = grant.answeredAt;
      // A sample is capped: a failover's pause (seconds without a replica) is no round trip.
      const held = Math.min(MAX_ACK_LEAD_MS, performance.now() - asked);
      if (confirmed) this.ackRoundTripMs = 0.8 * this.ackRoundTripMs + 0.2 * held;
      for (let left = grant.waitMs; left > 0; left = grant.waitMs - (performance.now() - answered)) await sleep(Math.ceil(left));
      if (performance.now() - asked - grant.waitMs <= slackMs) {
        this.counters.granted += 1;
        this.counters.waitedMs += performance.now() - started;
        return;
      }
      this.counters.abandoned += 1;
    }
  }

  stats(): CallGateStats {
    return { ...this.counters };
  }

  /** The pacers this process has used, as Redis sees them now. */
  async inspect(): Promise<PacerState[]> {
    return Promise.all([...this.pacers.values()].map((p) => p.inspect()));
  }
}
