import { ProviderError, TENCENT_MAX_IMAGES, type TencentImageInfo, type TencentScanTarget } from '@scanq/core';
import { CallDeadline } from '@scanq/core/call-deadline';
import { Client as TcssClient } from 'tencentcloud-sdk-nodejs/tencentcloud/services/tcss/v20201101/tcss_client.js';
import type {
  CreateAssetImageRegistryScanTaskRequest,
  CreateAssetImageRegistryScanTaskResponse,
  DescribeAssetImageRegistryDetailRequest,
  DescribeAssetImageRegistryListRequest,
  DescribeAssetImageRegistryListResponse,
  DescribeAssetImageRegistryScanStatusOneKeyRequest,
  DescribeAssetImageRegistryScanStatusOneKeyResponse,
  DescribeAssetImageRegistryVulListRequest,
  DescribeAssetImageRegistryVulListResponse,
  ImageRepoInfo,
} from 'tencentcloud-sdk-nodejs/tencentcloud/services/tcss/v20201101/tcss_models.js';
import type {
  BulkCapable,
  CallGate,
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
import { observeCall, type ProviderCallObserver, type ProviderTimeouts, timeoutsOf } from '../contract.js';
import { ProviderTransport } from '../transport.js';
import { TencentCredentials, isTokenRefused } from './credentials.js';
import { isRequestLimitExceeded, toProviderError } from './errors.js';
import { normalizeImageVul } from './normalize.js';
import { imageProgressFromDetail, imageProgressFromRow, type TcssImageDetail, type TcssStatusRow } from './progress.js';

/** The TCSS actions scanq calls; each is its own 20 requests/s budget. */
interface TcssApis {
  CreateAssetImageRegistryScanTask: [CreateAssetImageRegistryScanTaskRequest, CreateAssetImageRegistryScanTaskResponse];
  DescribeAssetImageRegistryDetail: [DescribeAssetImageRegistryDetailRequest, TcssImageDetail];
  DescribeAssetImageRegistryVulList: [DescribeAssetImageRegistryVulListRequest, DescribeAssetImageRegistryVulListResponse];
  DescribeAssetImageRegistryList: [DescribeAssetImageRegistryListRequest, DescribeAssetImageRegistryListResponse];
  DescribeAssetImageRegistryScanStatusOneKey: [DescribeAssetImageRegistryScanStatusOneKeyRequest, DescribeAssetImageRegistryScanStatusOneKeyResponse];
}
type TcssApi = keyof TcssApis;

export const TCSS_ENDPOINT = 'tcss.tencentcloudapi.com';
/** Limit of the list APIs (DescribeAssetImageRegistryVulList / …List: "maximum 100"). */
const PAGE_SIZE = 100;
const ALL_SCAN_TYPES = ['CVE', 'VIRUS', 'RISK'];
/** A throttled call waits about a second (the limit is per second) and tries again, this many times. */
const THROTTLE_RETRIES = 30;
const THROTTLE_WAIT_MS = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface TencentTcssStats {
  /** Calls answered RequestLimitExceeded (each waited and was made again). */
  throttled: number;
}

/**
 * Tencent Cloud TCSS (container security, API 2020-11-01) registry-image scans through the real
 * `tencentcloud-sdk-nodejs` tcss client. Every call first passes the `CallGate` (a Redis
 * sliding-window pacer: 20 per API per account in any second across all workers); a `RequestLimitExceeded`
 * still answered by the cloud makes the call wait and go again through the gate, so the rate
 * limit never fails a scan. The SDK makes no retries of its own; other retries belong to the queue.
 */
export class TencentTcssProvider implements ScanProvider<TencentScanTarget>, BulkCapable<TencentScanTarget> {
  readonly provider = 'tencent' as const;
  private readonly clients = new Map<string, TcssClient>();
  private readonly gate: CallGate | undefined;
  private readonly counters: TencentTcssStats = { throttled: 0 };

  private readonly observer?: ProviderCallObserver;
  private readonly timeouts: ProviderTimeouts;
  private readonly transport: ProviderTransport;
  private readonly credentials: TencentCredentials;

  constructor(deps: ProviderDeps = {}) {
    this.gate = deps.callGate;
    this.observer = deps.observer;
    this.timeouts = timeoutsOf(deps);
    this.transport = new ProviderTransport(deps);
    this.credentials = new TencentCredentials(this.timeouts, this.transport, this.observer);
  }

  stats(): TencentTcssStats {
    return { ...this.counters };
  }

  private client(account: ProviderAccount): TcssClient {
    // The credential part changes with the account's secrets or source; the keys themselves are
    // asked for at every call (DynamicCredential), so a cached client never signs with stale ones.
    const key = `${account.id}|${account.endpoint ?? ''}|${account.region}|${this.credentials.key(account)}`;
    let client = this.clients.get(key);
    if (!client) {
      for (const k of this.clients.keys()) if (k.startsWith(`${account.id}|`)) this.clients.delete(k);
      // An account endpoint (the simulator) is a URL; the SDK wants host[:port] and the scheme apart.
      const url = account.endpoint ? new URL(account.endpoint) : null;
      const protocol = url ? `${url.protocol}//` : 'https://';
      client = new TcssClient({
        credential: { getCredential: () => this.credentials.get(account) },
        region: account.region,
        profile: {
          httpProfile: {
            endpoint: url ? url.host : TCSS_ENDPOINT,
            protocol,
            // Seconds; the SDK hands node-fetch reqTimeout × 1000 ms, a timer over the whole call.
            reqTimeout: this.timeouts.requestMs / 1000,
            agent: this.transport.agent(account, url ? url.protocol : 'https:'),
          },
        },
      });
      this.clients.set(key, client);
    }
    return client;
  }

  /** One TCSS call: through the gate, RequestLimitExceeded waited out, other errors classified. */
  private async call<A extends TcssApi>(account: ProviderAccount, api: A, req: TcssApis[A][0]): Promise<TcssApis[A][1]> {
    const client = this.client(account);
    const send = client[api] as unknown as (this: TcssClient, r: TcssApis[A][0]) => Promise<TcssApis[A][1]>;
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      this.transport.assertRunning();
      // Fetched (or refreshed) here, not inside the SDK, which would rewrap a failure without its code.
      const keys = await this.credentials.get(account);
      await this.gate?.acquire({ provider: 'tencent', accountId: account.id, api });
      try {
        return await observeCall(this.observer, { provider: 'tencent', accountId: account.id, api }, () => send.call(client, req));
      } catch (err) {
        const pe = this.transport.failure(err, toProviderError);
        // Temporary keys refused (expired early by the cloud's clock, or revoked): fetch new ones once.
        if (!renewed && isTokenRefused(pe.code) && this.credentials.refreshable(account)) {
          renewed = true;
          this.credentials.invalidate(account, keys);
          continue;
        }
        if (!isRequestLimitExceeded(pe.code)) throw pe;
        this.counters.throttled += 1;
        // Still throttled after many seconds (another client spends this account's budget): give
        // the job back to the queue as a quota wait instead of holding a worker.
        if (attempt >= THROTTLE_RETRIES) throw pe;
        // A call with a hard end (a create) that has no room left for the wait and another try:
        // the cloud refused it (nothing created), so its job waits as a quota wait instead.
        const deadline = CallDeadline.current();
        if (deadline && deadline.remainingMs() < 2 * THROTTLE_WAIT_MS + 100) throw pe;
        // The cloud counts per second: the next second is the earliest a retry can pass.
        await sleep(THROTTLE_WAIT_MS + Math.floor(Math.random() * 100));
      }
    }
  }

  private detail(account: ProviderAccount, req: DescribeAssetImageRegistryDetailRequest): Promise<TcssImageDetail> {
    return this.call(account, 'DescribeAssetImageRegistryDetail', req);
  }

  async resolveImages(account: ProviderAccount, target: TencentScanTarget): Promise<ImageRef[]> {
    // The documented Detail answers carry no `Id` (the request named it): an image asked for by
    // Id keeps the Id it was asked with; one asked for by ImageId finds its Id in the list.
    const found = await Promise.all([
      ...(target.repositoryIds ?? []).map(async (Id) => withId(await this.detail(account, { Id }), Id)),
      ...(target.imageIds ?? []).map(async (ImageId) => {
        const d = await this.detail(account, { ImageId });
        return typeof d.Id === 'number' ? d : this.findListed(account, d);
      }),
      ...(target.images ?? []).map((info) => this.findByName(account, info)),
    ]);
    const byId = new Map<number, TcssImageDetail | ImageRepoInfo>();
    for (const image of found) {
      if (typeof image.Id !== 'number') throw new ProviderError('terminal', 'ResourceNotFound', `TCSS returned no Id for image ${image.ImageId ?? image.ImageName ?? '?'}`, 'not_found');
      if (image.IsAuthorized === 0) {
        throw new ProviderError(
          'terminal',
          'FailedOperation.AuthorizedNotEnough',
          `image ${describe(image)} (Id ${image.Id}) is not authorized for scanning in TCSS; authorize it first`,
          'insufficient_authorization',
        );
      }
      byId.set(image.Id, image);
    }
    return [...byId.values()].map(toImageRef);
  }

  /**
   * The registry image a Detail answer without `Id` describes: the list entry of the same
   * repository address, tag and image id (DescribeAssetImageRegistryList, paged, narrowed by the
   * name filters the list takes), its Id with the Detail's own fields.
   */
  private async findListed(account: ProviderAccount, d: TcssImageDetail): Promise<TcssImageDetail> {
    const hit = await this.findByName(account, { registry: d.InstanceName ?? '', namespace: d.Namespace ?? '', name: d.ImageName ?? '', tag: d.ImageTag ?? '' }, (i) =>
      (!d.ImageId || i.ImageId === d.ImageId) && (!d.ImageRepoAddress || i.ImageRepoAddress === d.ImageRepoAddress),
    );
    return withId(d, hit.Id!);
  }

  /** Registry/namespace/name/tag → the registry image (DescribeAssetImageRegistryList, paged). */
  private async findByName(account: ProviderAccount, info: TencentImageInfo, also: (i: ImageRepoInfo) => boolean = () => true): Promise<ImageRepoInfo> {
    const filters = [
      { Name: 'InstanceName', Values: [info.registry], ExactMatch: true },
      { Name: 'Namespace', Values: [info.namespace], ExactMatch: true },
      { Name: 'ImageName', Values: [info.name], ExactMatch: true },
      { Name: 'ImageTag', Values: [info.tag], ExactMatch: true },
    ];
    // The list's filters are documented only for IsAuthorized, so matches are checked here too.
    const matches = (i: ImageRepoInfo) =>
      i.InstanceName === info.registry &&
      i.Namespace === info.namespace &&
      i.ImageName === info.name &&
      i.ImageTag === info.tag &&
      (!info.registryType || i.RegistryType === info.registryType) &&
      (!info.instanceId || i.InstanceId === info.instanceId) &&
      typeof i.Id === 'number' &&
      also(i);
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const page = await this.call(account, 'DescribeAssetImageRegistryList', { Limit: PAGE_SIZE, Offset: offset, Filters: filters });
      const hit = (page.List ?? []).find(matches);
      if (hit) return hit;
      if (!page.List?.length || offset + page.List.length >= (page.TotalCount ?? 0)) break;
    }
    throw new ProviderError('terminal', 'ResourceNotFound', `no registry image ${info.registry}/${info.namespace}/${info.name}:${info.tag} in TCSS`, 'not_found');
  }

  async latestScan(account: ProviderAccount, image: ImageRef): Promise<PriorScan | null> {
    const d = await this.detail(account, { Id: imageId(image) });
    const status = (d.ScanStatus ?? '').toUpperCase();
    const at = d.ScanTime ? new Date(d.ScanTime) : undefined;
    const when = at && !Number.isNaN(at.getTime()) ? { at } : {};
    if (status === 'SCANNING' || status === 'WAIT_SCAN') return { state: 'in_progress', ...when };
    if (status === 'SCANNED') return { state: 'complete', ...when };
    if (status === 'SCAN_ERR' || status === 'SCAN_TIMEOUT' || status === 'CANCELED') return { state: 'failed', ...when };
    return null;
  }

  async startScan(account: ProviderAccount, target: TencentScanTarget, images: ImageRef[]): Promise<StartedScan> {
    const ids = images.map(imageId);
    if (ids.length === 0) throw new ProviderError('terminal', 'InvalidParameter', 'a TCSS scan needs at least one registry image', 'invalid');
    const out = await this.call(account, 'CreateAssetImageRegistryScanTask', { Id: ids, ScanType: target.scanTypes ?? ALL_SCAN_TYPES });
    // TaskID is in the SDK model but not in the official example: the image ids identify the scan too.
    return { taskId: out.TaskID !== undefined && out.TaskID !== null ? String(out.TaskID) : `Id:${ids.join(',')}` };
  }

  /**
   * Whether an ambiguous CreateAssetImageRegistryScanTask left the images under scan. Every
   * image scanning now (SCANNING, WAIT_SCAN: a new task would only have joined that scan), or
   * whose scan ended at or after `since` (ScanTime, whole seconds), counts as started; the first
   * that is neither (never scanned, or last scanned before `since`) proves no task ran, and the
   * answer is null. Several images: one DescribeAssetImageRegistryScanStatusOneKey by Id gives
   * every status, and only an image not scanning costs a Detail call (for its ScanTime), so the
   * usual answers take one or two calls; every call goes through the gate. TCSS lists no tasks
   * by image, so the TaskID cannot be recovered: the answer is startScan's other task id shape,
   * `Id:<ids>`, and polling (which follows the images) is unchanged.
   */
  async findStartedScan(account: ProviderAccount, _target: TencentScanTarget, images: ImageRef[], since: Date): Promise<StartedScan | null> {
    const ids = images.map(imageId);
    if (ids.length === 0) return null;
    const scanning = (status: string | undefined) => ['SCANNING', 'WAIT_SCAN'].includes((status ?? '').toUpperCase());
    const rows = ids.length > 1 ? ((await this.call(account, 'DescribeAssetImageRegistryScanStatusOneKey', { Id: ids })).ImageStatus ?? []) : [];
    const sinceSecond = Math.floor(since.getTime() / 1000) * 1000;
    for (const [index, image] of images.entries()) {
      if (scanning(rows.find((r) => rowMatches(r, image))?.ScanStatus)) continue;
      const d = await this.detail(account, { Id: ids[index]! });
      if (scanning(d.ScanStatus)) continue;
      const endedAt = d.ScanTime ? new Date(d.ScanTime).getTime() : Number.NaN;
      if ((d.ScanStatus ?? '').toUpperCase() !== 'NOT_SCAN' && endedAt >= sinceSecond) continue;
      return null;
    }
    return { taskId: `Id:${ids.join(',')}` };
  }

  /**
   * Inventory for bulk scans: DescribeAssetImageRegistryList, 100 a page (its maximum), Offset
   * paging to TotalCount. Only images TCSS is authorized to scan are listed (the documented
   * `IsAuthorized` filter: a scan task naming any other fails as a whole). Namespace and image
   * name go down as filters too, which TCSS does not document: the planner checks every image
   * against the selector anyway, so a TCSS that ignores them only costs pages. Registries are
   * hosts here (ImageRepoAddress), which the list cannot filter on.
   */
  async *listImages(account: ProviderAccount, query: InventoryQuery): AsyncIterable<InventoryImage[]> {
    const filters = [{ Name: 'IsAuthorized', Values: ['1'], ExactMatch: true }];
    if (query.namespaces?.length) filters.push({ Name: 'Namespace', Values: [...new Set(query.namespaces)], ExactMatch: true });
    if (query.repositories?.length) {
      // `namespace/name`: TCSS namespaces have no slash, image names may.
      const parts = query.repositories.filter((r) => r.includes('/')).map((r) => [r.slice(0, r.indexOf('/')), r.slice(r.indexOf('/') + 1)] as const);
      if (parts.length === query.repositories.length) {
        filters.push({ Name: 'Namespace', Values: [...new Set(parts.map(([ns]) => ns))], ExactMatch: true });
        filters.push({ Name: 'ImageName', Values: [...new Set(parts.map(([, name]) => name))], ExactMatch: true });
      }
    }
    for (let offset = 0; ; ) {
      const page = await this.call(account, 'DescribeAssetImageRegistryList', { Limit: PAGE_SIZE, Offset: offset, Filters: filters });
      const list = page.List ?? [];
      yield list.filter((i) => typeof i.Id === 'number' && i.IsAuthorized !== 0).map((i) => toInventoryImage(account, i));
      offset += list.length;
      if (list.length === 0 || offset >= (page.TotalCount ?? 0)) break;
    }
  }

  /**
   * As few CreateAssetImageRegistryScanTask calls as TCSS allows: one scan per 100 images (the
   * most one task names), by registry-image Id, all scan types.
   */
  planScans(_account: ProviderAccount, images: InventoryImage[]): PlannedScan<TencentScanTarget>[] {
    const planned: PlannedScan<TencentScanTarget>[] = [];
    for (let i = 0; i < images.length; i += TENCENT_MAX_IMAGES) {
      const batch = images.slice(i, i + TENCENT_MAX_IMAGES);
      planned.push({ target: { repositoryIds: batch.map(imageId) }, images: batch });
    }
    return planned;
  }

  /**
   * One call per poll whatever the number of images. A single open image: its Detail answer
   * (the richest record, counts and errors included). Several: one
   * DescribeAssetImageRegistryScanStatusOneKey naming them all by Id, whose rows carry each
   * image's status and sub-scan progress; only an image the rows leave open to doubt (a failure,
   * whose reason the rows lack, or a row that matches no image) costs a Detail call of its own.
   * TCSS's ScanRemainTime says when to look again.
   */
  async pollScan(account: ProviderAccount, task: { target?: TencentScanTarget; images: ImageRef[] }): Promise<ScanProgress> {
    if (task.images.length <= 1) return this.pollByDetail(account, task.images);
    const ids = task.images.map(imageId);
    const out = await this.call(account, 'DescribeAssetImageRegistryScanStatusOneKey', { Id: ids });
    const rows = out.ImageStatus ?? [];
    const remain = typeof out.ScanRemainTime === 'number' && out.ScanRemainTime > 0 ? out.ScanRemainTime : null;
    const scanTypes = task.target?.scanTypes ?? ALL_SCAN_TYPES;
    const images: (ImageProgress | null)[] = task.images.map((image, index) => {
      const row = rows.find((r) => rowMatches(r, image));
      return row ? imageProgressFromRow(index, row, scanTypes, remain) : null;
    });
    const unsettled = images.flatMap((p, index) => (p ? [] : [index]));
    const details = await Promise.all(unsettled.map((index) => this.detail(account, { Id: ids[index]! })));
    unsettled.forEach((index, k) => {
      images[index] = imageProgressFromDetail(index, details[k]!);
    });
    const settled = images as ImageProgress[];
    const scanning = settled.some((i) => i.state === 'scanning');
    return { progress: overallProgress(settled), images: settled, ...(scanning && remain ? { nextPollMs: remain * 1000 } : {}) };
  }

  private async pollByDetail(account: ProviderAccount, refs: ImageRef[]): Promise<ScanProgress> {
    const details = await Promise.all(refs.map((image) => this.detail(account, { Id: imageId(image) })));
    const images: ImageProgress[] = details.map((d, index) => imageProgressFromDetail(index, d));
    const remaining = details
      .filter((_, i) => images[i]?.state === 'scanning')
      .map((d) => d.ScanRemainTime)
      .filter((s): s is number => typeof s === 'number' && s > 0);
    // The soonest image to finish decides: poll when TCSS expects it done.
    return { progress: overallProgress(images), images, ...(remaining.length ? { nextPollMs: Math.min(...remaining) * 1000 } : {}) };
  }

  async listFindings(account: ProviderAccount, image: ImageRef, cursor?: string): Promise<FindingsPage> {
    const offset = cursor ? Number.parseInt(cursor, 10) : 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ProviderError('terminal', 'InvalidParameter', `bad findings cursor ${cursor}`, 'invalid');
    const out = await this.call(account, 'DescribeAssetImageRegistryVulList', { Id: imageId(image), Limit: PAGE_SIZE, Offset: offset });
    const list = out.List ?? [];
    const next = offset + list.length;
    return {
      findings: list.map(normalizeImageVul),
      ...(list.length > 0 && next < (out.TotalCount ?? 0) ? { nextCursor: String(next) } : {}),
    };
  }
}

