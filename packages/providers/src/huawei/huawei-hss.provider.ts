import { HSS_MAX_BATCH_IMAGES, type HuaweiScanTarget, ProviderError, type ScanReason } from '@scanq/core';
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
  ScanProgress,
  ScanProvider,
  StartedScan,
} from '../contract.js';
import { type ProviderDeps, timeoutsOf } from '../contract.js';
import { ProviderTransport } from '../transport.js';
import { type HssApi, HssClients, type Query } from './client.js';
import { coveredSince, taskIdOf, taskOf } from './batch-task.js';
import { ImageLister, LIST_PAGE, type ListScope } from './listing.js';
import { normalizeImageVulnerability } from './normalize.js';
import { type HssImageKey, type ListImageType, type RepositoryImage, count, keyOfRef, keyString, parseRepositoryImage, refOf, registryOf, text } from './wire.js';

/** scan_status values (ListSwrImageRepository) and what they mean for an image scanq follows. */
const RUNNING = new Set(['scanning', 'waiting_for_scan', 'unscan']);
const FAILED_REASON: Record<string, ScanReason> = {
  failed: 'scan_failed',
  download_failed: 'scan_failed',
  image_oversized: 'unsupported_image_type',
};
/** scan_failed_desc values that say more than the status does. */
const FAILED_DESC_REASON: Record<string, ScanReason> = {
  authentication_failed: 'no_permission',
  image_oversized: 'unsupported_image_type',
};

/** ListImageVulnerabilities' largest page (documented `limit` 10–200). */
const VULN_PAGE = 200;
/** Images whose first findings page is fetched at once while a poll settles many. */
const FINDINGS_PARALLEL = 8;
/**
 * Vulnerable images settled per poll. Their findings are stored in one transaction
 * (ScanRepository.completeImages), which must finish within Prisma's transaction timeout; the
 * rest stay open and the next poll comes at once (nextPollMs) to settle them.
 */
const FINDINGS_IMAGES_PER_POLL = 200;
/**
 * A scan counts as this scan's result when it completed after the batch-scan call, less this
 * margin for clock skew between the worker and HSS (the SDK signature itself tolerates 15 min).
 */
const CLOCK_MARGIN_MS = 60_000;

/** scan_status values of a finished scan that failed (the FAILED_REASON keys). */
const FAILED_STATUSES = Object.keys(FAILED_REASON);
/**
 * Scans of more images than this first try to settle by counts (three calls, then the vulnerable
 * and failed images' pages) before listing every scanned image (one call per 200): below it,
 * the listing is as cheap.
 */
const COUNT_SETTLE_MIN_IMAGES = 3 * LIST_PAGE;

/** Per-account settings this adapter reads (besides projectId). */
function collectsFindings(account: ProviderAccount): boolean {
  // Each vulnerable image costs at least one ListImageVulnerabilities call (HSS has no
  // cross-image finding list), so an account may opt out and keep only statuses and vul_num.
  return account.settings.collectFindings !== false;
}

function keyOf(ref: ImageRef): HssImageKey {
  const key = keyOfRef(ref);
  if (!key) throw new ProviderError('terminal', 'InvalidImage', `not an HSS image reference: ${ref.registry} ${ref.repository}:${ref.tags.join(',')}`, 'invalid');
  return key;
}

/** What ListSwrImageRepository lists of SWR: every registry image type scanq scans. */
const INVENTORY_TYPES: ListImageType[] = ['private_image', 'shared_image', 'instance_image'];
/** ListSwrImageRepository's bounds on the name filters: longer names cannot exist, so they are not asked for. */
const MAX_NAMESPACE = 256;
const MAX_IMAGE_NAME = 128;
/** BatchScanSwrImageInfo.instance_url bound. */
const MAX_INSTANCE_URL = 256;

/**
 * The list queries that cover an inventory query: the image types its registries name (all
 * three when none), each narrowed to its repositories (namespace + image_name) or namespaces,
 * which HSS filters server-side. A registry that is no HSS image type is an instance id.
 */
