import { isProviderError, isShutdownAbort, type ScanStatus } from '@scanq/core';
import { CALL_DEADLINE, CallDeadline } from '@scanq/core/call-deadline';
import type { CreateIntentRepository } from '@scanq/db';
import type { Job } from '@scanq/queue';
import type { ImageRef, ProviderAccount, ScanProvider, StartedScan } from '@scanq/providers';
import type { Logger } from 'pino';

/**
 * This attempt may no longer act for its scan: its job lock lapsed (a worker stopped, starved
 * or cut off long enough for another to take the job), another attempt recorded its create
 * first, or the scan moved on. It stops without a cloud call and without touching the scan.
 */
export class FencedError extends Error {
  override name = 'FencedError';
}

/**
 * An earlier attempt's create call may still reach the cloud (its worker died or lost its lock
 * mid-call, or Postgres went away before the answer was recorded): wait until every call that
 * attempt could have made is over, then look the task up before creating one.
 */
export class CreateSettling extends Error {
  override name = 'CreateSettling';
  constructor(
    readonly waitMs: number,
    readonly intentAt: Date,
  ) {
    super(`an earlier create call (sent ${intentAt.toISOString()}) may still reach the cloud: looking its task up in ${Math.ceil(waitMs / 1000)} s`);
  }
}

export interface CloudCreateOptions {
  /** A create call's hard end after its intent was claimed: its requests are cut and their connections reset then. */
  timeoutMs: number;
  /** How long after its intent a create call is surely over: `timeoutMs` plus margin (a late timer, the cloud's lists catching up). */
  settleMs: number;
  /** Looked-up tasks may have started this much before the intent's time (cloud vs Postgres clocks). */
  lookupSkewMs: number;
  /** The job lock's duration: a fence check renews the lock for this long. */
  lockMs: number;
}

/** What a guarded create hands back: the created task, or one the cloud already had for this scan. */
export type GuardedStart<T extends StartedScan> = { started: T; adopted: false } | { started: StartedScan; adopted: true };

/**
 * Exactly one cloud task per scan (design: "Side effects at the cloud, exactly once"). A create
 * call goes: fence (the job lock is still ours) → intent recorded in Postgres (compare-and-set:
 * one attempt of many wins) → fence again → call → the lifecycle records the task. A retry that
 * finds an intent without a task asks the cloud (`findStartedScan`) and adopts what it finds;
 * when it finds none while the earlier call may still be in flight, it waits for that call to
 * settle and asks again before creating.
 *
 * "Surely over" is made true, not hoped for: the call runs under a `CallDeadline` of `timeoutMs`
 * from just before its claim, which cuts its requests and resets their connections, so a host
 * cut off the network mid-call cannot deliver the create when it comes back, after a retry
 * elsewhere created the task (its kernel would, from an orphaned socket, for minutes).
 */
export class CloudCreateGuard {
  private readonly owner: string;

  constructor(
    private readonly intents: CreateIntentRepository,
    private readonly job: Job,
    private readonly token: string | undefined,
    private readonly scanId: string,
    private readonly active: readonly ScanStatus[],
    private readonly options: CloudCreateOptions,
    private readonly log: Logger,
  ) {
    this.owner = token ?? `job:${job.id}:${job.attemptsMade}`;
  }

  async run<T extends StartedScan>(
    lookup: { provider: ScanProvider; account: ProviderAccount; target: Record<string, unknown>; images: ImageRef[] },
    call: () => Promise<T>,
  ): Promise<GuardedStart<T>> {
    // Fence, then claim when no intent is outstanding — the common case, one statement that
    // also reads the intent when there is one, so a first attempt costs one round trip, not two.
    await this.fence();
    // Taken before the claim's round trip: no earlier than the intent's time bar clock skew.
    let claimSentAt = Date.now();
    const first = await this.intents.claimIfNone(this.scanId, this.owner, this.active);
    let at = first.claimedAt;
    if (!at) {
      const { intent } = first;
      if (!intent || !this.active.includes(intent.status) || intent.providerTaskId) throw new FencedError(`scan ${this.scanId} moved on (${intent?.status ?? 'gone'})`);
      if (!intent.at) throw new FencedError(`another attempt recorded a create for scan ${this.scanId} first`);
      // Look first: a task the earlier call made is adopted at once (its slot then works, not
      // idles). Finding none proves nothing while that call may still reach the cloud: wait for
      // it to settle, then look again before creating.
      const since = new Date(intent.at.getTime() - this.options.lookupSkewMs);
      const found = await lookup.provider.findStartedScan(lookup.account, lookup.target, lookup.images, since);
      if (found) {
        this.log.info({ scanId: this.scanId, taskId: found.taskId, intentAt: intent.at }, 'adopted the task an earlier create call made');
        return { started: found, adopted: true };
      }
      if (intent.owner && intent.ageMs < this.options.settleMs) throw new CreateSettling(this.options.settleMs - intent.ageMs, intent.at);
      await this.fence();
      claimSentAt = Date.now();
      at = await this.intents.claim(this.scanId, this.owner, intent.at, this.active);
      if (!at) throw new FencedError(`another attempt recorded a create for scan ${this.scanId} first`);
    }
    // The claim took a round trip: a stop just before it must not send the call.
    await this.fence();
    const deadline = new CallDeadline(claimSentAt + this.options.timeoutMs, `the create call of scan ${this.scanId}`);
    try {
      return { started: await deadline.run(call), adopted: false };
    } catch (err) {
      // A refusal the cloud answered (4xx, quota) created nothing: the next attempt need not look;
      // nor when the deadline came before any request left (a long rate-gate wait, a slow fence).
      // Another answer (a 5xx) may hide a task: the next attempt looks it up at once, since the
      // call is over. A timeout, a lost connection or a cut at shutdown leaves the cloud perhaps
      // still at work: the intent keeps its owner and the next attempt waits for it to settle.
      const unsent = isProviderError(err) && err.code === CALL_DEADLINE && deadline.sentNothing;
      const refused = unsent || (isProviderError(err) && err.kind !== 'retryable');
      const over = refused || (isProviderError(err) && err.answered && !isShutdownAbort(err));
      if (over) {
        await (refused ? this.intents.clear(this.scanId, at) : this.intents.answered(this.scanId, this.owner)).catch((e: unknown) =>
          this.log.warn({ scanId: this.scanId, err: (e as Error).message }, 'could not record how a create call ended; the next attempt waits for it'),
        );
      }
      throw err;
    }
  }

  /** The job's lock is still this attempt's (BullMQ's token), renewed for another lock period. */
  private async fence(): Promise<void> {
    if (!this.token) return;
    if (!(await this.job.extendLock(this.token, this.options.lockMs))) throw new FencedError(`job ${this.job.id} lost its lock`);
  }
}
