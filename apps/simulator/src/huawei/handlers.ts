import type { SimRequest, SimResponse } from '../core/frontend.js';
import { InvalidParameter, hssError } from './errors.js';
import { type ImageFilter, matchesScan, matchesSeed, needsScanView } from './filters.js';
import { findingsFor } from './findings.js';
import type { AccountInventory, HssAccount, HssImageType, SeededImage } from './inventory.js';
import type { HssOptions } from './options.js';
import { type AccountScans, SCAN_STATUSES, type ScanView } from './scans.js';
import { jsonBody, ok, validated } from './respond.js';
import { BodyReader, QueryReader, isObject } from './validation.js';

/** What the handlers need from the front end: options, per-account inventory and scan state. */
export interface HssRuntime {
  options: HssOptions;
  now(): number;
  inventory(account: HssAccount): AccountInventory;
  scans(account: HssAccount): AccountScans;
  recordBatchScan(entry: BatchScanCall): void;
  /** Counts a scan task (a batch-scan call that selected images, or a manual task) over these images. */
  taskCreated(account: HssAccount, images: readonly SeededImage[]): void;
}

/** One BatchScanSwrImage call as state() reports it. */
export interface BatchScanCall {
  at: number;
  account: string;
  region: string;
  imageType: string;
  operateAll: boolean;
  /** Entries in image_info_list (0 for operate_all). */
  listed: number;
  /** Images the call selected (listed images found, or operate_all matches). */
  matched: number;
  /** Listed entries that matched no image (silently ignored, as the API returns nothing per image). */
  unmatched: number;
  /** Selected images that started scanning (already-running scans are left alone). */
  started: number;
  filters?: Record<string, unknown>;
}

const MAX_LONG_FILTER = 2147483547;
const BATCH_IMAGE_TYPES = ['private_image', 'shared_image'] as const;
const BATCH_SCAN_STATUSES = ['unscan', 'success', 'scanning', 'failed', 'download_failed', 'image_oversized'] as const;
const LIST_IMAGE_TYPES = ['private_image', 'shared_image', 'local_image', 'instance_image'] as const;
const VUL_IMAGE_TYPES = ['private_image', 'shared_image', 'instance_image', 'cicd', 'harbor', 'jfrog'] as const;

function regionHeader(req: SimRequest, required: boolean): string | undefined {
  const raw = req.headers.region;
  const region = Array.isArray(raw) ? raw[0] : raw;
  if (region === undefined) {
    if (required) throw new InvalidParameter('region', 'must not be null');
    return undefined;
  }
  if (region.length > 128) throw new InvalidParameter('region', 'length must be between 0 and 128');
  return region;
}