function inventoryScopes(query: InventoryQuery): ListScope[] {
  const types: ListScope[] = [];
  if (query.registries?.length) {
    const seen = new Set<string>();
    for (const registry of query.registries) {
      if (seen.has(registry)) continue;
      seen.add(registry);
      // A bare id (not `private_image`, `shared_image` or `instance_image/<id>`) is an SWR Enterprise instance's.
      const key = keyOfRef({ registry, repository: 'n/i', tags: ['v'] }) ?? { imageType: 'instance_image' as const, instanceId: registry };
      types.push({ image_type: key.imageType, ...(key.instanceId ? { instance_id: key.instanceId } : {}) });
    }
  } else {
    types.push(...INVENTORY_TYPES.map((image_type) => ({ image_type })));
  }
  let names: { namespace?: string; image_name?: string }[] = [{}];
  if (query.repositories?.length) {
    names = [];
    for (const repository of new Set(query.repositories)) {
      const slash = repository.indexOf('/');
      const namespace = repository.slice(0, slash);
      const imageName = repository.slice(slash + 1);
      if (slash <= 0 || !imageName || namespace.length > MAX_NAMESPACE || imageName.length > MAX_IMAGE_NAME) continue;
      if (query.namespaces?.length && !query.namespaces.includes(namespace)) continue;
      names.push({ namespace, image_name: imageName });
    }
  } else if (query.namespaces?.length) {
    names = [...new Set(query.namespaces)].filter((n) => n.length > 0 && n.length <= MAX_NAMESPACE).map((namespace) => ({ namespace }));
  }
  return types.flatMap((t) => names.map((n) => ({ ...t, ...n })));
}

function inventoryImageOf(img: RepositoryImage, region: string): InventoryImage {
  const pushed = count(img.raw.latest_update_time);
  return { ...refOf(img), pushedAt: pushed ? new Date(pushed) : null, namespace: img.key.namespace, region };
}

/**
 * The list entry an earlier poll stored for `key` (ImageRef.raw), when it shows a scan that
 * succeeded since this batch scan began: the image is settled and only waits for its findings.
 */
function settledEntry(raw: unknown, key: HssImageKey, since: number): RepositoryImage | undefined {
  const entry = raw === undefined || raw === null ? undefined : parseRepositoryImage(raw, key.imageType);
  if (!entry || keyString(entry.key) !== keyString(key)) return undefined;
  return entry.scanStatus === 'success' && entry.latestScanTime !== undefined && entry.latestScanTime >= since ? entry : undefined;
}

/** Images listed in the request that HSS did not list: kept as rows, reported failed on the first poll. */
const isMissing = (ref: ImageRef): boolean => !ref.digest && !ref.providerImageId;

/**
 * Huawei Cloud HSS v5 container-image scans of SWR images (BatchScanSwrImage), through
 * `@huaweicloud/huaweicloud-sdk-core` only. Progress and results come from the image list
 * (ListSwrImageRepository, 200 images per call), findings from ListImageVulnerabilities for
 * images whose list entry shows vulnerabilities.
 */
export class HuaweiHssProvider implements ScanProvider<HuaweiScanTarget>, BulkCapable<HuaweiScanTarget> {
  readonly provider = 'huawei' as const;
  private readonly clients: HssClients;

  constructor(deps: ProviderDeps = {}) {
    this.clients = new HssClients(timeoutsOf(deps), new ProviderTransport(deps), deps.observer);
  }

  private region(account: ProviderAccount, target?: HuaweiScanTarget): string {
    return target?.region || account.region;
  }

  private lister(account: ProviderAccount, target: HuaweiScanTarget): ImageLister {
    return new ImageLister(this.clients.for(account), this.region(account, target), target.enterprise_project_id);
  }

  /** The filters of an operate_all request as ListSwrImageRepository query parameters (0/false = no restriction). */
  private operateAllScope(target: HuaweiScanTarget): ListScope {
    const positive = (n: number | undefined) => (n ? n : undefined);
    return {
      image_type: target.image_type,
      namespace: target.namespace,
      image_name: target.image_name,
      image_version: target.image_version,
      scan_status: target.scan_status,
      latest_version: target.latest_version || undefined,
      image_size: positive(target.image_size),
      start_latest_update_time: positive(target.start_latest_update_time),
      end_latest_update_time: positive(target.end_latest_update_time),
      start_latest_scan_time: positive(target.start_latest_scan_time),
      end_latest_scan_time: positive(target.end_latest_scan_time),
    };
  }

  private static requestedKey(target: HuaweiScanTarget, entry: NonNullable<HuaweiScanTarget['image_info_list']>[number]): HssImageKey {
    return entry.instance_id
      ? { imageType: 'instance_image', instanceId: entry.instance_id, namespace: entry.namespace, imageName: entry.image_name, imageVersion: entry.image_version }
      : { imageType: target.image_type, namespace: entry.namespace, imageName: entry.image_name, imageVersion: entry.image_version };
  }

