import { type AlibabaScanTarget, ProviderError } from '@scanq/core';
import type {
  BulkCapable,
  FindingsPage,
  ImageProgress,
  ImageRef,
  InventoryImage,
  InventoryQuery,
  PlannedScan,
  PriorScan,
  ProviderAccount,
  ProviderDeps,
  ScanProgress,
  ScanProvider,
  StartedScan,
} from '../contract.js';
import { timeoutsOf } from '../contract.js';
import { ProviderTransport } from '../transport.js';
import { bareDigest, digestCriteria, instanceCriteria, matchesTarget, registryCriteria, taskParams } from './criteria.js';
import { latestTaskVerdict } from './latest-task.js';
import { planTasks } from './plan.js';
import { instanceRaw, normalizeVulRecord, parseCount, parseInstance, parseMillis, type SasImageInstance, toImageRef, toInventoryImage } from './normalize.js';
import { SasClient } from './sas-client.js';
import { imageOutcome } from './status.js';

/** A created task, with the cloud's word on whether another one fits (`CanCreate`). */
export interface AlibabaStartedScan extends StartedScan {
  /** false: the cloud already runs its limit of tasks (10 by default), this one included. */
  canCreate: boolean;
}

export interface AuthorizationCheck {
  /** Images the task would cover (PreCheck `NeedAuthCount`). */
  images: number;
  /** Authorizations it would consume (PreCheck `ScanImageCount`). */
  needed: number;
  /** Authorizations left (DescribeImageScanAuthCount: ImageScanCapacity − ScanCount). */
  remaining: number;
}

export interface AlibabaProviderOptions {
  /** DescribeImageInstances page size (SAS default 20; 100 keeps most listings to one call). */
  instancesPageSize?: number;
  /** DescribeImageVulList page size (SAS default 10). */
  vulPageSize?: number;
  /**
   * Digests per status listing when a poll looks its images up by digest (OR-joined Criteria,
   * sent in the form body): 100, a bulk task's digests and a full page of instances. Halved
   * for an account whose Criteria go in the query (`criteriaInQuery`), to keep the URL short.
   */
  statusDigestsPerCall?: number;
  /** Image Uuids per batched DescribeImageVulList call (the comma-joined `Uuids`). */
  findingsUuidsPerCall?: number;
}

/**
 * Account setting `criteriaInQuery: true`: DescribeImageInstances' Criteria in the query string,
 * where the generated SDK puts it, for a gateway that does not read it from the form body.
 */
const criteriaInQuery = (account: ProviderAccount): boolean => account.settings.criteriaInQuery === true;

/** Vulnerability types of DescribeImageVulList, read in this order: system (cve) then application (sca). */
const VUL_TYPES = ['cve', 'sca'] as const;
/** Unfixed (1) and being fixed (4): what the image still has (7 = fixed is history). */
const OPEN_VUL_STATUSES = '1,4';
/** A listing that never ends (TotalCount lying) stops here. */
const MAX_PAGES = 10_000;

/**
 * Alibaba Cloud Security Center image scans. A scan's filters are resolved to images with
 * DescribeImageInstances (so every image has its row before the task exists), a task is
 * created with PublicCreateImageScanTask after PublicPreCheckImageScanTask and the account's
 * authorizations say it can run, progress is each image's ScaStatus/ScaResult (SAS has no
 * task lookup by id), and findings come from DescribeImageVulList per image Uuid.
 */
export class AlibabaSasProvider implements ScanProvider<AlibabaScanTarget>, BulkCapable<AlibabaScanTarget> {
  readonly provider = 'alibaba' as const;
  /** Security Center protects an account's images in every region; each listing entry names its own. */
  readonly inventorySpansRegions = true;
  private readonly sas: SasClient;
  private readonly instancesPageSize: number;
  private readonly vulPageSize: number;
  private readonly statusDigestsPerCall: number;
  private readonly findingsUuidsPerCall: number;

  constructor(deps: ProviderDeps = {}, options: AlibabaProviderOptions = {}) {
    this.sas = new SasClient(deps.callGate, timeoutsOf(deps), deps.observer, new ProviderTransport(deps));
    this.instancesPageSize = options.instancesPageSize ?? 100;
    this.vulPageSize = options.vulPageSize ?? 100;
    this.statusDigestsPerCall = options.statusDigestsPerCall ?? 100;
    this.findingsUuidsPerCall = options.findingsUuidsPerCall ?? 100;
  }