function imageId(image: ImageRef): number {
  const id = Number(image.providerImageId);
  if (!image.providerImageId || !Number.isSafeInteger(id)) {
    throw new ProviderError('terminal', 'InvalidParameter', `image ${image.repository} has no TCSS registry-image Id`, 'invalid');
  }
  return id;
}

const overallProgress = (images: ImageProgress[]) => Math.round(images.reduce((a, i) => a + (i.state === 'scanning' ? (i.progress ?? 0) : 100), 0) / Math.max(1, images.length));

/**
 * Whether a status row is `image`'s. Rows carry no registry-image Id: the registry host, the
 * namespace/name and the tag identify an image (a digest under several tags was merged into one
 * image, so any of its tags may be the scanned one).
 */
function rowMatches(row: TcssStatusRow, image: ImageRef): boolean {
  const host = row.ImageRepoAddress?.split('/')[0];
  return (
    `${row.Namespace ?? ''}/${row.ImageName ?? ''}` === image.repository &&
    !!row.ImageTag &&
    image.tags.includes(row.ImageTag) &&
    (!host || host === image.registry || row.InstanceName === image.registry)
  );
}

/** A Detail answer with the registry-image Id it was asked for (the answer's own, where it has one). */
const withId = (d: TcssImageDetail, id: number): TcssImageDetail => (typeof d.Id === 'number' ? d : { ...d, Id: id });