  /**
   * Inventory for bulk scans: ListSwrImageRepository (200 per page, the API's largest) per
   * image type, narrowed server-side to the query's repositories or namespaces. Every tag is
   * its own entry with its digest; the planner merges tags of one digest.
   */
  async *listImages(account: ProviderAccount, query: InventoryQuery): AsyncIterable<InventoryImage[]> {
    const lister = new ImageLister(this.clients.for(account), this.region(account));
    for (const scope of inventoryScopes(query)) {
      for await (const page of lister.pages(scope)) if (page.length > 0) yield page.map((img) => inventoryImageOf(img, this.region(account)));
    }
  }

  /**
   * The fewest BatchScanSwrImage calls: one scan per image type (enterprise-edition images go
   * with private_image, named by instance_id, as the API takes them) and per 10241 images (the
   * request's list bound), chunks balanced and sorted by repository so a poll's list cover stays
   * narrow. Each is an explicit image list: operate_all would also scan the tags the planner
   * merged or skipped and images pushed after listing, and saves at most ⌈N/10241⌉−1 calls.
   */
  planScans(_account: ProviderAccount, images: InventoryImage[]): PlannedScan<HuaweiScanTarget>[] {
    const byType = new Map<HuaweiScanTarget['image_type'], { image: InventoryImage; key: HssImageKey }[]>();
    for (const image of images) {
      const key = keyOf(image);
      const type = key.imageType === 'shared_image' ? 'shared_image' : 'private_image';
      const members = byType.get(type);
      if (members) members.push({ image, key });
      else byType.set(type, [{ image, key }]);
    }
    const planned: PlannedScan<HuaweiScanTarget>[] = [];
    for (const [imageType, members] of byType) {
      members.sort((a, b) => keyString(a.key).localeCompare(keyString(b.key)));
      const chunks = Math.ceil(members.length / HSS_MAX_BATCH_IMAGES);
      const size = Math.ceil(members.length / chunks);
      for (let i = 0; i < members.length; i += size) {
        const chunk = members.slice(i, i + size);
        planned.push({
          target: {
            image_type: imageType,
            image_info_list: chunk.map(({ image, key }) => {
              const url = text((image.raw as Record<string, unknown> | undefined)?.instance_url);
              return {
                namespace: key.namespace,
                image_name: key.imageName,
                image_version: key.imageVersion,
                ...(key.instanceId ? { instance_id: key.instanceId } : {}),
                ...(key.instanceId && url && url.length <= MAX_INSTANCE_URL ? { instance_url: url } : {}),
              };
            }),
          },
          images: chunk.map(({ image }) => image),
        });
      }
    }
    return planned;
  }

  /**
   * operate_all: every image the filters select now (listed, paged). An image list: each listed
   * image looked up by the cheapest list cover; images HSS does not know stay in the scan with
   * no digest and fail on the first poll (`image_not_found`), the rest are scanned.
   */
  async resolveImages(account: ProviderAccount, target: HuaweiScanTarget): Promise<ImageRef[]> {
    const lister = this.lister(account, target);
    if (target.operate_all) {
      const seen = new Map<string, RepositoryImage>();
      for (const img of await lister.all(this.operateAllScope(target))) seen.set(keyString(img.key), img);
      if (seen.size === 0) throw new ProviderError('terminal', 'NoImagesMatched', `no ${target.image_type} matches the operate_all filters`, 'no_images_matched');
      return [...seen.values()].map(refOf);
    }
    const requested = new Map<string, HssImageKey>();
    for (const entry of target.image_info_list ?? []) {
      const key = HuaweiHssProvider.requestedKey(target, entry);
      requested.set(keyString(key), key);
    }
    const found = await lister.cover([...requested.values()]);
    const refs = [...requested.entries()].map(([k, key]) => {
      const img = found.get(k);
      return img ? refOf(img) : { registry: registryOf(key), repository: `${key.namespace}/${key.imageName}`, tags: [key.imageVersion], digest: null, providerImageId: null };
    });
    if (refs.every(isMissing)) throw new ProviderError('terminal', 'ImageNotFound', `HSS lists none of the ${refs.length} requested images`, 'image_not_found');
    return refs;
  }