/** POST /v5/{project_id}/image/batch-scan — every field and bound of the published request. */
export function batchScanSwrImage(req: SimRequest, account: HssAccount, rt: HssRuntime): SimResponse {
  const parsed = jsonBody(req);
  if ('error' in parsed) return parsed.error;
  const { body } = parsed;

  return validated(() => {
    const region = regionHeader(req, true) as string;
    new QueryReader(req.query).string('enterprise_project_id', 1, 256);
    const b = new BodyReader(body);
    b.enumOf('repo_type', ['SWR'] as const, 1, 32);
    const list = b.array('image_info_list', 0, 10241);
    const items = (list ?? []).map((entry, i) => {
      const prefix = `image_info_list[${i}].`;
      if (!isObject(entry)) throw new InvalidParameter(`image_info_list[${i}]`, 'must be an object');
      const r = new BodyReader(entry, prefix);
      return {
        namespace: r.string('namespace', 1, 64),
        imageName: r.string('image_name', 1, 128),
        imageVersion: r.string('image_version', 1, 128),
        instanceId: r.string('instance_id', 1, 128),
        instanceUrl: r.string('instance_url', 0, 256),
      };
    });
    const operateAll = b.boolean('operate_all') ?? false;
    const filter: ImageFilter = {
      namespace: b.string('namespace', 1, 256),
      imageName: b.string('image_name', 1, 256),
      imageVersion: b.string('image_version', 1, 256),
    };
    const imageType = b.enumOf('image_type', BATCH_IMAGE_TYPES, 1, 32, true) as HssImageType;
    filter.scanStatus = b.enumOf('scan_status', BATCH_SCAN_STATUSES, 1, 32);
    filter.latestVersion = b.boolean('latest_version');
    filter.imageSize = b.long('image_size', 0, MAX_LONG_FILTER);
    filter.startLatestUpdateTime = b.long('start_latest_update_time', 0, MAX_LONG_FILTER);
    filter.endLatestUpdateTime = b.long('end_latest_update_time', 0, MAX_LONG_FILTER);
    filter.startLatestScanTime = b.long('start_latest_scan_time', 0, MAX_LONG_FILTER);
    filter.endLatestScanTime = b.long('end_latest_scan_time', 0, MAX_LONG_FILTER);
    if (!operateAll && items.length === 0) {
      throw new InvalidParameter('image_info_list', 'must not be empty when operate_all is not true');
    }

    const inventory = rt.inventory(account);
    const scans = rt.scans(account);
    const now = rt.now();
    const selected = new Map<number, SeededImage>();
    let unmatched = 0;
    if (operateAll) {
      for (const img of inventory.all()) {
        if (img.imageType !== imageType || !matchesSeed(img, filter)) continue;
        if (needsScanView(filter) && !matchesScan(img, scans.view(img, now), filter)) continue;
        selected.set(img.index, img);
      }
    } else {
      for (const item of items) {
        const found =
          item.namespace !== undefined && item.imageName !== undefined && item.imageVersion !== undefined
            ? item.instanceId !== undefined
              ? inventory.find('instance_image', item.namespace, item.imageName, item.imageVersion, item.instanceId)
              : inventory.find(imageType, item.namespace, item.imageName, item.imageVersion)
            : undefined;
        if (found) selected.set(found.index, found);
        else unmatched++;
      }
    }

    const toStart = [...selected.values()].filter((img) => !scans.isScanning(img, now));
    const quota = rt.options.scanQuota;
    if (quota > 0 && scans.started + toStart.length > quota) {
      return hssError('quotaInsufficient', `${toStart.length} images requested, ${Math.max(0, quota - scans.started)} scans left.`);
    }
    let started = 0;
    for (const img of toStart) if (scans.start(img, now, rt.options.scanDurationMs)) started++;
    // No task id exists, but the call is this cloud's task: it asks for these images' scans.
    if (selected.size > 0) rt.taskCreated(account, [...selected.values()]);

    rt.recordBatchScan({
      at: now,
      account: account.name,
      region,
      imageType,
      operateAll,
      listed: items.length,
      matched: selected.size,
      unmatched,
      started,
      ...(operateAll ? { filters: definedFields(filter) } : {}),
    });
    // The documented response has no parameters: 200 with an empty body, no task id.
    return ok();
  });
}

