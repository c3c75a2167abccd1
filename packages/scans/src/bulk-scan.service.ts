import { createHash } from 'node:crypto';
import { BULK_JOB_PRIORITY, type BulkSelector, labelsMatch, type CreateBulkScanRequest, dependencyOutage, isProviderError, isShutdownAbort, type Provider, JobName, jobIds, QueueName } from '@scanq/core';
import type { AccountRepository, BulkScan, BulkScanRepository, CloudAccount, ScanRepository } from '@scanq/db';
import { type BulkCapable, type InventoryImage, isBulkCapable, type ProviderAccount, type ScanProvider } from '@scanq/providers';
import { type QueueRepository, RedisLease } from '@scanq/queue';
import type { RedisClient } from '@scanq/queue';
import type { Logger } from 'pino';
import type { AccountResolver } from './account-resolver.js';
import { LatestPerRepository, oneImagePerDigest, selectImages, uniqueNames } from './bulk-selection.js';
import { BoundedTasks } from './bounded-tasks.js';
import { cancelNotStartedScans } from './cancel-not-started.js';
import { SubmitError } from './submit.service.js';
import type { WebhookService } from './webhook.service.js';
import type { EventStreamService } from './event-stream.service.js';

/** A plan job's retries: a lease held by another planner, or a cloud's listing failing for a moment. */
export const PLAN_JOB_OPTIONS = { attempts: 5, backoff: { type: 'exponential', delay: 2_000 } } as const;

export { latestPerRepository, oneImagePerDigest, registrySelected, selectImages, tagGlob } from './bulk-selection.js';

/**
 * Images a plan inserts at once when it plans page by page: with the page being listed, what it
 * holds of an account's listing at most, however large the listing.
 */
export const PLAN_BATCH_IMAGES = 5_000;
/** Start jobs read back from Postgres and added per page once the plan is recorded. */
const ENQUEUE_PAGE = 5_000;
/**
 * Batches inserted, and pages of start jobs added, at once. Two: while Postgres (or Redis) works
 * on one, this process lists (or builds) the next; a 1,000,000-image plan went from 174 s, one
 * at a time, to the figure in bench/RESULTS.md. More would only queue on the same two cores.
 */
export const PLAN_IN_FLIGHT = 2;

export interface BulkPlanEntry {
  provider: Provider;
  account: string;
  listed: number;
  selected: number;
  skipped: number;
  scans: number;
  /** Of `skipped`: images the listing showed the cloud cannot scan, by reason. */
  unscannable?: Record<string, number>;
  /** Set when the account could not be planned (no listing support, listing failed). */
  error?: string;
}

/**
 * Bulk scans: a selector becomes the fewest scans each cloud allows. Planning runs as a job
 * (the request returns at once): inventory through each cloud's listing API, selection,
 * one image per digest, "skip scanned within N hours", then scans and their images inserted
 * in batches and their start jobs added in bulk, behind on-demand work (priority).
 */
export class BulkScanService {
  constructor(
    private readonly bulks: BulkScanRepository,
    private readonly scans: ScanRepository,
    private readonly accounts: AccountRepository,
    private readonly accountResolver: AccountResolver,
    private readonly queues: QueueRepository,
    private readonly providers: Partial<Record<Provider, ScanProvider<any>>>,
    private readonly options: { scanTimeoutMs: number; planLeaseMs: number },
    private readonly log: Logger,
    private readonly redis: RedisClient,
    private readonly webhooks?: WebhookService,
    private readonly events?: EventStreamService,
  ) {}

  /**
   * 422 unless the selector names only known accounts and matches at least one (a request for
   * nothing is refused up front, not planned into an empty success).
   */
  async checkSelector(selector: BulkSelector, options: { schedule?: boolean } = {}): Promise<void> {
    const matched = await this.matchAccounts(selector, true);
    // A schedule selecting by labels may come before the accounts it will select (GitOps: the
    // schedule and the accounts file applied in any order); its ticks resolve the labels.
    if (options.schedule && selector.accountSelector) return;
    if (matched.length === 0) {
      throw new SubmitError(422, 'no_matching_account', 'no account matches the selector (its accounts, accountSelector labels, providers and regions together)', 'body.selector');
    }
  }