  async latestScan(account: ProviderAccount, image: ImageRef): Promise<PriorScan | null> {
    const key = keyOf(image);
    const lister = new ImageLister(this.clients.for(account), this.region(account));
    const img = (await lister.cover([key])).get(keyString(key));
    if (!img) return null;
    const at = img.latestScanTime ? new Date(img.latestScanTime) : undefined;
    if (img.scanStatus === 'success') return { state: 'complete', ...(at ? { at } : {}) };
    if (img.scanStatus && FAILED_REASON[img.scanStatus]) return { state: 'failed', ...(at ? { at } : {}) };
    if (img.scanStatus === 'scanning' || img.scanStatus === 'waiting_for_scan') return { state: 'in_progress' };
    return null;
  }

  /**
   * BatchScanSwrImage with explicit image lists of at most 10241 (the API's maximum), one call
   * per chunk. operate_all requests are sent as the list resolved from their filters too, so the
   * scan covers exactly the images it tracks (an image pushed between listing and scanning is
   * not scanned unseen). The API answers an empty 200 and no task id.
   */
  async startScan(account: ProviderAccount, target: HuaweiScanTarget, images: ImageRef[]): Promise<StartedScan> {
    const api = this.clients.for(account);
    const instanceUrls = new Map<string, string>();
    for (const entry of target.image_info_list ?? []) {
      if (entry.instance_url !== undefined) instanceUrls.set(keyString(HuaweiHssProvider.requestedKey(target, entry)), entry.instance_url);
    }
    const list = images.filter((i) => !isMissing(i)).map((ref) => {
      const key = keyOf(ref);
      const url = instanceUrls.get(keyString(key));
      return {
        namespace: key.namespace,
        image_name: key.imageName,
        image_version: key.imageVersion,
        ...(key.instanceId ? { instance_id: key.instanceId } : {}),
        ...(url !== undefined ? { instance_url: url } : {}),
      };
    });
    const startedAt = Date.now();
    for (let i = 0; i < list.length; i += HSS_MAX_BATCH_IMAGES) {
      await api.send({
        api: 'BatchScanSwrImage',
        method: 'POST',
        url: '/v5/{project_id}/image/batch-scan',
        region: this.region(account, target),
        query: { enterprise_project_id: target.enterprise_project_id },
        body: { image_type: target.image_type, ...(target.repo_type ? { repo_type: target.repo_type } : {}), image_info_list: list.slice(i, i + HSS_MAX_BATCH_IMAGES) },
      });
    }
    return { taskId: taskIdOf(startedAt, list.length) };
  }

  /**
   * After an ambiguous BatchScanSwrImage (which answers no task id): the images' list entries
   * (ListSwrImageRepository, the cheapest cover, 200 a call) show whether the call took effect.
   * Every image scanning or queued (a new call would have left it to that scan), or whose latest
   * scan ended at or after `since`, means it did: the answer is startScan's task id as of
   * `since`, so polling counts scans from then. One image listed otherwise (never scanned, last
   * scanned earlier, or not listed at all) means it did not (or only in part, for a scan split
   * into several calls): null, and starting again leaves images already scanning alone.
   */
  async findStartedScan(account: ProviderAccount, target: HuaweiScanTarget, images: ImageRef[], since: Date): Promise<StartedScan | null> {
    const keys = images.filter((i) => !isMissing(i)).map(keyOf);
    if (keys.length === 0) return null;
    const listed = await this.lister(account, target).cover(keys);
    return coveredSince(keys, listed, since.getTime()) ? { taskId: taskIdOf(since.getTime(), keys.length) } : null;
  }

