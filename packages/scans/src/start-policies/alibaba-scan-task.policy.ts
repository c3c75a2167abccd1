import { jobIds, ProviderError, type ScanqConfig, isProviderError, queueForProvider } from '@scanq/core';
import type { ImageScan, OpenTasks, ScanWithImages } from '@scanq/db';
import { ConcurrencySlots, RedisKeyspace, type RedisClient } from '@scanq/queue';
import { type AlibabaStartedScan, type ProviderAccount, type ScanProvider } from '@scanq/providers';
import { Queue } from 'bullmq';
import type { GuardedStart } from '../cloud-create.js';
import { type GuardedCreate, type StartOutcome, type StartPolicy, toImageRef } from './start-policy.js';

export interface AlibabaScanTaskPolicyOptions {
  /** Tasks in flight per account (SAS: 10). */
  taskLimit: number;
  /** Slot lease, renewed on every poll; must outlast a poll interval plus stalled-job recovery. */
  slotLeaseMs: number;
  /** Lease of a slot whose task is being created, renewed by the creating process (a dead one's comes back within it). */
  createLeaseMs: number;
  /** Longest wait of a refused start before it asks again (a freed slot wakes it sooner). */
  quotaRetryMs: number;
  /** How long room taken by tasks created outside scanq is assumed to stay taken. */
  externalHoldMs: number;
}

/** How long `wake` waits for an active waiter to park itself: WAKE_ATTEMPTS × WAKE_RETRY_MS. */
/** How long a passed pre-check stands for a scan still waiting for a slot. */
const PRECHECK_VALID_MS = 60 * 60_000;

/** An adapter that can pre-check and create separately (the SAS adapter). */
interface TwoStepStart {
  precheck(account: ProviderAccount, target: Record<string, unknown>): Promise<void>;
  createTask(account: ProviderAccount, target: Record<string, unknown>): Promise<AlibabaStartedScan>;
}
const isTwoStep = (p: ScanProvider): p is ScanProvider & TwoStepStart =>
  typeof (p as Partial<TwoStepStart>).precheck === 'function' && typeof (p as Partial<TwoStepStart>).createTask === 'function';

const WAKE_ATTEMPTS = 20;
const WAKE_RETRY_MS = 25;

/** Wakes a waiting start job (moves it from delayed to waiting); a job that is not delayed is left alone. */
export type WakeJob = (jobId: string) => Promise<void>;

/** The ledger (Postgres) side of the slots: which open scans of an account hold a task at the cloud. */
export interface TaskLedger {
  openTasks(provider: 'alibaba', accountId: string, exceptScanId: string | null): Promise<OpenTasks>;
  /** Records that the account's slots are kept in Redis from now on. */
  markTracked(accountId: string): Promise<void>;
}

/**
 * Alibaba SAS runs at most 10 image scan tasks per account at once. A scan holds one slot of
 * the account's `ConcurrencySlots` from just before PublicCreateImageScanTask until the cloud
 * reports every image of its task final (the lifecycle then calls `release`); every poll
 * renews the lease, so a killed worker's slot lapses instead of being stranded, and any
 * worker can carry on polling (the owner is the scan, not the process).
 *
 * No room: the start job waits (quota_wait) without holding a worker slot, and leaves its job
 * id as a waiter that the next release wakes. The cloud's own signals correct scanq's view
 * when other tools create tasks too: `CanCreate: false` or `BeyondQuata` while scanq holds
 * fewer than the limit records the difference as an external reduction for `externalHoldMs`.
 *
 * Redis is not the ledger: when the slots' state is unknown (Redis lost it while tasks still run
 * at the cloud) the first start to ask rebuilds it from Postgres before any slot is granted.
 */
/** Where an account's slots live (`<this>:<accountId>`): the alibaba queue's hash tag. */
export const alibabaSlotsPrefix = (keyspace: RedisKeyspace) => `${keyspace.quota('alibaba')}:alibaba-slots`;

