import { BULK_JOB_PRIORITY, dependencyOutage, type ImageScanStatus, type JobPayloads, type NormalizedFinding, type Provider, ProviderError, type ScanReason, isProviderError, isShutdownAbort, isTerminalScanStatus, jobIds, queueForProvider } from '@scanq/core';
import { type AccountRepository, type CloudAccount, type CreateIntentRepository, type ImageCompletion, type ImageScan, type ScanEnd, type ScanRepository, type ScanStart, type ScanWithImages, type StreamEvent } from '@scanq/db';
import { DelayedError, type Job, type QueueRepository, UnrecoverableError } from '@scanq/queue';
import type { FindingsPage, ProviderAccount, ScanProgress, ScanProvider } from '@scanq/providers';
import type { Logger } from 'pino';
import type { AccountResolver } from './account-resolver.js';
import { CloudCreateGuard, type CloudCreateOptions, CreateSettling, FencedError } from './cloud-create.js';
import { DirectStartPolicy, type GuardedCreate, type StartPolicy, toImageRef } from './start-policies/start-policy.js';

export interface LifecycleOptions {
  pollInitialMs: number;
  pollMaxMs: number;
  pollFactor: number;
  /** Polls tolerated while a reused scan is not visible yet (another worker is starting it). */
  maxScanNotFoundPolls?: number;
  /** Exactly-once cloud creates (see CloudCreateGuard). */
  create: CloudCreateOptions;
  /** How long a job waits while Postgres is unreachable before it tries again (no attempt spent). */
  outageRetryMs: number;
}

export interface LifecycleListeners {
  /**
   * A scan reached a terminal state (bulk scans use it to notice their last scan). `recorded`:
   * the statement that ended it also recorded its `scan.completed` outbox row (`endEvent`) —
   * that row, or null when the row was there already; absent when the end recorded none.
   */
  onScanEnded?(scan: ScanWithImages, recorded?: { event: StreamEvent | null }): Promise<void>;
  /** The outbox row a scan's last completion records with its end (ScanEnd.event); null: none. */
  endEvent?(scan: ScanWithImages): Promise<{ account: string } | null>;
  /** A start waits for quota (quota_wait): the worker's /metrics counts these per provider and code. */
  onQuotaWait?(scan: ScanWithImages, code: string): void;
}

const ACTIVE = ['queued', 'quota_wait', 'running', 'retrying'] as const;

/** Postgres or Redis unreachable (a cloud's own connection failures arrive as ProviderError and are the adapter's to classify). */
const isOutage = (err: unknown): boolean => !isProviderError(err) && dependencyOutage(err) !== null;

/** Progress of the slowest image still scanning when every one reports some, else the task's. */
function slowestPercent(progress: ScanProgress): number {
  const scanning = progress.images.filter((i) => i.state === 'scanning');
  if (scanning.length === 0 || scanning.some((i) => !i.progress)) return progress.progress;
  return Math.min(...scanning.map((i) => i.progress!));
}
/** Images whose findings are fetched at once when a poll finds many finished. */
const FINDINGS_FETCH_PARALLEL = 8;

/**
 * The first look inside the start job, before the start is recorded: it records the start as
 * soon as it knows the scan is not over, or folds it into the end's statement when it is.
 */
interface FirstLook {
  start: ScanStart;
  /** markStarted; false when the scan left its active states meanwhile (cancelled, timed out). */
  record(): Promise<boolean>;
  recorded: boolean;
}

/**
 * A scan's path through the queue (design: "A scan's path"): `scan.start` asks the quota and
 * starts (or reuses) the cloud scan, `scan.poll` follows it, parking itself between polls
 * (moveToDelayed + DelayedError: no worker ever waits on a cloud), then stores findings and
 * finishes the scan. Errors reach BullMQ so attempts, backoff and the failed set work; the
 * scan's row always says where it is (queued, quota_wait, running, retrying, or terminal).
 */