  /**
   * One pass over the image list restricted to scans completed since the batch scan began
   * (`start_latest_scan_time`): images on it carry their outcome; open images not on it are
   * still scanning. Successful images get their first findings page here (with the scan's
   * completion time), or an empty one when the list shows no vulnerabilities. A scan of more
   * than COUNT_SETTLE_MIN_IMAGES first tries settledByCounts, which lists only the vulnerable
   * and failed images once all are done.
   */
  async pollScan(account: ProviderAccount, task: { taskId: string; target: HuaweiScanTarget; images: ImageRef[] }): Promise<ScanProgress> {
    const { startedAt, tracked } = taskOf(task.taskId);
    const since = Math.max(1, startedAt - CLOCK_MARGIN_MS);
    const keys = task.images.map((ref) => (isMissing(ref) ? undefined : keyOf(ref)));
    const lister = this.lister(account, task.target);
    const collect = collectsFindings(account);
    // Images an earlier poll saw succeed but left open (findings deferred) are not listed again.
    const known = new Map<string, RepositoryImage>();
    for (const [i, key] of keys.entries()) {
      const seen = key && settledEntry(task.images[i]?.raw, key, since);
      if (seen) known.set(keyString(seen.key), seen);
    }
    const wanted = keys.filter((k): k is HssImageKey => k !== undefined && !known.has(keyString(k)));
    let finished: Map<string, RepositoryImage> | undefined;
    if (wanted.length > 0 && tracked !== undefined && tracked > COUNT_SETTLE_MIN_IMAGES) {
      const scope = this.trackedScope(task.target, startedAt);
      if (scope) finished = await this.settledByCounts(lister, scope, since, tracked, collect);
    }
    // Settled by counts: an image not listed is one of the counted clean successes.
    const unlistedAreClean = finished !== undefined;
    finished ??= wanted.length > 0 ? await lister.cover(wanted, { start_latest_scan_time: since }) : new Map<string, RepositoryImage>();
    for (const [k, img] of known) finished.set(k, img);
    const images: ImageProgress[] = [];
    const succeeded: { progress: ImageProgress; img: RepositoryImage }[] = [];
    let deferred = 0;
    let fetching = 0;
    for (const [index, key] of keys.entries()) {
      if (!key) {
        images.push({ index, state: 'failed', reason: 'image_not_found', message: 'HSS does not list this image' });
        continue;
      }
      const img = finished.get(keyString(key));
      if (!img && unlistedAreClean) {
        images.push({ index, state: 'succeeded', progress: 100, firstPage: { findings: [] } });
        continue;
      }
      const status = img?.scanStatus ?? '';
      if (!img || RUNNING.has(status)) {
        images.push({ index, state: 'scanning', ...(img ? { raw: img.raw } : {}) });
      } else if (status === 'success' && collect && img.vulNum !== 0 && fetching >= FINDINGS_IMAGES_PER_POLL) {
        images.push({ index, state: 'scanning', progress: 100, raw: img.raw });
        deferred++;
      } else if (status === 'success') {
        if (collect && img.vulNum !== 0) fetching++;
        const progress: ImageProgress = { index, state: 'succeeded', progress: 100, raw: img.raw };
        images.push(progress);
        succeeded.push({ progress, img });
      } else {
        const desc = img.scanFailedDesc;
        const reason = (desc && FAILED_DESC_REASON[desc]) || FAILED_REASON[status] || 'scan_failed';
        images.push({ index, state: 'failed', reason, message: desc ? `${status}: ${desc}` : status, raw: img.raw });
      }
    }
    const api = this.clients.for(account);
    for (let i = 0; i < succeeded.length; i += FINDINGS_PARALLEL) {
      await Promise.all(
        succeeded.slice(i, i + FINDINGS_PARALLEL).map(async ({ progress, img }) => {
          const scanCompletedAt = img.latestScanTime ? new Date(img.latestScanTime) : undefined;
          // vul_num 0 (or findings not collected): nothing to fetch. Unknown vul_num: fetch.
          const page: FindingsPage = !collect || img.vulNum === 0 ? { findings: [] } : await this.vulnerabilityPage(api, this.region(account, task.target), img.key, img.imageId ?? '', 0, task.target.enterprise_project_id);
          progress.firstPage = { ...page, ...(scanCompletedAt ? { scanCompletedAt } : {}) };
        }),
      );
    }
    const done = images.filter((i) => i.state !== 'scanning').length;
    return { progress: Math.floor((done / Math.max(1, images.length)) * 100), images, ...(deferred > 0 ? { nextPollMs: 1 } : {}) };
  }

  /**
   * The list query that selects exactly the images a scan tracks, where one can: an operate_all
   * request's own filters less those a scan changes (scan status and time), or an image list
   * of one type (and instance; namespace and repository where all share them). Bounded to
   * images updated before the batch scan (plus the clock margin): an image pushed meanwhile
   * is not one the scan tracks.
   */
  private trackedScope(target: HuaweiScanTarget, startedAt: number): ListScope | undefined {
    const updatedBefore = startedAt + CLOCK_MARGIN_MS;
    if (target.operate_all) {
      const { scan_status: _status, start_latest_scan_time: _from, end_latest_scan_time: _to, ...stable } = this.operateAllScope(target);
      const end = typeof stable.end_latest_update_time === 'number' ? Math.min(stable.end_latest_update_time, updatedBefore) : updatedBefore;
      return { ...stable, end_latest_update_time: end };
    }
    const keys = (target.image_info_list ?? []).map((entry) => HuaweiHssProvider.requestedKey(target, entry));
    const [first] = keys;
    if (!first || keys.some((k) => k.imageType !== first.imageType || k.instanceId !== first.instanceId)) return undefined;
    const oneNamespace = keys.every((k) => k.namespace === first.namespace);
    const oneRepository = oneNamespace && keys.every((k) => k.imageName === first.imageName);
    return {
      image_type: first.imageType,
      ...(first.instanceId ? { instance_id: first.instanceId } : {}),
      ...(oneNamespace ? { namespace: first.namespace } : {}),
      ...(oneRepository ? { image_name: first.imageName } : {}),
      end_latest_update_time: updatedBefore,
    };
  }