  /**
   * Every page of DescribeImageInstances for `filter` (Criteria + LogicalExp), a page at a time.
   * PageInfo.TotalCount ends the paging; without it a short page does.
   */
  private async *instancePages(account: ProviderAccount, filter: { Criteria?: string; LogicalExp: 'AND' | 'OR' }): AsyncIterable<Record<string, unknown>[]> {
    for (let page = 1; page <= MAX_PAGES; page++) {
      // Criteria travels in the form body (OR-joined digests would make a long URL), unless the
      // account says its gateway wants it where the generated SDK puts it.
      const { Criteria, ...rest } = filter;
      const paging = { ...rest, CurrentPage: page, PageSize: this.instancesPageSize };
      const body =
        Criteria === undefined || criteriaInQuery(account)
          ? await this.sas.call(account, 'DescribeImageInstances', { ...paging, Criteria })
          : await this.sas.call(account, 'DescribeImageInstances', paging, { Criteria });
      const list = Array.isArray(body.ImageInstanceList) ? (body.ImageInstanceList as Record<string, unknown>[]) : [];
      yield list;
      const info = (body.PageInfo ?? {}) as Record<string, unknown>;
      const total = parseCount(info.TotalCount) ?? parseCount(body.TotalCount);
      const pageSize = parseCount(info.PageSize) || this.instancesPageSize;
      if (list.length === 0 || (total !== null ? page * pageSize >= total : list.length < pageSize)) return;
    }
  }

  /**
   * Every image the filters match, reading every page of DescribeImageInstances (Criteria
   * narrows, the exact filter decides). Deduplicated by Uuid: a listing that shifts while it is
   * paged may repeat an item.
   */
  async listMatchingImages(account: ProviderAccount, target: AlibabaScanTarget): Promise<SasImageInstance[]> {
    const seen = new Map<string, SasImageInstance>();
    for await (const list of this.instancePages(account, instanceCriteria(target))) {
      for (const item of list) {
        const instance = parseInstance(item);
        if (instance.uuid && matchesTarget(target, item) && !seen.has(instance.uuid)) seen.set(instance.uuid, instance);
      }
    }
    return [...seen.values()];
  }

  /**
   * Inventory for bulk scans: DescribeImageInstances, every page at 100 items. One selected
   * registry (`<registryType>:<regionId>:<instanceId>`, this adapter's ImageRef.registry) is
   * pushed down as registryType + instanceId criteria; namespaces and repositories have no
   * documented criterion, so the planner filters them. Each item is one tag of one image (its
   * own Uuid); the planner merges tags of one digest.
   */
  async *listImages(account: ProviderAccount, query: InventoryQuery): AsyncIterable<InventoryImage[]> {
    const seen = new Set<string>();
    for await (const list of this.instancePages(account, registryCriteria(query.registries))) {
      const page: InventoryImage[] = [];
      for (const item of list) {
        const instance = parseInstance(item);
        if (!instance.uuid || seen.has(instance.uuid)) continue;
        seen.add(instance.uuid);
        page.push(toInventoryImage(instance));
      }
      if (page.length) yield page;
    }
  }

  /**
   * The fewest tasks for `images`: PublicCreateImageScanTask takes lists (OR within a field,
   * AND across fields), so one task covers up to 100 digests with the instances, namespaces and
   * repositories they sit in (see plan.ts). The slot policy feeds these few large tasks through
   * the account's 10 task slots.
   */
  planScans(_account: ProviderAccount, images: InventoryImage[]): PlannedScan<AlibabaScanTarget>[] {
    return planTasks(images);
  }

  async resolveImages(account: ProviderAccount, target: AlibabaScanTarget): Promise<ImageRef[]> {
    const images = await this.listMatchingImages(account, target);
    if (images.length === 0) {
      throw new ProviderError('terminal', 'NoImagesMatched', `no image of account ${account.name} matches the filters ${JSON.stringify(taskParams(target))}`, 'no_images_matched');
    }
    return images.map(toImageRef);
  }

  /** SAS keeps no per-image scan history that scanq reuses: every scan creates its task. */
  async latestScan(): Promise<PriorScan | null> {
    return null;
  }

  /** PublicPreCheckImageScanTask + DescribeImageScanAuthCount: what the task would consume, and what is left. */
  async checkAuthorizations(account: ProviderAccount, target: AlibabaScanTarget): Promise<AuthorizationCheck> {
    // Independent reads: in parallel, so a freed slot is filled one round trip sooner.
    const [pre, auth] = await Promise.all([this.sas.call(account, 'PublicPreCheckImageScanTask', taskParams(target)), this.sas.call(account, 'DescribeImageScanAuthCount', {})]);
    const data = (pre.Data ?? {}) as Record<string, unknown>;
    const scan = (auth.ImageScan ?? {}) as Record<string, unknown>;
    const capacity = parseCount(scan.ImageScanCapacity) ?? 0;
    const used = parseCount(scan.ScanCount) ?? 0;
    return { images: parseCount(data.NeedAuthCount) ?? 0, needed: parseCount(data.ScanImageCount) ?? 0, remaining: Math.max(0, capacity - used) };
  }

