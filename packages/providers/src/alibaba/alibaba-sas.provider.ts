import { type AlibabaScanTarget, ProviderError } from '@scanq/core';
import type { FindingsPage, ImageProgress, ImageRef, PriorScan, ProviderAccount, ProviderDeps, ScanProgress, ScanProvider, StartedScan } from '../contract.js';
import { instanceCriteria, matchesTarget, taskParams } from './criteria.js';
import { instanceRaw, normalizeVulRecord, parseCount, parseInstance, parseMillis, type SasImageInstance, toImageRef } from './normalize.js';
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
}

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
export class AlibabaSasProvider implements ScanProvider<AlibabaScanTarget> {
  readonly provider = 'alibaba' as const;
  private readonly sas: SasClient;
  private readonly instancesPageSize: number;
  private readonly vulPageSize: number;

  constructor(deps: ProviderDeps = {}, options: AlibabaProviderOptions = {}) {
    this.sas = new SasClient(deps.callGate);
    this.instancesPageSize = options.instancesPageSize ?? 100;
    this.vulPageSize = options.vulPageSize ?? 50;
  }

  /**
   * Every image the filters match, reading every page of DescribeImageInstances (Criteria
   * narrows, the exact filter decides). Deduplicated by Uuid: a listing that shifts while it is
   * paged may repeat an item.
   */
  async listMatchingImages(account: ProviderAccount, target: AlibabaScanTarget): Promise<SasImageInstance[]> {
    const criteria = instanceCriteria(target);
    const seen = new Map<string, SasImageInstance>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const body = await this.sas.call(account, 'DescribeImageInstances', { ...criteria, CurrentPage: page, PageSize: this.instancesPageSize });
      const list = Array.isArray(body.ImageInstanceList) ? (body.ImageInstanceList as Record<string, unknown>[]) : [];
      for (const item of list) {
        const instance = parseInstance(item);
        if (instance.uuid && matchesTarget(target, item) && !seen.has(instance.uuid)) seen.set(instance.uuid, instance);
      }
      const info = (body.PageInfo ?? {}) as Record<string, unknown>;
      const total = parseCount(info.TotalCount) ?? parseCount(body.TotalCount);
      const pageSize = parseCount(info.PageSize) || this.instancesPageSize;
      if (list.length === 0 || (total !== null ? page * pageSize >= total : list.length < pageSize)) break;
    }
    return [...seen.values()];
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
    const check = await this.checkAuthorizations(account, target);
    if (check.needed > check.remaining) {
      throw new ProviderError(
        'terminal',
        'InsufficientAuthorization',
        `the task would cover ${check.images} image(s) and consume ${check.needed} image-scan authorization(s); ${check.remaining} remain`,
        'insufficient_authorization',
      );
    }
    const body = await this.sas.call(account, 'PublicCreateImageScanTask', taskParams(target));
    const data = (body.Data ?? {}) as Record<string, unknown>;
    const taskId = typeof data.TaskId === 'string' ? data.TaskId : '';
    if (!taskId) throw new ProviderError('retryable', 'NoTaskId', `PublicCreateImageScanTask answered without a TaskId (request id ${String(body.RequestId ?? '?')})`);
    return { taskId, canCreate: data.CanCreate !== false };
  }

  /** One listing of the scan's images serves every open image on each page. */
  async pollScan(account: ProviderAccount, task: { taskId: string; target: AlibabaScanTarget; images: ImageRef[] }): Promise<ScanProgress> {
    const listed = new Map((await this.listMatchingImages(account, task.target)).map((i) => [i.uuid, i]));
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
    const done = images.filter((i) => i.state !== 'scanning').length;
    const partial = images.reduce((sum, i) => sum + (i.state === 'scanning' ? (i.progress ?? 0) : 100), 0);
    return { progress: Math.round(images.length ? Math.max((done / images.length) * 100, partial / images.length) : 100), images };
  }

  /** One page of the image's vulnerabilities; the cursor is `<type>:<page>` (cve pages, then sca). */
  async listFindings(account: ProviderAccount, image: ImageRef, cursor?: string): Promise<FindingsPage> {
    if (!image.providerImageId) throw new ProviderError('terminal', 'InvalidParameter', 'an Alibaba image needs its SAS Uuid to list findings', 'invalid_parameter');
    const [typeRaw, pageRaw] = (cursor ?? 'cve:1').split(':');
    const type = VUL_TYPES.find((t) => t === typeRaw) ?? 'cve';
    const page = Math.max(1, parseCount(pageRaw) ?? 1);
    const body = await this.sas.call(account, 'DescribeImageVulList', {
      Type: type,
      Uuids: image.providerImageId,
      StatusList: OPEN_VUL_STATUSES,
      Lang: 'en',
      CurrentPage: page,
      PageSize: this.vulPageSize,
    });
    const records = Array.isArray(body.VulRecords) ? (body.VulRecords as Record<string, unknown>[]) : [];
    const total = parseCount(body.TotalCount);
    const pageSize = parseCount(body.PageSize) || this.vulPageSize;
    const more = records.length > 0 && (total !== null ? page * pageSize < total : records.length >= pageSize);
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