function describe(i: TcssImageDetail | ImageRepoInfo): string {
  return `${i.InstanceName ?? '?'}/${i.Namespace ?? '?'}/${i.ImageName ?? '?'}:${i.ImageTag ?? '?'}`;
}

/** A TCSS registry image as scanq tracks it: registry host, namespace/name, tag, digest, Id. */
function toImageRef(i: TcssImageDetail | ImageRepoInfo): ImageRef {
  const host = i.ImageRepoAddress?.split('/')[0];
  return {
    registry: host || i.InstanceName || '',
    repository: [i.Namespace, i.ImageName].filter(Boolean).join('/'),
    tags: i.ImageTag ? [i.ImageTag] : [],
    digest: i.ImageDigest || null,
    providerImageId: String(i.Id),
  };
}

/** A DescribeAssetImageRegistryList item as bulk-scan inventory (the item kept as `raw`). */
function toInventoryImage(account: ProviderAccount, i: ImageRepoInfo): InventoryImage {
  const created = i.ImageCreateTime ? new Date(i.ImageCreateTime) : null;
  return {
    ...toImageRef(i),
    pushedAt: created && !Number.isNaN(created.getTime()) ? created : null,
    namespace: i.Namespace || null,
    // Personal CCR reports RegistryRegion `default`: the account's region then.
    region: i.RegistryRegion && i.RegistryRegion !== 'default' ? i.RegistryRegion : account.region,
    raw: i,
  };
}