  /**
   * Pre-checks, then creates the task. Where the account's authorizations would not cover the
   * images the task ends at once (`insufficient_authorization`, counts in the message) and no
   * task is created.
   */
  async startScan(account: ProviderAccount, target: AlibabaScanTarget): Promise<AlibabaStartedScan> {
    await this.precheck(account, target);
    return this.createTask(account, target);
  }

  /**
   * The pre-check alone: throws `insufficient_authorization` (terminal, counts in the message)
   * where the account's authorizations would not cover the task. Needs no task slot, so the
   * quota policy runs it before taking one.
   */
  async precheck(account: ProviderAccount, target: AlibabaScanTarget): Promise<void> {
    const check = await this.checkAuthorizations(account, target);
    if (check.needed > check.remaining) {
      throw new ProviderError(
        'terminal',
        'InsufficientAuthorization',
        `the task would cover ${check.images} image(s) and consume ${check.needed} image-scan authorization(s); ${check.remaining} remain`,
        'insufficient_authorization',
      );
    }
  }

  /** PublicCreateImageScanTask alone (the caller has pre-checked and holds a task slot). */
  async createTask(account: ProviderAccount, target: AlibabaScanTarget): Promise<AlibabaStartedScan> {
    const body = await this.sas.call(account, 'PublicCreateImageScanTask', taskParams(target));
    const data = (body.Data ?? {}) as Record<string, unknown>;
    const taskId = typeof data.TaskId === 'string' ? data.TaskId : '';
    if (!taskId) throw new ProviderError('retryable', 'NoTaskId', `PublicCreateImageScanTask answered without a TaskId (request id ${String(body.RequestId ?? '?')})`);
    return { taskId, canCreate: data.CanCreate !== false };
  }

  /**
   * The task an ambiguous PublicCreateImageScanTask may have created: each image's latest task
   * (DescribeImageLatestScanTask by digest, one call each). A digest whose latest task started
   * through the API at or after `since` names it; one with no task since then and none running
   * proves no task was created (it would have scanned that image), so the look-up stops there
   * with null. A digest still scanned by an older task cannot tell and the next is asked. Where
   * digests name different tasks, the earliest is the create's. `canCreate` is not known here
   * (only the create's answer carries it), so the answer is a plain StartedScan.
   */
  async findStartedScan(account: ProviderAccount, _target: AlibabaScanTarget, images: ImageRef[], since: Date): Promise<StartedScan | null> {
    const digests = [...new Set(images.flatMap((i) => (i.digest ? [bareDigest(i.digest)] : [])))];
    let found: { taskId: string; startedAt: number } | undefined;
    for (const digest of digests) {
      const verdict = latestTaskVerdict(await this.sas.call(account, 'DescribeImageLatestScanTask', { Digest: digest }), since);
      if (verdict.kind === 'none') return null;
      if (verdict.kind === 'started' && (!found || verdict.startedAt < found.startedAt)) found = verdict;
    }
    return found ? { taskId: found.taskId } : null;
  }

  /**
   * The DescribeImageInstances items of a scan's open images, by Uuid. Where the target names
   * digests (bulk tasks, digest scans) only the open images' digests are listed (OR-joined
   * digest criteria, `statusDigestsPerCall` a call), so polls get cheaper as images finish and
   * never page through unrelated images; otherwise the target's own listing is read.
   */
  private async instancesOf(account: ProviderAccount, target: AlibabaScanTarget, images: ImageRef[]): Promise<Map<string, SasImageInstance>> {
    const digests = [...new Set(images.map((i) => (i.digest ? bareDigest(i.digest) : '')))];
    if (!target.digests?.length || digests.some((d) => !d)) {
      return new Map((await this.listMatchingImages(account, target)).map((i) => [i.uuid, i]));
    }
    const wanted = new Set(images.map((i) => i.providerImageId ?? ''));
    const found = new Map<string, SasImageInstance>();
    const perCall = criteriaInQuery(account) ? Math.ceil(this.statusDigestsPerCall / 2) : this.statusDigestsPerCall;
    for (let i = 0; i < digests.length; i += perCall) {
      for await (const list of this.instancePages(account, digestCriteria(digests.slice(i, i + perCall)))) {
        for (const item of list) {
          const instance = parseInstance(item);
          if (wanted.has(instance.uuid)) found.set(instance.uuid, instance);
        }
      }
    }
    return found;
  }