  /**
   * Settles a large scan in a few calls where counts prove it: the tracked scope holds exactly
   * the scan's images, every one completed a scan since the batch scan began, and the clean
   * successes (counted) plus the vulnerable and failed ones (listed by filter) add up to all
   * of them. Returns the listed images (any other is a clean success), or undefined, and the
   * caller lists every scanned image, when the counts do not add up (an image the scan does not
   * track in the scope, one still scanning, one queued again) or when the images to list are
   * most of them anyway (then this cost three calls).
   */
  private async settledByCounts(lister: ImageLister, scope: ListScope, since: number, tracked: number, collect: boolean): Promise<Map<string, RepositoryImage> | undefined> {
    if ((await lister.count(scope)) !== tracked) return undefined;
    const completed: ListScope = { ...scope, start_latest_scan_time: since };
    if ((await lister.count(completed)) !== tracked) return undefined;
    // Without findings to collect, a success is clean whatever its vul_num.
    const clean = await lister.count({ ...completed, scan_status: 'success', ...(collect ? { has_vul: false } : {}) });
    if (clean === undefined || Math.ceil((tracked - clean) / LIST_PAGE) + 1 >= Math.ceil(tracked / LIST_PAGE)) return undefined;
    const listed = new Map<string, RepositoryImage>();
    const keep = (images: RepositoryImage[]) => {
      for (const img of images) listed.set(keyString(img.key), img);
    };
    let unaccounted = tracked - clean;
    if (collect && unaccounted > 0) {
      const vulnerable = await lister.all({ ...completed, scan_status: 'success', has_vul: true });
      keep(vulnerable);
      unaccounted -= vulnerable.length;
    }
    for (const status of FAILED_STATUSES) {
      if (unaccounted <= 0) break;
      const failed = await lister.all({ ...completed, scan_status: status });
      keep(failed);
      unaccounted -= failed.length;
    }
    return unaccounted === 0 ? listed : undefined;
  }

  /** Findings of one image, a page of 200 at a time; the cursor is the next offset. */
  async listFindings(account: ProviderAccount, image: ImageRef, cursor?: string): Promise<FindingsPage> {
    if (!collectsFindings(account) || isMissing(image)) return { findings: [] };
    const offset = cursor === undefined ? 0 : count(cursor);
    if (offset === undefined) throw new ProviderError('terminal', 'InvalidCursor', `bad findings cursor ${cursor}`, 'invalid');
    return this.vulnerabilityPage(this.clients.for(account), account.region, keyOf(image), image.providerImageId ?? '', offset);
  }

  private async vulnerabilityPage(api: HssApi, region: string, key: HssImageKey, imageId: string, offset: number, enterpriseProjectId?: string): Promise<FindingsPage> {
    const query: Query = {
      enterprise_project_id: enterpriseProjectId,
      image_type: key.imageType,
      namespace: key.namespace,
      image_name: key.imageName,
      tag_name: key.imageVersion,
      instance_id: key.instanceId,
      offset,
      limit: VULN_PAGE,
    };
    const res = await api.send<{ total_num?: unknown; data_list?: unknown }>({
      api: 'ListImageVulnerabilities',
      method: 'GET',
      url: '/v5/{project_id}/image/{image_id}/vulnerabilities',
      pathParams: { image_id: imageId },
      region,
      query,
    });
    const list = Array.isArray(res.data_list) ? res.data_list : [];
    const findings = list.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null).map(normalizeImageVulnerability);
    const total = count(res.total_num);
    const next = offset + list.length;
    const more = list.length > 0 && (total === undefined ? list.length === VULN_PAGE : next < total);
    return { findings, ...(more ? { nextCursor: String(next) } : {}) };
  }
}