export class ScanLifecycleService {
  constructor(
    private readonly scans: ScanRepository,
    private readonly intents: CreateIntentRepository,
    private readonly accounts: AccountRepository,
    private readonly accountResolver: AccountResolver,
    private readonly queues: QueueRepository,
    private readonly providers: Partial<Record<Provider, ScanProvider<any>>>,
    private readonly policies: Partial<Record<Provider, StartPolicy>>,
    private readonly options: LifecycleOptions,
    private readonly log: Logger,
    private readonly listeners: LifecycleListeners = {},
  ) {}

  private provider(p: Provider): ScanProvider {
    const provider = this.providers[p];
    if (!provider) throw new ProviderError('terminal', 'ProviderNotAvailable', `no adapter for ${p} in this build`, 'provider_error');
    return provider;
  }

  private policy(p: Provider): StartPolicy {
    return this.policies[p] ?? new DirectStartPolicy();
  }

  /** The scan and its stored account; the account's credentials are resolved in the handler, so a worker lacking them retries (onError) rather than failing the scan. */
  private async load(scanId: string): Promise<{ scan: ScanWithImages; stored: CloudAccount } | null> {
    const scan = await this.scans.get(scanId);
    if (!scan || isTerminalScanStatus(scan.status)) return null;
    if (scan.deadlineAt.getTime() <= Date.now()) {
      await this.timeOut(scan);
      return null;
    }
    const stored = await this.accounts.get(scan.accountId);
    if (!stored) throw new UnrecoverableError(`account ${scan.accountId} of scan ${scan.id} is gone`);
    return { scan, stored };
  }

  async timeOut(scan: ScanWithImages): Promise<void> {
    await this.end(scan, 'failed', { reason: 'timed_out', error: `no result before the deadline ${scan.deadlineAt.toISOString()}` });
  }

  async handleStart(job: Job<JobPayloads['scan.start']>, token: string | undefined): Promise<void> {
    await this.throughOutages(job, token, () => this.start(job, token));
  }

  async handlePoll(job: Job<JobPayloads['scan.poll']>, token: string | undefined): Promise<void> {
    await this.throughOutages(job, token, () => this.poll(job, token));
  }