function definedFields(obj: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** One `data_list` entry of ListSwrImageRepository (PrivateImageRepositoryInfo). */
function repositoryInfo(img: SeededImage, view: ScanView): Record<string, unknown> {
  const failed = view.status === 'failed' || view.status === 'download_failed' || view.status === 'image_oversized';
  return {
    id: img.id,
    namespace: img.namespace,
    image_name: img.imageName,
    image_id: img.imageId,
    image_digest: img.imageDigest,
    image_version: img.imageVersion,
    image_type: img.imageType,
    latest_version: img.latestVersion,
    scan_status: view.status,
    scan_failed_desc: failed ? (view.failedDesc ?? 'unknown_error') : '',
    image_size: img.imageSize,
    latest_update_time: img.latestUpdateTime,
    latest_scan_time: view.latestScanTime ?? 0,
    vul_num: view.hasResults ? img.vulNum : 0,
    unsafe_setting_num: view.hasResults ? img.unsafeSettingNum : 0,
    malicious_file_num: view.hasResults ? img.maliciousFileNum : 0,
    domain_name: img.domainName ?? '',
    shared_status: img.sharedStatus ?? '',
    scannable: true,
    instance_name: img.instanceName ?? '',
    instance_id: img.instanceId ?? '',
    instance_url: img.instanceUrl ?? '',
    association_images: [],
  };
}

/**
 * GET /v5/{project_id}/image/swr-repository. Parameter bounds from the published reference
 * (namespace 1–256, image_name 1–128, image_version 1–64); `limit` 10–200 (default 10) and
 * `offset` 0–2,000,000 follow the sibling HSS v5 list APIs, as this API's own range is unpublished.
 */
export function listSwrImageRepository(req: SimRequest, account: HssAccount, rt: HssRuntime): SimResponse {
  return validated(() => {
    regionHeader(req, false);
    const q = new QueryReader(req.query);
    q.string('enterprise_project_id', 1, 256);
    const filter: ImageFilter = {
      namespace: q.string('namespace', 1, 256),
      imageName: q.string('image_name', 1, 128),
      imageVersion: q.string('image_version', 1, 64),
      latestVersion: q.boolean('latest_version'),
    };
    const offset = q.integer('offset', 0, 2_000_000, 0) as number;
    const limit = q.integer('limit', 10, 200, 10) as number;
    const imageType = q.enumOf('image_type', LIST_IMAGE_TYPES, true);
    filter.scanStatus = q.enumOf('scan_status', SCAN_STATUSES);
    filter.instanceName = q.string('instance_name', 0, 128);
    filter.imageSize = q.integer('image_size', 0, Number.MAX_SAFE_INTEGER);
    filter.startLatestUpdateTime = q.integer('start_latest_update_time', 0, Number.MAX_SAFE_INTEGER);
    filter.endLatestUpdateTime = q.integer('end_latest_update_time', 0, Number.MAX_SAFE_INTEGER);
    filter.startLatestScanTime = q.integer('start_latest_scan_time', 0, Number.MAX_SAFE_INTEGER);
    filter.endLatestScanTime = q.integer('end_latest_scan_time', 0, Number.MAX_SAFE_INTEGER);
    filter.hasMaliciousFile = q.boolean('has_malicious_file');
    filter.hasUnsafeSetting = q.boolean('has_unsafe_setting');
    filter.hasVul = q.boolean('has_vul');
    filter.instanceId = q.string('instance_id', 0, 128);

    const scans = rt.scans(account);
    const now = rt.now();
    let total = 0;
    const page: Record<string, unknown>[] = [];
    // local_image (images on hosts) is a valid type, but the simulator seeds registry images only.
    for (const img of imageType === 'local_image' ? [] : rt.inventory(account).all()) {
      if (img.imageType !== imageType || !matchesSeed(img, filter)) continue;
      const view = scans.view(img, now);
      if (!matchesScan(img, view, filter)) continue;
      if (total >= offset && page.length < limit) page.push(repositoryInfo(img, view));
      total++;
    }
    return ok({ total_num: total, data_list: page });
  });
}

/**
 * GET /v5/{project_id}/image/{image_id}/vulnerabilities. Bounds from the SDK model
 * (offset 0–2,000,000, limit 10–200 default 10). An image that is unknown, never scanned
 * successfully, or whose image_id does not match answers an empty list, like any empty query.
 */
export function listImageVulnerabilities(req: SimRequest, imageId: string, account: HssAccount, rt: HssRuntime): SimResponse {
  return validated(() => {
    if (imageId.length > 128) throw new InvalidParameter('image_id', 'length must be between 0 and 128');
    const q = new QueryReader(req.query);
    q.string('enterprise_project_id', 1, 256);
    const offset = q.integer('offset', 0, 2_000_000, 0) as number;
    const limit = q.integer('limit', 10, 200, 10) as number;
    const imageType = q.enumOf('image_type', VUL_IMAGE_TYPES, true);
    const instanceId = q.string('instance_id', 0, 128);
    const namespace = q.string('namespace', 0, 64, true) as string;
    const imageName = q.string('image_name', 0, 128, true) as string;
    const tagName = q.string('tag_name', 0, 64, true) as string;
    const necessity = q.enumOf('repair_necessity', ['immediate_repair', 'delay_repair', 'not_needed_repair'] as const);
    const vulId = q.string('vul_id', 0, 128);
    const appName = q.string('app_name', 0, 64);
    const type = q.enumOf('type', ['linux_vul', 'app_vul'] as const);
    const handleStatus = q.enumOf('handle_status', ['unhandled', 'handled'] as const);

    const inventory = rt.inventory(account);
    const img =
      imageType === 'private_image' || imageType === 'shared_image' || imageType === 'instance_image'
        ? inventory.find(imageType, namespace, imageName, tagName, imageType === 'instance_image' ? instanceId : undefined)
        : undefined;
    if (!img || img.imageId !== imageId || !rt.scans(account).view(img, rt.now()).hasResults) {
      return ok({ total_num: 0, data_list: [] });
    }
    // Nothing is ever marked handled in the simulator, so handle_status=handled matches nothing.
    const findings = findingsFor(img.imageDigest, img.vulNum).filter(
      (f) =>
        (necessity === undefined || f.repair_necessity === necessity) &&
        (vulId === undefined || f.vul_id.includes(vulId)) &&
        (appName === undefined || f.app_name === appName) &&
        (type === undefined || f.type === type) &&
        handleStatus !== 'handled',
    );
    const data = findings.slice(offset, offset + limit).map(({ type: _type, ...info }) => info);
    return ok({ total_num: findings.length, data_list: data });
  });
}