  /** Accepts a bulk scan: the row, then its plan job. A selector no account matches is a 422 (a schedule's tick is checked when planned). */
  /**
   * `idempotencyKey` (HTTP `Idempotency-Key`, intake jobs): a repeat returns the first bulk scan,
   * one that asks for something else is a 409, as for scans.
   */
  async create(request: CreateBulkScanRequest, origin: { scheduleId?: string; tickAt?: Date } = {}, idempotencyKey?: string): Promise<{ bulk: BulkScan; created: boolean }> {
    if (!origin.scheduleId) await this.checkSelector(request.selector);
    const requestHash = createHash('sha256')
      .update(JSON.stringify({ selector: request.selector, force: request.force ?? false, timeoutSeconds: request.timeoutSeconds ?? null, webhookUrl: request.webhookUrl ?? null }))
      .digest('hex');
    const { bulk, created } = await this.bulks.create({
      selector: request.selector as Record<string, unknown>,
      force: request.force ?? false,
      ...(request.timeoutSeconds ? { timeoutSeconds: request.timeoutSeconds } : {}),
      webhookUrl: request.webhookUrl ?? null,
      ...(idempotencyKey ? { idempotencyKey, requestHash } : {}),
      ...origin,
    });
    if (!created && idempotencyKey && bulk.requestHash !== requestHash) {
      throw new SubmitError(409, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request', 'headers.idempotency-key');
    }
    if (created) {
      try {
        await this.queues.add(QueueName.maintenance, JobName.BulkPlan, { bulkScanId: bulk.id }, { jobId: jobIds.bulkPlan(bulk.id), ...PLAN_JOB_OPTIONS });
      } catch (err) {
        // The row is recorded (planning): the reconciler re-adds a plan job that is missing.
        if (dependencyOutage(err) !== 'redis') throw err;
        this.log.warn({ bulkScanId: bulk.id, err: { message: (err as Error).message } }, 'bulk scan recorded; its plan job waits for Redis (the reconciler adds it)');
      }
    }
    return { bulk, created };
  }

  private async matchAccounts(selector: BulkSelector, strict: boolean): Promise<CloudAccount[]> {
    const all = await this.accounts.list();
    if (strict && selector.accounts) {
      const unknown = selector.accounts.filter((ref) => !all.some((a) => a.id === ref || a.name === ref));
      if (unknown.length) throw new SubmitError(422, 'unknown_account', `no account named ${unknown.map((u) => `"${u}"`).join(', ')}`, 'body.selector.accounts');
    }
    return all.filter(
      (a) =>
        (!selector.accounts?.length || selector.accounts.includes(a.name) || selector.accounts.includes(a.id)) &&
        (!selector.accountSelector || labelsMatch(selector.accountSelector, (a.labels ?? {}) as Record<string, unknown>)) &&
        (!selector.providers?.length || selector.providers.includes(a.provider)) &&
        // An account listing one region only is left out for other regions; one whose listing
        // spans regions (Alibaba SAS) is listed and its images filtered by their own region.
        (!selector.regions?.length || selector.regions.includes(a.region) || this.inventorySpansRegions(a.provider)),
    );
  }

  private inventorySpansRegions(provider: Provider): boolean {
    const adapter = this.providers[provider];
    return adapter !== undefined && isBulkCapable(adapter) && adapter.inventorySpansRegions === true;
  }

  /**
   * The `bulk.plan` job. Re-runnable: a bulk scan leaves `planning` exactly once, and one
   * planner at a time works on it, under a Redis lease as long as a worker's job lock, renewed
   * while it plans. A planner that died lets go within that lease (not minutes later); a job that
   * finds the lease held fails and is retried with backoff, so it takes over once it lapses.
   * `finalAttempt` false: a cloud listing that fails for a moment fails the job (retried, the plan
   * starting clean) instead of leaving that account out.
   */
  async plan(bulkScanId: string, options: { finalAttempt?: boolean } = {}): Promise<void> {
    const leaseMs = this.options.planLeaseMs;
    const lease = await RedisLease.acquire(this.redis, this.queues.options.keyspace.lock(`bulk-plan:${bulkScanId}`), leaseMs);
    if (!lease) throw new Error(`bulk scan ${bulkScanId} is being planned by another worker (its lease lapses within ${leaseMs} ms if that worker died)`);
    lease.keepAlive();
    try {
      await this.planLocked(bulkScanId, options.finalAttempt ?? true);
    } finally {
      await lease.release();
    }
  }

  private async planLocked(bulkScanId: string, finalAttempt: boolean): Promise<void> {
    const bulk = await this.bulks.get(bulkScanId);
    // Cancelled before planning began: nothing to plan, only its end to record.
    if (bulk?.status === 'cancelled' && !bulk.finishedAt) return this.complete(bulk.id);
    if (!bulk || bulk.status !== 'planning') return;
    await this.scans.deleteUnplannedBulkScans(bulk.id); // a retried plan job starts clean
    const selector = bulk.selector as BulkSelector & { timeoutSeconds?: number };
    const deadlineAt = new Date(Date.now() + (selector.timeoutSeconds ? selector.timeoutSeconds * 1000 : this.options.scanTimeoutMs));
    const entries: BulkPlanEntry[] = [];
    const skippedByProvider: Record<string, number> = {};
    let selected = 0;
    let skipped = 0;
    let scans = 0;
    // planMs: listing and inserting, overlapped (insertMs: the inserts' own time within it).
    const timings = { planMs: 0, insertMs: 0, enqueueMs: 0 };
    const planStart = performance.now();

    for (const stored of await this.matchAccounts(selector, false)) {
      const entry: BulkPlanEntry = { provider: stored.provider, account: stored.name, listed: 0, selected: 0, skipped: 0, scans: 0 };
      entries.push(entry);
      const provider = this.providers[stored.provider];
      if (!provider || !isBulkCapable(provider)) {
        entry.error = `the ${stored.provider} adapter of this build cannot list images for bulk scans`;
        continue;
      }
      let account: ProviderAccount;
      try {
        account = this.accountResolver.resolve(stored);
      } catch (err) {
        // No credentials for it on this worker: named at once (another try would most likely
        // land on a worker configured the same way); only the cloud's own hiccups re-plan.
        entry.error = (err as Error).message;
        continue;
      }
      try {
        await this.planAccount({ bulk, stored, account, provider, selector, deadlineAt, entry, timings });
        selected += entry.selected;
        skipped += entry.skipped;
        scans += entry.scans;
        skippedByProvider[stored.provider] = (skippedByProvider[stored.provider] ?? 0) + entry.skipped;
      } catch (err) {
        // A listing that failed for a moment (5xx, network, throttling): plan again from the start
        // rather than leave the account out, unless this was the last try. One cut by this
        // worker's shutdown always plans again (the job goes back to the queue). The next
        // attempt deletes what this one inserted.
        if (isShutdownAbort(err) || (!finalAttempt && isProviderError(err) && err.kind !== 'terminal')) throw err;
        // Left out: the pages of it planned before the failure go too.
        await this.scans.deleteUnplannedBulkScans(bulk.id, stored.id);
        Object.assign(entry, { selected: 0, skipped: 0, scans: 0, unscannable: undefined, error: (err as Error).message });
        this.log.warn({ bulkScanId, account: stored.name, err: entry.error }, 'bulk planning failed for an account');
      }
    }

    timings.planMs = Math.round(performance.now() - planStart);
    const errors = entries.filter((e) => e.error).map((e) => `${e.account}: ${e.error}`);
    // Recorded before a single start job exists: a cancel that came during planning is seen
    // here, and nothing it planned is enqueued; a cancel after this finds every scan in Postgres.
    const moved = await this.bulks.planned(bulk.id, { selected, skipped, plan: { accounts: entries, skippedByProvider, ...(errors.length ? { errors } : {}) } });
    if (!moved) {
      await this.cancelScans(bulk.id);
      await this.complete(bulk.id);
      return;
    }
    const enqueueStart = performance.now();
    // Read back from Postgres a page at a time, not kept from the inserts: the planner never
    // holds more than a job per scan of PLAN_IN_FLIGHT pages. A crash part way leaves queued
    // scans without jobs, which the reconciler enqueues (the bulk scan is no longer planning).
    const adding = new BoundedTasks(PLAN_IN_FLIGHT);
    try {
      for await (const page of this.scans.queuedBulkScanPages(bulk.id, ENQUEUE_PAGE)) {
        await adding.run(async () => void (await this.queues.enqueueScanStarts(page.map((s) => ({ id: s.id, provider: s.provider, priority: BULK_JOB_PRIORITY })))));
      }
    } catch (err) {
      await adding.settled();
      throw err;
    }
    await adding.drain();
    timings.enqueueMs = Math.round(performance.now() - enqueueStart);
    if (entries.length === 0) await this.complete(bulk.id, 'no account matches the selector');
    else if (scans === 0) await this.complete(bulk.id, errors.length && entries.every((e) => e.error) ? errors.join('; ') : undefined);
    this.log.info({ bulkScanId, selected, skipped, scans, errors: errors.length, ...timings }, 'bulk scan planned');
  }

  /**
   * One account's share of a plan: its listing selected and planned into Postgres a batch at a
   * time. An adapter whose listing names each digest once is planned as its pages come, holding
   * at most PLAN_IN_FLIGHT batches and a page (and, for "latest tag only", one image per repository); another
   * one's selection is gathered first, to merge the tags of one digest across pages, and planned
   * as a whole.
   */
  private async planAccount(p: {
    bulk: BulkScan;
    stored: CloudAccount;
    account: ProviderAccount;
    provider: ScanProvider<any> & BulkCapable<any>;
    selector: BulkSelector;
    deadlineAt: Date;
    entry: BulkPlanEntry;
    timings: { insertMs: number };
  }): Promise<void> {
    const { selector, entry } = p;
    const streams = p.provider.listsEachDigestOnce === true;
    const latest = selector.latestTagOnly ? new LatestPerRepository() : undefined;
    let pending: InventoryImage[] = [];
    const query = { registries: uniqueNames(selector.registries), namespaces: uniqueNames(selector.namespaces), repositories: uniqueNames(selector.repositories) };
    // The listing goes on while earlier batches are inserted; whatever fails, every insert
    // started has ended before the caller deletes what this account planned.
    const inserting = new BoundedTasks(PLAN_IN_FLIGHT);
    try {
      for await (const page of p.provider.listImages(p.account, query)) {
        entry.listed += page.length;
        const kept = selectImages(page, selector, p.stored.region);
        if (latest) latest.add(kept);
        else for (const image of kept) pending.push(image);
        if (streams && !latest && pending.length >= PLAN_BATCH_IMAGES) {
          const batch = pending;
          pending = [];
          await inserting.run(() => this.planBatch(p, batch));
        }
      }
      if (latest) pending = latest.result();
      if (!streams) pending = oneImagePerDigest(pending);
      const last = pending;
      await inserting.run(() => this.planBatch(p, last));
    } catch (err) {
      // The listing's own error decides whether the plan is tried again: a failing insert meanwhile must not replace it.
      await inserting.settled();
      throw err;
    }
    await inserting.drain();
  }

  /** One batch of selected images: "skip scanned within N hours", what cannot be scanned, then its scans and images inserted. */
  private async planBatch(p: Parameters<BulkScanService['planAccount']>[0], batch: InventoryImage[]): Promise<void> {
    const { selector, entry } = p;
    const started = performance.now();
    let images = batch;
    if (selector.skipScannedWithinHours && !p.bulk.force) {
      const since = new Date(Date.now() - selector.skipScannedWithinHours * 3600_000);
      const recent = await this.scans.recentlyScannedDigests(p.stored.id, images.flatMap((i) => (i.digest ? [i.digest] : [])), since);
      const kept = images.filter((i) => !i.digest || !recent.has(i.digest));
      entry.skipped += images.length - kept.length;
      images = kept;
    }
    // What the cloud cannot scan (the listing said so) is skipped, counted by reason, not failed.
    const unscannable = images.filter((i) => i.unscannable);
    if (unscannable.length) {
      entry.unscannable ??= {};
      for (const i of unscannable) entry.unscannable[i.unscannable!] = (entry.unscannable[i.unscannable!] ?? 0) + 1;
      entry.skipped += unscannable.length;
      images = images.filter((i) => !i.unscannable);
    }
    entry.selected += images.length;
    if (images.length === 0) return;
    const planned = p.provider.planScans(p.account, images);
    entry.scans += planned.length;
    const rows = await this.scans.createMany(planned.map((s) => ({ provider: p.stored.provider, accountId: p.stored.id, target: s.target as Record<string, unknown>, deadlineAt: p.deadlineAt, bulkScanId: p.bulk.id })));
    await this.scans.addImagesToScans(
      planned.flatMap((s, i) =>
        s.images.map((img) => ({ scanId: rows[i]!.id, registry: img.registry, repository: img.repository, tags: img.tags, digest: img.digest ?? null, providerImageId: img.providerImageId ?? null, raw: img.raw })),
      ),
    );
    p.timings.insertMs += Math.round(performance.now() - started);
  }

  /** A scan of a bulk scan ended: when it was the last one, queue the completion (once). */
  async scanFinished(bulkScanId: string): Promise<void> {
    const bulk = await this.bulks.get(bulkScanId);
    if (!bulk || bulk.finishedAt || (bulk.status !== 'running' && bulk.status !== 'cancelled')) return;
    if (await this.scans.bulkHasOpenScans(bulkScanId)) return;
    await this.queues.add(QueueName.maintenance, JobName.BulkComplete, { bulkScanId }, { jobId: jobIds.bulkComplete(bulkScanId), attempts: 3 });
  }

  /**
   * The `bulk.complete` job: one completion event for the whole bulk scan (per-state totals,
   * the worst findings), stored with it; never one per image.
   */
  async complete(bulkScanId: string, error?: string): Promise<void> {
    const bulk = await this.bulks.get(bulkScanId);
    if (!bulk || bulk.finishedAt || (bulk.status !== 'running' && bulk.status !== 'planning' && bulk.status !== 'cancelled')) return;
    if (await this.scans.bulkHasOpenScans(bulkScanId)) return;
    const { totals, byProvider } = await this.bulks.totals(bulk);
    const worst = await this.scans.worstFindings(bulkScanId, 10);
    // A cancelled bulk scan completes too, once its last scan at the cloud has ended: its event says so.
    const status = bulk.status === 'cancelled' ? 'cancelled' : error ? 'failed' : 'succeeded';
    const summary = { event: 'bulk_scan.completed', bulkScanId, scheduleId: bulk.scheduleId, status, totals, byProvider, worstFindings: worst, completedAt: new Date().toISOString() };
    // Guarded on the status read above: a cancel landing meanwhile completes the bulk scan itself.
    if (await this.bulks.finish(bulkScanId, bulk.status, status, { summary, ...(error ? { error } : {}) })) {
      this.log.info({ bulkScanId, totals }, 'bulk scan completed');
      // The stream's outbox row first: it is Postgres only, so an end while Redis is down keeps its event.
      await this.events?.bulkCompleted(bulk, summary);
      await this.webhooks?.bulkCompleted(bulk, summary);
    }
  }

  /** Cancels a bulk scan: queued work is removed; scans already at the cloud end in their real result. */
  async cancel(bulkScanId: string): Promise<BulkScan | null> {
    const bulk = await this.bulks.get(bulkScanId);
    if (!bulk) return null;
    const was = await this.bulks.cancel(bulkScanId);
    if (was) {
      await this.cancelScans(bulkScanId);
      // Still planning: the planner sees the cancel and completes it. Otherwise it completes now
      // if nothing is left at the cloud, else when its last scan there ends (scanFinished).
      if (was === 'running') await this.complete(bulkScanId);
    }
    return this.bulks.get(bulkScanId);
  }

  private cancelScans(bulkScanId: string): Promise<number> {
    return cancelNotStartedScans(this.scans, this.queues, { bulkScanId });
  }
}
