import { sha256Hex } from '../core/seed.js';
import type { SimRequest, SimResponse } from '../core/frontend.js';
import { InvalidParameter, hssError } from './errors.js';
import { type ImageFilter, matchesScan, matchesSeed, needsScanView } from './filters.js';
import type { HssRuntime } from './handlers.js';
import type { HssAccount, HssImageType, SeededImage } from './inventory.js';
import { jsonBody, ok, validated } from './respond.js';
import { BodyReader, QueryReader, isObject } from './validation.js';

/**
 * The scan-task APIs that replace BatchScanSwrImage in SDK 3.1.209+:
 * CreateManualImageScanTask (`POST /v5/{project_id}/image/image-scan/tasks`, empty response)
 * and ListImageScanTask (`GET /v5/{project_id}/image/tasks`). A task's progress is read from
 * the same per-image scan state the older APIs use, so both families see the same scans.
 */

export interface ScanTask {
  taskId: string;
  taskName: string;
  beginTime: number;
  scanScope: number;
  rateLimit: number;
  isAll: boolean;
  globalImageType: 'registry' | 'local';
  images: Int32Array;
}

const REGISTRY_TYPES = ['SwrPrivate', 'SwrShared', 'SwrEnterprise', 'Harbor', 'Jfrog', 'Other', 'Local'] as const;
const REGISTRY_TYPE_OF: Record<HssImageType, (typeof REGISTRY_TYPES)[number]> = {
  private_image: 'SwrPrivate',
  shared_image: 'SwrShared',
  instance_image: 'SwrEnterprise',
};
const IMAGE_TYPE_OF: Partial<Record<string, HssImageType>> = {
  SwrPrivate: 'private_image',
  SwrShared: 'shared_image',
  SwrEnterprise: 'instance_image',
};
const FAILED = new Set(['failed', 'download_failed', 'image_oversized']);

function globalImageType(q: QueryReader): 'registry' | 'local' | undefined {
  // The SDK model says local|registry, the English reference local_image|registry: accept both.
  const v = q.enumOf('global_image_type', ['registry', 'local', 'local_image'] as const);
  return v === undefined ? undefined : v === 'registry' ? 'registry' : 'local';
}

function optionalRegion(req: SimRequest): void {
  const raw = req.headers.region;
  const region = Array.isArray(raw) ? raw[0] : raw;
  if (region !== undefined && (region.length < 1 || region.length > 128)) {
    throw new InvalidParameter('region', 'length must be between 1 and 128');
  }
}