  /**
   * Postgres or Redis unreachable says nothing about the scan: the job waits and tries again without
   * spending one of its attempts (BullMQ counts only failures), so an outage of any length
   * costs time, never a scan.
   */
  private async throughOutages(job: Job, token: string | undefined, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (err instanceof DelayedError || !isOutage(err)) throw err;
      this.log.warn({ jobId: job.id, err: (err as Error).message }, `${dependencyOutage(err)} unreachable: the job waits without spending an attempt`);
      await job.moveToDelayed(Date.now() + this.options.outageRetryMs, token);
      throw new DelayedError();
    }
  }

  private async start(job: Job<JobPayloads['scan.start']>, token: string | undefined): Promise<void> {
    const loaded = await this.load(job.data.scanId).catch((err) => this.failIfFinal(job.data.scanId, err));
    if (!loaded) return;
    const { scan, stored } = loaded;
    try {
      const account = this.accountResolver.resolve(stored);
      const provider = this.provider(scan.provider);
      let images = scan.images;
      if (images.length === 0) {
        const refs = await provider.resolveImages(account, scan.target as Record<string, unknown>);
        // Stored once per scan: another start of this scan running beside this one (a job the
        // reconciler re-added, a lock taken over) may have stored them first; its images are used.
        const stored = await this.scans.addResolvedImages(scan.id, refs.map((r) => ({ ...r, status: 'pending' as const })), ACTIVE);
        // Cancelled (or timed out) while its images were resolved: nothing reaches the cloud.
        if (!stored) return;
        images = stored;
      }
      const guard = new CloudCreateGuard(this.intents, job, token, scan.id, ACTIVE, this.options.create, this.log);
      const lookup = { provider, account, target: scan.target as Record<string, unknown>, images: images.map(toImageRef) };
      const create: GuardedCreate = (call) => guard.run(lookup, call);
      const outcome = await this.policy(scan.provider).start({ ...scan, images }, images, account, provider, create);
      const pollJobId = jobIds.poll(scan.id);
      const start: ScanStart = { providerTaskId: outcome.taskId, startedAt: scan.startedAt ?? new Date(), attempts: job.attemptsMade + 1, jobId: pollJobId, reused: outcome.reused };
      const first: FirstLook = {
        start,
        recorded: false,
        record: async () => {
          const { reused, ...fields } = start;
          const moved = await this.scans.markStarted(scan.id, ACTIVE, { ...fields, status: 'running', reason: outcome.reason ?? null, error: null, nextPollAt: new Date(Date.now() + this.options.pollInitialMs) }, reused);
          // Only once written: a failed markStarted inside the first look leaves it to the caller.
          first.recorded = true;
          return moved;
        },
      };
      let pollCount = 0;
      let delay = this.options.pollInitialMs;
      if (delay === 0) {
        // No wait configured before the first look: look now, inside this job. A reused scan
        // (scan-on-push) or an instant one then records its start and its end in one statement,
        // without a second job. Any error here is left to the poll job, which owns poll failures.
        const running = { ...scan, status: 'running' as const, startedAt: start.startedAt, providerTaskId: outcome.taskId, reason: outcome.reason ?? null, images: images.map((i) => ({ ...i, status: 'scanning' as const, reused: i.reused || outcome.reused })) };
        const looked = await this.pollOnce(running, account, 0, first).catch((err: unknown) => {
          this.log.debug({ scanId: scan.id, err }, 'first poll failed; the poll job takes over');
          return undefined;
        });
        if (looked?.done) return;
        pollCount = 1;
        delay = looked?.hintMs ?? this.backoff(1);
      }
      if (!first.recorded && !(await first.record())) return; // cancelled or timed out meanwhile
      await this.queues.add(queueForProvider(scan.provider), 'scan.poll', { scanId: scan.id, pollCount }, { jobId: pollJobId, delay, ...(scan.bulkScanId ? { priority: BULK_JOB_PRIORITY } : {}) });
    } catch (err) {
      await this.onError(job, token, scan, err);
    }
  }

  private async poll(job: Job<JobPayloads['scan.poll']>, token: string | undefined): Promise<void> {
    const loaded = await this.load(job.data.scanId).catch((err) => this.failIfFinal(job.data.scanId, err));
    if (!loaded) return;
    const { scan, stored } = loaded;
    try {
      const looked = await this.pollOnce(scan, this.accountResolver.resolve(stored), job.data.pollCount);
      if (!looked.done) await this.park(job, token, scan, looked.progress, looked.hintMs);
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      await this.onError(job, token, scan, err);
    }
  }

  /**
   * One look at the cloud: stores what finished (findings in one batched transaction) and
   * progress for the rest; ends the scan when nothing is left open.
   */
  private async pollOnce(scan: ScanWithImages, account: ProviderAccount, pollCount: number, first?: FirstLook): Promise<{ done: true } | { done: false; progress: number; hintMs?: number }> {
    const provider = this.provider(scan.provider);
    await this.policies[scan.provider]?.heartbeat?.(scan, account);
    const open = scan.images.filter((i) => i.status === 'pending' || i.status === 'scanning');
    const settled = new Map<string, { status: ImageScanStatus; reason: string | null }>(scan.images.map((i) => [i.id, { status: i.status, reason: i.reason }]));
    if (open.length > 0) {
      const progress = await this.pollTolerant(provider, account, scan, open, pollCount);
      // The cloud reports every image final: its task is over, so its quota (an Alibaba slot)
      // goes back now, before findings are fetched and stored (release is owner-only, idempotent).
      if (progress.images.every((p) => p.state !== 'scanning')) await this.releaseQuota(scan);
      const scanning: { imageScanId: string; progress?: number; raw?: unknown }[] = [];
      const completions: ImageCompletion[] = [];
      const succeeded: { image: ImageScan; raw: unknown; firstPage?: FindingsPage }[] = [];
      for (const p of progress.images) {
        const image = open[p.index];
        if (!image) continue;
        if (p.state === 'scanning') {
          if (image.status !== 'scanning' || (p.progress !== undefined && p.progress !== image.progress)) {
            scanning.push({ imageScanId: image.id, ...(p.progress !== undefined ? { progress: p.progress } : {}), ...(p.raw !== undefined ? { raw: p.raw } : {}) });
          }
        } else if (p.state === 'failed') {
          completions.push({ imageScanId: image.id, status: 'failed', reason: p.reason ?? 'scan_failed', raw: p.raw, findings: [] });
          settled.set(image.id, { status: 'failed', reason: p.reason ?? 'scan_failed' });
        } else {
          succeeded.push({ image, raw: p.raw, firstPage: p.firstPage });
          settled.set(image.id, { status: 'succeeded', reason: null });
        }
      }
      // A first look that leaves images open records the start now, before fetching findings,
      // so a crash cannot lose which cloud task runs; one that settles them all folds it below.
      if (first && completions.length + succeeded.length < open.length && !(await first.record())) return { done: true };
      // Findings of every finished image, a few images at a time (each is its own page chain).
      for (let i = 0; i < succeeded.length; i += FINDINGS_FETCH_PARALLEL) {
        const batch = await Promise.all(
          succeeded.slice(i, i + FINDINGS_FETCH_PARALLEL).map(async (s) => {
            const { findings, scanCompletedAt } = await this.collectFindings(provider, account, s.image, s.firstPage);
            return { imageScanId: s.image.id, status: 'succeeded' as const, scanCompletedAt: scanCompletedAt ?? new Date(), raw: s.raw, findings };
          }),
        );
        completions.push(...batch);
      }
      const stillScanning = open.length - completions.length;
      if (stillScanning > 0) {
        await Promise.all([this.scans.updateImagesProgress(scanning), this.scans.completeImages(scan.id, completions)]);
        const done = scan.images.length - stillScanning;
        return { done: false, progress: Math.floor((done / scan.images.length) * 100), hintMs: progress.nextPollMs ?? this.paceHint(scan, slowestPercent(progress), pollCount) };
      }
      // The last open images settled: their results and the scan's end (and on a first look
      // its start) in one statement.
      // Its outbox event too: the end and its event commit together.
      const end = this.outcome(scan, settled);
      const event = (await this.listeners.endEvent?.(scan)) ?? null;
      const { ended, event: recorded } = await this.scans.completeImagesEnding(scan.id, completions, {
        ...end,
        ...(first && !first.recorded ? { start: first.start } : {}),
        ...(event ? { event } : {}),
      });
      if (first) first.recorded = true; // as in record(): only once written
      await this.afterEnd(scan, ended, true, event ? { event: recorded } : undefined);
      return { done: true };
    }
    if (first && !first.recorded && !(await first.record())) return { done: true };
    const end = this.outcome(scan, settled);
    await this.end(scan, end.status, end, true);
    return { done: true };
  }

  /** How a scan whose images are all settled ends: succeeded if any image did. */
  private outcome(scan: ScanWithImages, settled: Map<string, { status: ImageScanStatus; reason: string | null }>): ScanEnd {
    const outcomes = [...settled.values()];
    if (outcomes.some((o) => o.status === 'succeeded')) return { status: 'succeeded', reason: scan.reason };
    // The first failed image's reason (from this poll where it just failed) names the scan's.
    return { status: 'failed', reason: outcomes.find((o) => o.status === 'failed')?.reason ?? 'scan_failed', error: 'every image scan failed' };
  }

  /**
   * Polls; a reused scan may not be visible yet (the worker holding the window is about to
   * start it), so ScanNotFound is tolerated for a few polls before it counts.
   */
  private async pollTolerant(provider: ScanProvider, account: ProviderAccount, scan: ScanWithImages, open: ImageScan[], pollCount: number): Promise<ScanProgress> {
    try {
      return await provider.pollScan(account, { taskId: scan.providerTaskId ?? '', target: scan.target as Record<string, unknown>, images: open.map(toImageRef) });
    } catch (err) {
      const reused = open.some((i) => i.reused);
      if (isProviderError(err) && err.code === 'ScanNotFoundException' && reused && pollCount < (this.options.maxScanNotFoundPolls ?? 10)) {
        return { progress: 0, images: open.map((_, index) => ({ index, state: 'scanning' as const })) };
      }
      throw err;
    }
  }

  private async collectFindings(provider: ScanProvider, account: ProviderAccount, image: ImageScan, firstPage?: { findings: NormalizedFinding[]; nextCursor?: string; scanCompletedAt?: Date }) {
    const ref = toImageRef(image);
    let page = firstPage ?? (await provider.listFindings(account, ref));
    const findings = [...page.findings];
    const scanCompletedAt = page.scanCompletedAt;
    while (page.nextCursor) {
      page = await provider.listFindings(account, ref, page.nextCursor);
      findings.push(...page.findings);
    }
    return { findings, scanCompletedAt };
  }

  /**
   * Without a hint from the cloud, the next look goes where the task's own pace says it ends
   * (time so far × share left ÷ share done, for its slowest image), never sooner than the
   * backoff: a task reporting progress (Alibaba's ScaProgress) is then looked at a few times
   * instead of at every backoff step. The task's quota goes back only when its last image ends,
   * so looking earlier would not free it sooner. The backoff cap (pollMaxMs) bounds the wait.
   */
  private paceHint(scan: ScanWithImages, percent: number, pollCount: number): number | undefined {
    const startedAt = scan.startedAt?.getTime();
    if (startedAt === undefined || !(percent > 0 && percent < 100)) return undefined;
    const left = ((Date.now() - startedAt) * (100 - percent)) / percent;
    return Math.max(Math.round(left), this.backoff(pollCount));
  }

  /** Exponential poll backoff: initial × factor^n, capped (initial 0 counts as 1 ms). */
  private backoff(pollCount: number): number {
    const { pollInitialMs, pollFactor, pollMaxMs } = this.options;
    return Math.min(pollMaxMs, Math.round(Math.max(1, pollInitialMs) * pollFactor ** Math.min(pollCount, 50)));
  }

  /** Re-schedules this poll job with exponential backoff (or the cloud's hint), parking it. */
  private async park(job: Job<JobPayloads['scan.poll']>, token: string | undefined, scan: ScanWithImages, progress: number, hintMs?: number): Promise<void> {
    const delay = Math.max(1, Math.min(this.options.pollMaxMs, hintMs ?? this.backoff(job.data.pollCount)));
    const at = Date.now() + delay;
    // Guarded: a cancel or time-out that landed since the scan was loaded stays; the job ends.
    if (!(await this.scans.transition(scan.id, ACTIVE, { progress, nextPollAt: new Date(at), ...(scan.status !== 'running' ? { status: 'running' } : {}) }))) return;
    await job.updateData({ ...job.data, pollCount: job.data.pollCount + 1 });
    await job.moveToDelayed(at, token);
    throw new DelayedError();
  }

  /** One place that turns a handler error into the scan's state and BullMQ's next move. */
  private async onError(job: Job, token: string | undefined, scan: ScanWithImages, err: unknown): Promise<void> {
    // A call cut by this worker's shutdown: the scan stays as it is and the worker hands the job back.
    if (err instanceof DelayedError || isOutage(err) || isShutdownAbort(err)) throw err;
    if (err instanceof FencedError) {
      // Another attempt acts for this scan now: this one leaves everything to it.
      this.log.warn({ scanId: scan.id, jobId: job.id, err: err.message }, 'attempt fenced off; it stops without a cloud call');
      return;
    }
    if (err instanceof CreateSettling) {
      await this.scans.transition(scan.id, ACTIVE, { status: 'retrying', error: err.message, nextPollAt: new Date(Date.now() + err.waitMs) });
      await job.moveToDelayed(Date.now() + err.waitMs, token);
      throw new DelayedError();
    }
    const pe = isProviderError(err) ? err : new ProviderError('retryable', (err as Error)?.name ?? 'Error', (err as Error)?.message ?? String(err));
    if (pe.kind === 'terminal') {
      this.log.info({ scanId: scan.id, code: pe.code, reason: pe.reason }, 'scan failed');
      await this.end(scan, 'failed', { reason: pe.reason, error: `${pe.code}: ${pe.message}` });
      throw new UnrecoverableError(`${pe.code}: ${pe.message}`);
    }
    if (pe.kind === 'quota') {
      const waitMs = pe.retryAfterMs ?? this.options.pollInitialMs;
      await this.scans.transition(scan.id, ACTIVE, { status: 'quota_wait', reason: pe.reason, error: `${pe.code}: ${pe.message}`, nextPollAt: new Date(Date.now() + waitMs) });
      this.listeners.onQuotaWait?.(scan, pe.code);
      await job.moveToDelayed(Date.now() + waitMs, token);
      throw new DelayedError();
    }
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade + 1 >= attempts) {
      this.log.warn({ scanId: scan.id, code: pe.code, attempts }, 'scan failed after retries');
      await this.end(scan, 'failed', { reason: 'attempts_exhausted', error: `${pe.code}: ${pe.message}`, attempts: job.attemptsMade + 1 });
    } else {
      await this.scans.transition(scan.id, ACTIVE, { status: 'retrying', error: `${pe.code}: ${pe.message}`, attempts: job.attemptsMade + 1 });
    }
    throw pe;
  }

  /**
   * Errors while loading a scan: a permanent one (its account is gone) ends the scan; anything
   * else (a database hiccup) is rethrown so BullMQ retries the job.
   */
  private async failIfFinal(scanId: string, err: unknown): Promise<null> {
    if (!(err instanceof UnrecoverableError) && !(isProviderError(err) && err.kind === 'terminal')) throw err;
    return this.fail(scanId, err);
  }

  /** Errors before the scan was loaded (e.g. its account vanished). */
  private async fail(scanId: string, err: unknown): Promise<null> {
    const reason: ScanReason = isProviderError(err) ? err.reason : 'provider_error';
    if (await this.scans.finish(scanId, 'failed', { reason, error: (err as Error)?.message ?? String(err) })) {
      const scan = await this.scans.get(scanId);
      if (scan?.bulkScanId) await this.listeners.onScanEnded?.(scan);
    }
    throw err instanceof UnrecoverableError ? err : new UnrecoverableError((err as Error)?.message ?? String(err));
  }

  /**
   * The one way a scan ends: the guarded finish, the quota given back, listeners told (bulk
   * completion). `releaseAlways`: the cloud reported the task over, so its slot is free even
   * if another path already finished the row.
   */
  private async end(scan: ScanWithImages, status: 'succeeded' | 'failed', fields: { reason?: string | null; error?: string | null; attempts?: number }, releaseAlways = false): Promise<void> {
    await this.afterEnd(scan, await this.scans.finish(scan.id, status, fields), releaseAlways);
  }

  /** After the guarded finish: `ended` says whether this call ended the scan. */
  private async afterEnd(scan: ScanWithImages, ended: boolean, releaseAlways: boolean, recorded?: { event: StreamEvent | null }): Promise<void> {
    if (ended || releaseAlways) await this.releaseQuota(scan);
    if (ended) await this.listeners.onScanEnded?.(scan, recorded);
  }

  private async releaseQuota(scan: ScanWithImages): Promise<void> {
    const policy = this.policies[scan.provider];
    if (!policy?.release) return;
    const stored = await this.accounts.get(scan.accountId);
    if (stored) await policy.release(scan, this.accountResolver.resolve(stored));
  }
}