export class AlibabaScanTaskPolicy implements StartPolicy {
  private readonly slotsByAccount = new Map<string, ConcurrencySlots>();
  private readonly rebuilding = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly options: AlibabaScanTaskPolicyOptions,
    private readonly ledger: TaskLedger,
    private readonly wake: WakeJob = async () => undefined,
  ) {}

  /** The policy as a worker process builds it: slots under the quota prefix, waking through the alibaba queue. */
  static create({ config, redis, quotaRedis = redis, ledger }: { config: ScanqConfig; redis: RedisClient; quotaRedis?: RedisClient; ledger: TaskLedger }): AlibabaScanTaskPolicy {
    const keyspace = new RedisKeyspace(config.queuePrefix);
    let queue: Queue | undefined;
    const wake: WakeJob = async (jobId) => {
      queue ??= new Queue(queueForProvider('alibaba'), { connection: redis, ...keyspace.queueOptions(queueForProvider('alibaba')) });
      // A waiter is recorded while its job is still active, a moment before it parks itself in
      // the delayed set: give it that moment. Only a delayed job can be promoted; a job that is
      // active or waiting asks for a slot on its own anyway.
      for (let attempt = 0; attempt < WAKE_ATTEMPTS; attempt++) {
        const job = await queue.getJob(jobId);
        if (!job) return;
        const state = await job.getState();
        if (state === 'delayed') {
          await job.promote().catch(() => undefined);
          return;
        }
        if (state !== 'active') return;
        await new Promise((r) => setTimeout(r, WAKE_RETRY_MS));
      }
    };
    return new AlibabaScanTaskPolicy(quotaRedis, alibabaSlotsPrefix(keyspace), config.worker.alibaba, ledger, wake);
  }

  /** The account's slots (one key per account: the cloud's limit is per account). */
  slots(accountId: string): ConcurrencySlots {
    let slots = this.slotsByAccount.get(accountId);
    if (!slots) {
      slots = new ConcurrencySlots(this.redis, `${this.keyPrefix}:${accountId}`, this.options.taskLimit, this.options.slotLeaseMs);
      this.slotsByAccount.set(accountId, slots);
    }
    return slots;
  }

  async start(scan: ScanWithImages, images: ImageScan[], account: ProviderAccount, provider: ScanProvider, create: GuardedCreate): Promise<StartOutcome> {
    const target = scan.target as Record<string, unknown>;
    const twoStep = isTwoStep(provider);
    // The pre-check needs no slot: done before taking one, so a freed slot waits only for the
    // create call; remembered for the scan, so a scan waiting for room does not repeat it.
    const precheckedKey = `${this.keyPrefix}:prechecked:${scan.id}`;
    if (twoStep && !(await this.redis.exists(precheckedKey))) {
      await provider.precheck(account, target);
      await this.redis.set(precheckedKey, '1', 'PX', PRECHECK_VALID_MS);
    }
    const slots = this.slots(account.id);
    const waiter = scan.jobId ?? jobIds.start(scan.id);
    const got = await this.takeSlot(slots, scan.id, account.id, { waiter, waiterTtlMs: Math.max(this.options.quotaRetryMs * 3, 60_000) });
    if (!got.granted) {
      const waitMs = got.waitHintMs > 0 ? Math.min(this.options.quotaRetryMs, got.waitHintMs) : this.options.quotaRetryMs;
      throw new ProviderError('quota', 'TaskSlotsFull', `${got.inUse} of ${got.room} Alibaba scan task slot(s) of account ${account.name} in use`, 'quota_wait', waitMs);
    }

    // Every way out of the create step ends the create lease's renewals: one left running would
    // take the slot back every few seconds after the scan released it, for the process's life.
    const creating = this.holdWhileCreating(slots, scan.id);
    let guarded: GuardedStart<AlibabaStartedScan>;
    try {
      guarded = await create(() => (twoStep ? provider.createTask(account, target) : (provider.startScan(account, target, images.map(toImageRef)) as Promise<AlibabaStartedScan>)));
    } catch (err) {
      await creating.taskMayExist();
      throw await this.onStartFailure(scan, slots, got.inUse, err);
    }
    await creating.taskMayExist();
    // A task an earlier attempt made, found at the cloud: it holds the slot just taken; the
    // cloud's room is not known from a look-up.
    if (guarded.adopted) return { taskId: guarded.started.taskId, reused: false };
    const started = guarded.started;

    if (started.canCreate === false) {
      // The cloud is at its limit with this task: whatever scanq does not hold is somebody else's.
      const ours = Math.max(got.inUse, await slots.inUse());
      if (ours < this.options.taskLimit) await slots.setExternal(this.options.taskLimit - ours, this.options.externalHoldMs);
    } else {
      // The cloud has room: any recorded outside use is over (or smaller than assumed).
      await slots.setExternal(0, this.options.externalHoldMs, true);
    }
    return { taskId: started.taskId, reused: false };
  }

  /**
   * A start that failed gives its slot back when no task can exist; otherwise the slot stays
   * with the scan, whose retry takes the same slot again (and whose end gives it back).
   */
  private async onStartFailure(scan: ScanWithImages, slots: ConcurrencySlots, inUseAtAcquire: number, err: unknown): Promise<unknown> {
    // Only the cloud's own refusal (4xx, quota) proves no task exists. Anything else — a 5xx or
    // lost answer, a look-up that failed, an earlier create still settling, another attempt
    // holding the create — may leave a task running under this scan's slot: it stays held.
    const refused = isProviderError(err) && err.kind !== 'retryable';
    if (!refused) return err;
    await this.giveBack(scan.id, slots);
    if (isProviderError(err) && err.code === 'BeyondQuata') {
      // The cloud is full without this task: the tasks scanq does not hold are somebody else's.
      const othersOfOurs = Math.max(inUseAtAcquire, (await slots.inUse()) + 1) - 1;
      if (othersOfOurs < this.options.taskLimit) await slots.setExternal(this.options.taskLimit - othersOfOurs, this.options.externalHoldMs);
      // Wait (quota_wait) for room in scanq's view, never fail.
      return new ProviderError('quota', err.code, err.message, 'quota_wait', this.options.quotaRetryMs);
    }
    return err;
  }

  /**
   * A slot for a task about to be created, with the short create lease (see holdWhileCreating).
   * A state Redis lost is rebuilt from the ledger first, then asked again.
   */
  private async takeSlot(slots: ConcurrencySlots, scanId: string, accountId: string, opts: { waiter: string; waiterTtlMs: number }) {
    const ask = () => slots.acquire(scanId, { ...opts, leaseMs: this.options.createLeaseMs });
    let got = await ask();
    // Twice at most: a state lost again meanwhile waits like a full quota.
    for (let i = 0; i < 2 && !got.granted && got.rebuild; i++) {
      await this.rebuild(slots, accountId, scanId);
      got = await ask();
    }
    return got;
  }

  /**
   * Seeds the account's slots with the scans Postgres says hold a task (one rebuild per account
   * at a time in a process; ConcurrencySlots.seed keeps only the first across processes). When
   * Redis lost slots it once kept while other open scans have no task yet, one of them may be
   * creating it under a slot Redis forgot: nothing is granted for a create lease, in which its
   * process renews that slot back. An account's first use waits for nothing: concurrent first
   * rebuilds all read it untracked, and it is marked tracked before any of them seeds.
   */
  private rebuild(slots: ConcurrencySlots, accountId: string, scanId: string): Promise<void> {
    let running = this.rebuilding.get(accountId);
    if (!running) {
      running = (async () => {
        const { holders, starting, tracked } = await this.ledger.openTasks('alibaba', accountId, scanId);
        if (!tracked) await this.ledger.markTracked(accountId);
        await slots.seed(holders, { settleMs: tracked && starting > 0 ? this.options.createLeaseMs : 0 });
      })().finally(() => this.rebuilding.delete(accountId));
      this.rebuilding.set(accountId, running);
    }
    return running;
  }

  /**
   * Until its task exists a slot has only the create lease, renewed by this process however long
   * the create call runs: a process that dies gives it back within the lease.
   * Once the call answered, or failed so that the task may exist, the slot takes the full lease;
   * a failure that proves no task exists gives it back (giveBack).
   */
  private holdWhileCreating(slots: ConcurrencySlots, owner: string): { taskMayExist(): Promise<void> } {
    const alive = slots.keepAlive(owner, this.options.createLeaseMs);
    return {
      taskMayExist: async () => {
        await alive.stop();
        // Redis failing here: the next poll's heartbeat takes the slot back (renew re-takes a lapsed one).
        await slots.renew(owner).catch(() => undefined);
      },
    };
  }

  async heartbeat(scan: ScanWithImages, account: ProviderAccount): Promise<void> {
    if (!scan.providerTaskId) return;
    await this.slots(account.id).renew(scan.id);
  }

  async release(scan: ScanWithImages, account: ProviderAccount): Promise<void> {
    await this.giveBack(scan.id, this.slots(account.id));
  }

  private async giveBack(owner: string, slots: ConcurrencySlots): Promise<void> {
    const { wake } = await slots.release(owner);
    await Promise.all(wake.map((jobId) => this.wake(jobId).catch(() => undefined)));
  }
}