/** POST /v5/{project_id}/image/image-scan/tasks */
export function createManualImageScanTask(
  req: SimRequest,
  account: HssAccount,
  rt: HssRuntime,
  tasks: ScanTask[],
  seed: string,
): SimResponse {
  const parsed = jsonBody(req);
  if ('error' in parsed) return parsed.error;
  const { body } = parsed;

  return validated(() => {
    optionalRegion(req);
    const q = new QueryReader(req.query);
    q.string('enterprise_project_id', 1, 256);
    const imageKind = globalImageType(q) ?? 'registry';
    const b = new BodyReader(body);
    const scanScope = b.long('scan_scope', 0, 0x7fffffff) ?? 0x7fffffff;
    const rateLimit = b.long('rate_limit', 0, 1000) ?? 0;
    const isAll = b.boolean('is_all') ?? false;
    const rawQuery = body.query_info;
    if (rawQuery !== undefined && !isObject(rawQuery)) throw new InvalidParameter('query_info', 'must be an object');
    const qi = new BodyReader(rawQuery ?? {}, 'query_info.');
    const queryType = qi.enumOf('image_type', ['private_image', 'shared_image', 'instance_image', 'harbor', 'jfrog'] as const, 0, 64);
    const filter: ImageFilter = {
      namespace: qi.string('namespace', 0, 256),
      imageName: qi.string('image_name', 0, 256),
      imageVersion: qi.string('image_version', 0, 256),
      scanStatus: qi.enumOf('scan_status', ['unscan', 'success', 'scanning', 'failed', 'download_failed', 'image_oversized'] as const, 0, 64),
      hasVul: qi.boolean('has_vul'),
      imageSize: qi.long('image_size', 0, Number.MAX_SAFE_INTEGER),
      startLatestUpdateTime: qi.long('start_latest_update_time', 0, Number.MAX_SAFE_INTEGER),
      endLatestUpdateTime: qi.long('end_latest_update_time', 0, Number.MAX_SAFE_INTEGER),
      startLatestScanTime: qi.long('start_latest_scan_time', 0, Number.MAX_SAFE_INTEGER),
      endLatestScanTime: qi.long('end_latest_scan_time', 0, Number.MAX_SAFE_INTEGER),
    };
    for (const f of ['local_image_type', 'host_id', 'host_name', 'public_ip', 'private_ip', 'cluster_id', 'container_id', 'container_name']) {
      qi.string(f, 0, 128);
    }
    qi.string('pod_id', 0, 64);
    qi.string('pod_name', 0, 512);
    qi.string('app_name', 0, 256);
    const list = (b.array('image_info', 0, 100_000) ?? []).map((entry, i) => {
      if (!isObject(entry)) throw new InvalidParameter(`image_info[${i}]`, 'must be an object');
      const r = new BodyReader(entry, `image_info[${i}].`);
      return {
        id: r.long('id', 0, Number.MAX_SAFE_INTEGER),
        imageId: r.string('image_id', 0, 256),
        imageDigest: r.string('image_digest', 0, 256),
        registryId: r.string('registry_id', 0, 128),
        registryName: r.string('registry_name', 0, 128),
        imageName: r.string('image_name', 0, 256),
        imageVersion: r.string('image_version', 0, 256),
        namespace: r.string('namespace', 0, 256),
        instanceId: r.string('instance_id', 0, 128),
        instanceUrl: r.string('instance_url', 0, 256),
        registryType: r.enumOf('registry_type', REGISTRY_TYPES, 0, 64),
      };
    });
    if (!isAll && list.length === 0) throw new InvalidParameter('image_info', 'must not be empty when is_all is not true');

    const inventory = rt.inventory(account);
    const scans = rt.scans(account);
    const now = rt.now();
    const byId = new Map<number, SeededImage>();
    const selected = new Map<number, SeededImage>();
    // Local (host) images are not simulated: such tasks select nothing and finish at once.
    if (imageKind === 'registry') {
      if (isAll) {
        for (const img of inventory.all()) {
          if (queryType !== undefined && img.imageType !== queryType) continue;
          if (!matchesSeed(img, filter) || (needsScanView(filter) && !matchesScan(img, scans.view(img, now), filter))) continue;
          selected.set(img.index, img);
        }
      } else {
        if (list.some((item) => item.id !== undefined)) for (const img of inventory.all()) byId.set(img.id, img);
        for (const item of list) {
          const type = item.registryType === undefined ? 'private_image' : IMAGE_TYPE_OF[item.registryType];
          const found =
            item.id !== undefined
              ? byId.get(item.id)
              : type && item.namespace !== undefined && item.imageName !== undefined && item.imageVersion !== undefined
                ? inventory.find(type, item.namespace, item.imageName, item.imageVersion, type === 'instance_image' ? item.instanceId : undefined)
                : undefined;
          if (found && (item.imageDigest === undefined || item.imageDigest === found.imageDigest)) selected.set(found.index, found);
        }
      }
    }

    const toStart = [...selected.values()].filter((img) => !scans.isScanning(img, now));
    const quota = rt.options.scanQuota;
    if (quota > 0 && scans.started + toStart.length > quota) {
      return hssError('quotaInsufficient', `${toStart.length} images requested, ${Math.max(0, quota - scans.started)} scans left.`);
    }
    for (const img of toStart) scans.start(img, now, rt.options.scanDurationMs);
    rt.taskCreated(account, [...selected.values()]);
    const n = tasks.length;
    const hex = sha256Hex(`${seed}|huawei|${account.projectId}|task|${n}`);
    tasks.push({
      taskId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`,
      taskName: `manual_scan_${new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14)}_${n + 1}`,
      beginTime: now,
      scanScope,
      rateLimit,
      isAll,
      globalImageType: imageKind,
      images: Int32Array.from(selected.keys()),
    });
    return ok();
  });
}

/** One ImageScanTaskInfo, its progress read from the images' current scan state. */
function taskInfo(task: ScanTask, account: HssAccount, rt: HssRuntime): Record<string, unknown> {
  const inventory = rt.inventory(account).all();
  const scans = rt.scans(account);
  const now = rt.now();
  let done = 0;
  let success = 0;
  let risky = 0;
  let endTime = task.beginTime;
  const failedImages: Record<string, unknown>[] = [];
  for (const index of task.images) {
    const img = inventory[index] as SeededImage;
    const view = scans.view(img, now);
    if (view.status === 'scanning') continue;
    done++;
    endTime = Math.max(endTime, view.latestScanTime ?? 0);
    if (view.status === 'success') {
      success++;
      if (img.vulNum > 0 || img.unsafeSettingNum > 0 || img.maliciousFileNum > 0) risky++;
    } else if (FAILED.has(view.status)) {
      failedImages.push({
        id: img.id,
        registry_id: img.instanceId ?? '',
        registry_name: img.instanceName ?? '',
        image_name: img.imageName,
        image_version: img.imageVersion,
        namespace: img.namespace,
        registry_type: REGISTRY_TYPE_OF[img.imageType],
        failed_reason: view.failedDesc ?? 'unknown_error',
      });
    }
  }
  const total = task.images.length;
  const finished = done === total;
  return {
    task_id: task.taskId,
    policy_id: '',
    task_name: task.taskName,
    begin_time: task.beginTime,
    end_time: finished ? endTime : 0,
    remain_min: finished ? 0 : Math.max(1, Math.ceil((task.beginTime + rt.options.scanDurationMs - now) / 60_000)),
    task_type: 'manual',
    image_type: task.globalImageType,
    task_status: finished ? 100 : Math.floor((done * 100) / total),
    scan_scope: task.scanScope,
    rate_limit: task.rateLimit,
    is_all: task.isAll,
    failed_num: failedImages.length,
    success_num: success,
    total_num: total,
    risky_num: risky,
    sync_task_type: '',
    failed_reason: '',
    failed_images: failedImages,
  };
}

/** GET /v5/{project_id}/image/tasks — newest task first; limit 10–200 (default 10) per the SDK model. */
export function listImageScanTask(req: SimRequest, account: HssAccount, rt: HssRuntime, tasks: ScanTask[]): SimResponse {
  return validated(() => {
    const q = new QueryReader(req.query);
    q.string('enterprise_project_id', 1, 256);
    const imageKind = globalImageType(q);
    const offset = q.integer('offset', 0, 2_000_000, 0) as number;
    const limit = q.integer('limit', 10, 200, 10) as number;
    const type = q.enumOf('type', ['image_sync', 'image_scan'] as const, true);
    const taskType = q.enumOf('task_type', ['cycle', 'manual', 'autoSync', 'manualSync'] as const);
    const taskName = q.string('task_name', 1, 256);
    const taskId = q.string('task_id', 1, 256);
    const createTime = q.integer('create_time', 0, 4070880000000);
    const endTime = q.integer('end_time', 0, 4070880000000);
    const taskStatus = q.enumOf('task_status', ['scanning', 'finished'] as const);
    const scanScope = q.integer('scan_scope', 0, 0x7fffffff);

    // Only manual image-scan tasks exist here: no scheduled scans, no SWR sync tasks.
    const candidates = type === 'image_scan' && (taskType === undefined || taskType === 'manual') ? [...tasks].reverse() : [];
    const matching = candidates
      .filter(
        (t) =>
          (imageKind === undefined || t.globalImageType === imageKind) &&
          (taskName === undefined || t.taskName.includes(taskName)) &&
          (taskId === undefined || t.taskId === taskId) &&
          (createTime === undefined || t.beginTime >= createTime) &&
          (scanScope === undefined || t.scanScope === scanScope),
      )
      .map((t) => taskInfo(t, account, rt))
      .filter(
        (info) =>
          (taskStatus === undefined || (info.task_status === 100) === (taskStatus === 'finished')) &&
          (endTime === undefined || (info.end_time !== 0 && (info.end_time as number) <= endTime)),
      );
    return ok({ data_list: matching.slice(offset, offset + limit), total_num: matching.length });
  });
}