  /**
   * Progress of every open image from one status look-up, and the complete findings of the
   * images that finished from batched DescribeImageVulList calls (many Uuids a call), handed
   * over as each image's first page so no per-image findings call follows.
   */
  async pollScan(account: ProviderAccount, task: { taskId: string; target: AlibabaScanTarget; images: ImageRef[] }): Promise<ScanProgress> {
    const listed = await this.instancesOf(account, task.target, task.images);
    const images: ImageProgress[] = task.images.map((image, index) => {
      const instance = image.providerImageId ? listed.get(image.providerImageId) : undefined;
      if (!instance) return { index, state: 'failed', reason: 'image_not_found', message: 'the image is no longer listed by DescribeImageInstances' };
      const outcome = imageOutcome(instance.scaStatus, instance.scaResult);
      const raw = instanceRaw(instance);
      return {
        index,
        state: outcome.state,
        ...(outcome.state === 'scanning' && instance.scaProgress !== null ? { progress: instance.scaProgress } : {}),
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        ...(outcome.message ? { message: outcome.message } : {}),
        raw,
      };
    });
    const succeeded = images.filter((p) => p.state === 'succeeded').map((p) => task.images[p.index]!.providerImageId ?? '');
    if (succeeded.length > 0) {
      const pages = await this.findingsOf(account, succeeded);
      for (const p of images) {
        if (p.state === 'succeeded') p.firstPage = pages.get(task.images[p.index]!.providerImageId ?? '') ?? { findings: [] };
      }
    }
    const done = images.filter((i) => i.state !== 'scanning').length;
    const partial = images.reduce((sum, i) => sum + (i.state === 'scanning' ? (i.progress ?? 0) : 100), 0);
    return { progress: Math.round(images.length ? Math.max((done / images.length) * 100, partial / images.length) : 100), images };
  }

  /**
   * Every open vulnerability of `uuids`, complete, per Uuid: DescribeImageVulList with up to
   * `findingsUuidsPerCall` Uuids a call, every page of cve then sca. Records name their Uuid.
   */
  async findingsOf(account: ProviderAccount, uuids: string[]): Promise<Map<string, FindingsPage>> {
    const out = new Map<string, FindingsPage>(uuids.map((u) => [u, { findings: [] }]));
    for (let i = 0; i < uuids.length; i += this.findingsUuidsPerCall) {
      const chunk = uuids.slice(i, i + this.findingsUuidsPerCall);
      for (const type of VUL_TYPES) {
        for (let page = 1; page <= MAX_PAGES; page++) {
          const body = await this.vulPage(account, type, chunk.join(','), page);
          for (const r of body.records) {
            const entry = out.get(String(r.Uuid ?? ''));
            if (!entry) continue;
            entry.findings.push(normalizeVulRecord(r));
            const at = parseMillis(r.ScanTime) ?? parseMillis(r.LastTs);
            if (at && (!entry.scanCompletedAt || at > entry.scanCompletedAt)) entry.scanCompletedAt = at;
          }
          if (!body.more) break;
        }
      }
    }
    return out;
  }

  private async vulPage(account: ProviderAccount, type: (typeof VUL_TYPES)[number], uuids: string, page: number): Promise<{ records: Record<string, unknown>[]; more: boolean }> {
    const body = await this.sas.call(account, 'DescribeImageVulList', {
      Type: type,
      Uuids: uuids,
      StatusList: OPEN_VUL_STATUSES,
      Lang: 'en',
      CurrentPage: page,
      PageSize: this.vulPageSize,
    });
    const records = Array.isArray(body.VulRecords) ? (body.VulRecords as Record<string, unknown>[]) : [];
    const total = parseCount(body.TotalCount);
    const pageSize = parseCount(body.PageSize) || this.vulPageSize;
    return { records, more: records.length > 0 && (total !== null ? page * pageSize < total : records.length >= pageSize) };
  }

  /** One page of the image's vulnerabilities; the cursor is `<type>:<page>` (cve pages, then sca). */
  async listFindings(account: ProviderAccount, image: ImageRef, cursor?: string): Promise<FindingsPage> {
    if (!image.providerImageId) throw new ProviderError('terminal', 'InvalidParameter', 'an Alibaba image needs its SAS Uuid to list findings', 'invalid_parameter');
    const [typeRaw, pageRaw] = (cursor ?? 'cve:1').split(':');
    const type = VUL_TYPES.find((t) => t === typeRaw) ?? 'cve';
    const page = Math.max(1, parseCount(pageRaw) ?? 1);
    const { records, more } = await this.vulPage(account, type, image.providerImageId, page);
    const nextType = VUL_TYPES[VUL_TYPES.indexOf(type) + 1];
    const nextCursor = more ? `${type}:${page + 1}` : nextType ? `${nextType}:1` : undefined;
    const scannedAt = records.map((r) => parseMillis(r.ScanTime) ?? parseMillis(r.LastTs)).reduce<Date | null>((a, b) => (b && (!a || b > a) ? b : a), null);
    return {
      findings: records.map(normalizeVulRecord),
      ...(nextCursor ? { nextCursor } : {}),
      ...(scannedAt ? { scanCompletedAt: scannedAt } : {}),
    };
  }
}
