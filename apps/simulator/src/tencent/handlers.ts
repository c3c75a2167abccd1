import { TC_ERRORS, TcError } from './errors.js';
import { findingsFor, type ImageVul } from './findings.js';
import type { TencentOptions } from './options.js';
import {
  type AssetFilter,
  type ImageInfo,
  type Params,
  filters,
  idArray,
  imageInfos,
  matchesFilter,
  optionalBool,
  optionalImageInfo,
  optionalInt,
  optionalString,
  paging,
  stringArray,
} from './params.js';
import { SCAN_TYPES, type ScanStore, type ScanTask, type ScanType, type ScanView, tencentTime, viewScan } from './scans.js';
import type { SeedAccount, SeedImage } from './seed.js';

/** What a handler sees: the authenticated account, the simulator clock's `now`, the shared scan state. */
export interface TcssContext {
  account: SeedAccount;
  imagesById: Map<number, SeedImage>;
  now: number;
  store: ScanStore;
  options: TencentOptions;
  /** Counts a task created over these images (the call counter's `tasks.tencent`). */
  taskCreated(images: readonly SeedImage[]): void;
}

export type TcssHandler = (params: Params, ctx: TcssContext) => Record<string, unknown>;

/** TCSS 2020-11-01 actions this front end serves (X-TC-Action → handler). */
export const TCSS_HANDLERS: Record<string, TcssHandler> = {
  CreateAssetImageRegistryScanTask: createAssetImageRegistryScanTask,
  CreateAssetImageRegistryScanTaskOneKey: createAssetImageRegistryScanTaskOneKey,
  DescribeAssetImageRegistryScanStatusOneKey: describeAssetImageRegistryScanStatusOneKey,
  DescribeAssetImageRegistryDetail: describeAssetImageRegistryDetail,
  DescribeAssetImageRegistryVulList: describeAssetImageRegistryVulList,
  DescribeAssetImageRegistryList: describeAssetImageRegistryList,
};

// ---------------------------------------------------------------------------------------------
// Scan tasks

function createAssetImageRegistryScanTask(p: Params, ctx: TcssContext): Record<string, unknown> {
  const scanTypes = parseScanTypes(p);
  const timeoutSeconds = optionalInt(p, 'Timeout', 1, 7 * 86_400);
  const all = optionalBool(p, 'All') ?? false;
  const assetFilters = filters(p);
  const exclude = new Set(idArray(p, 'ExcludeImageList'));
  const onlyLatest = optionalBool(p, 'OnlyScanLatest') ?? false;
  const explicit = resolveExplicitImages(p, ctx, { requireAuthorized: true });

  if (!all && assetFilters.length === 0 && explicit.length === 0) {
    throw new TcError(TC_ERRORS.invalidParameter, 'No images selected: set Images, Id, All or Filters.');
  }
  const selected = new Map(explicit.map((img) => [img.Id, img]));
  if (all || assetFilters.length > 0) {
    // Bulk selections skip images TCSS is not authorized to scan instead of failing the task.
    for (const img of ctx.account.images) {
      if (!img.IsAuthorized || exclude.has(img.Id) || (onlyLatest && !img.IsLatestImage)) continue;
      if (matchesImageFilters(repoInfo(img, ctx), assetFilters)) selected.set(img.Id, img);
    }
  }
  return { TaskID: startTask(ctx, 'CreateAssetImageRegistryScanTask', [...selected.values()], scanTypes, timeoutSeconds).TaskID };
}

function createAssetImageRegistryScanTaskOneKey(p: Params, ctx: TcssContext): Record<string, unknown> {
  const scanTypes = parseScanTypes(p);
  const timeoutSeconds = optionalInt(p, 'Timeout', 1, 7 * 86_400);
  // ScanScope: 0 all images, 1 the images given, 2 recommended (newest or running images).
  const scope = optionalInt(p, 'ScanScope', 0, 2);
  const all = optionalBool(p, 'All') ?? false;
  const exclude = new Set(idArray(p, 'ExcludeIDs'));
  const registryTypes = stringArray(p, 'RegistryType');
  const namespaces = stringArray(p, 'Namespace');
  const isLatest = optionalBool(p, 'IsLatest') ?? false;
  const containerRunning = optionalBool(p, 'ContainerRunning');
  const explicit = resolveExplicitImages(p, ctx, { requireAuthorized: true });

  let selected: SeedImage[];
  if (scope === 0 || scope === 2 || (scope === undefined && all)) {
    selected = ctx.account.images.filter(
      (img) =>
        img.IsAuthorized === 1 &&
        !exclude.has(img.Id) &&
        (registryTypes.length === 0 || registryTypes.includes(img.RegistryType)) &&
        (namespaces.length === 0 || namespaces.includes(img.Namespace)) &&
        (!isLatest || img.IsLatestImage) &&
        (containerRunning === undefined || containerRunning === img.ContainerCnt > 0) &&
        (scope !== 2 || img.IsLatestImage || img.ContainerCnt > 0),
    );
  } else {
    if (explicit.length === 0) throw new TcError(TC_ERRORS.invalidParameter, 'No images selected: set Images or Id, or ScanScope 0.');
    selected = explicit;
  }
  return { TaskID: startTask(ctx, 'CreateAssetImageRegistryScanTaskOneKey', selected, scanTypes, timeoutSeconds).TaskID };
}

function startTask(ctx: TcssContext, action: string, images: SeedImage[], scanTypes: ScanType[], timeoutSeconds: number | undefined): ScanTask {
  if (images.length === 0) throw new TcError(TC_ERRORS.invalidParameter, 'No images match the selection.');
  ctx.taskCreated(images);
  return ctx.store.createTask(
    {
      account: ctx.account.name,
      action,
      imageIds: images.map((i) => i.Id),
      scanTypes,
      createdAt: ctx.now,
      ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    },
    images,
    ctx.options.scanDurationMs,
  );
}

function parseScanTypes(p: Params): ScanType[] {
  const requested = stringArray(p, 'ScanType');
  // Omitted (or empty): every scan type, like the console's default full scan.
  if (requested.length === 0) return [...SCAN_TYPES];
  const bad = requested.filter((t) => !SCAN_TYPES.includes(t as ScanType));
  if (bad.length > 0) throw new TcError(TC_ERRORS.invalidParameter, `ScanType ${bad.join(',')} is not one of ${SCAN_TYPES.join(', ')}.`);
  return [...new Set(requested as ScanType[])];
}

function describeAssetImageRegistryScanStatusOneKey(p: Params, ctx: TcssContext): Record<string, unknown> {
  const taskId = optionalInt(p, 'TaskID', 0);
  const explicit = resolveExplicitImages(p, ctx, { requireAuthorized: false });
  // Validated only: `All: true` and an empty request both mean "the account's latest task".
  optionalBool(p, 'All');

  let task: ScanTask | undefined;
  let images: SeedImage[];
  if (taskId !== undefined) {
    task = ctx.store.tasks.get(taskId);
    if (!task || task.account !== ctx.account.name) throw new TcError(TC_ERRORS.resourceNotFound, `The scan task ${taskId} does not exist.`);
    images = task.imageIds.map((id) => ctx.imagesById.get(id) as SeedImage);
  } else if (explicit.length > 0) {
    images = explicit;
  } else {
    // All / no selector: the account's most recent scan task.
    task = [...ctx.store.tasks.values()].filter((t) => t.account === ctx.account.name).pop();
    images = task ? task.imageIds.map((id) => ctx.imagesById.get(id) as SeedImage) : [];
  }

  const rows = images.map((img) => ({ img, view: viewScan(ctx.store.currentScan(img.Id), ctx.now) }));
  const finished = rows.filter((r) => r.view.ScanStatus === 'SCANNED' || r.view.ScanStatus === 'SCAN_ERR');
  const scanned = rows.filter((r) => r.view.ScanStatus === 'SCANNED');
  const risky = scanned.filter((r) => {
    const c = resultCounts(r.img, ctx);
    return c.VulCnt + c.VirusCnt + c.RiskCnt + c.SensitiveInfoCnt > 0;
  });
  const scanning = rows.some((r) => r.view.ScanStatus === 'SCANNING');
  const timedOut =
    task?.timeoutSeconds !== undefined &&
    ctx.now >= task.createdAt + task.timeoutSeconds * 1000 &&
    rows.some((r) => r.view.ScanStatus === 'SCAN_ERR' && r.view.Reason === 'scan timeout');
  const status = timedOut ? 'SCAN_TIMEOUT' : scanning ? 'SCANNING' : rows.length === 0 ? 'NOT_SCAN' : 'SCANNED';
  const schedule = rows.length === 0 ? 0 : rows.reduce((a, r) => a + (r.view.ScanStatus === 'SCAN_ERR' ? 100 : r.view.Progress), 0) / rows.length;

  return {
    ImageTotal: rows.length,
    ImageScanCnt: finished.length,
    ImageStatus: rows.map(({ img, view }) => ({
      ImageId: img.ImageId,
      RegistryType: img.RegistryType,
      ImageRepoAddress: `${img.ImageRepoAddress}:${img.ImageTag}`,
      InstanceId: img.InstanceId,
      InstanceName: img.InstanceName,
      Namespace: img.Namespace,
      ImageName: img.ImageName,
      ImageTag: img.ImageTag,
      ScanStatus: view.ScanStatus,
      CveProgress: view.ScanVulProgress,
      RiskProgress: view.ScanRiskProgress,
      VirusProgress: view.ScanVirusProgress,
    })),
    SuccessCount: scanned.length - risky.length,
    RiskCount: risky.length,
    Schedule: Math.floor(schedule),
    Status: status,
    ScanRemainTime: Math.max(0, ...rows.map((r) => r.view.ScanRemainTime)),
  };
}

// ---------------------------------------------------------------------------------------------
// Image detail, inventory and vulnerabilities

function describeAssetImageRegistryDetail(p: Params, ctx: TcssContext): Record<string, unknown> {
  const id = optionalInt(p, 'Id', 0);
  const imageId = optionalString(p, 'ImageId');
  let img: SeedImage | undefined;
  if (id !== undefined) {
    img = ctx.imagesById.get(id);
    if (!img) throw new TcError(TC_ERRORS.resourceNotFound, `The registry image ${id} does not exist.`);
  } else if (imageId) {
    img = ctx.account.images.find((i) => i.ImageId === imageId);
    if (!img) throw new TcError(TC_ERRORS.resourceNotFound, `The registry image ${imageId} does not exist.`);
  } else {
    throw new TcError(TC_ERRORS.invalidParameter, 'Id or ImageId is required.');
  }
  const view = viewScan(ctx.store.currentScan(img.Id), ctx.now);
  const counts = resultCounts(img, ctx);
  // Field order follows the DescribeAssetImageRegistryDetail example.
  return {
    ImageDigest: img.ImageDigest,
    ImageId: img.ImageId,
    RegistryType: img.RegistryType,
    ImageRepoAddress: img.ImageRepoAddress,
    InstanceId: img.InstanceId,
    InstanceName: img.InstanceName,
    Namespace: img.Namespace,
    ImageName: img.ImageName,
    ImageTag: img.ImageTag,
    ImageSize: img.ImageSize,
    ScanTime: view.ScanTime,
    ScanStatus: view.ScanStatus,
    Progress: view.Progress,
    VulCnt: counts.VulCnt,
    VirusCnt: counts.VirusCnt,
    RiskCnt: counts.RiskCnt,
    // The example (and the SDK's deprecated field) spell it SentiveInfoCnt; the field table and
    // the current SDK model add SensitiveInfoCnt. Send both, like the live API's two fields.
    SentiveInfoCnt: counts.SensitiveInfoCnt,
    OsName: img.OsName,
    ...partScanFields(view),
    IsAuthorized: img.IsAuthorized,
    LayerInfo: img.LayerInfo,
    RegistryRegion: img.RegistryRegion,
    ImageCreateTime: tencentTime(img.ImageCreateTimeMs),
    SensitiveInfoCnt: counts.SensitiveInfoCnt,
    // No `Id`: the field table lists it, but both documented example answers leave it out (the
    // request named the image); scanq follows the examples, so clients must not rely on it.
    Solution: view.Solution,
    Reason: view.Reason,
  };
}

function describeAssetImageRegistryVulList(p: Params, ctx: TcssContext): Record<string, unknown> {
  const { limit, offset } = paging(p);
  const assetFilters = filters(p);
  const id = optionalInt(p, 'Id', 0);
  const info = optionalImageInfo(p, 'ImageInfo');
  let img: SeedImage | undefined;
  if (id !== undefined) img = ctx.imagesById.get(id);
  else if (info) img = findByImageInfo(ctx.account, info);
  else throw new TcError(TC_ERRORS.invalidParameter, 'Id or ImageInfo is required.');
  if (!img) throw new TcError(TC_ERRORS.resourceNotFound, 'The registry image does not exist.');

  const vuls = visibleVuls(img, ctx).filter((v) => assetFilters.every((f) => matchesVulFilter(v, f)));
  return { List: vuls.slice(offset, offset + limit), TotalCount: vuls.length };
}

function describeAssetImageRegistryList(p: Params, ctx: TcssContext): Record<string, unknown> {
  const { limit, offset } = paging(p);
  const assetFilters = filters(p);
  const by = optionalString(p, 'By');
  const order = (optionalString(p, 'Order') ?? 'asc').toLowerCase();
  if (order !== 'asc' && order !== 'desc') throw new TcError(TC_ERRORS.invalidParameterValue, 'Order must be asc or desc.');
  const onlyLatest = optionalBool(p, 'OnlyShowLatest') ?? false;
  const onlyRunning = optionalBool(p, 'IsRunning') ?? false;

  let items = ctx.account.images
    .filter((img) => (!onlyLatest || img.IsLatestImage) && (!onlyRunning || img.ContainerCnt > 0))
    .map((img) => repoInfo(img, ctx))
    .filter((item) => matchesImageFilters(item, assetFilters));
  const sortKey = by && items.length > 0 && isSortable(items[0]?.[by]) ? by : 'Id';
  const dir = order === 'desc' ? -1 : 1;
  items = items.sort((a, b) => dir * compare(a[sortKey], b[sortKey]) || (a.Id as number) - (b.Id as number));
  return { List: items.slice(offset, offset + limit), TotalCount: items.length };
}

/** One `ImageRepoInfo` (DescribeAssetImageRegistryList item). */
function repoInfo(img: SeedImage, ctx: TcssContext): Record<string, unknown> {
  const view = viewScan(ctx.store.currentScan(img.Id), ctx.now);
  const counts = resultCounts(img, ctx);
  const vuls = visibleVuls(img, ctx);
  const needFix = vuls.some((v) => v.IsSuggest === 'true');
  const scanned = ctx.store.resultScan(img.Id, ctx.now) !== undefined;
  return {
    Id: img.Id,
    ImageDigest: img.ImageDigest,
    ImageId: img.ImageId,
    ImageRepoAddress: img.ImageRepoAddress,
    RegistryType: img.RegistryType,
    RegistryRegion: img.RegistryRegion,
    InstanceId: img.InstanceId,
    InstanceName: img.InstanceName,
    Namespace: img.Namespace,
    ImageName: img.ImageName,
    ImageTag: img.ImageTag,
    ImageSize: img.ImageSize,
    ImageCreateTime: tencentTime(img.ImageCreateTimeMs),
    ...scanFields(view),
    VulCnt: counts.VulCnt,
    VirusCnt: counts.VirusCnt,
    RiskCnt: counts.RiskCnt,
    SentiveInfoCnt: counts.SensitiveInfoCnt,
    SensitiveInfoCnt: counts.SensitiveInfoCnt,
    LowLevelVulCnt: counts.levels.low,
    MediumLevelVulCnt: counts.levels.medium,
    HighLevelVulCnt: counts.levels.high,
    CriticalLevelVulCnt: counts.levels.critical,
    IsTrustImage: false,
    OsName: img.OsName,
    IsAuthorized: img.IsAuthorized,
    IsLatestImage: img.IsLatestImage,
    ContainerCnt: img.ContainerCnt,
    ComponentCnt: scanned ? 20 + (parseInt(img.ImageDigest.slice(11, 13), 16) % 180) : 0,
    IsRunning: img.ContainerCnt > 0,
    HasNeedFixVul: needFix,
    RecommendedFix: needFix,
  };
}

/** The three part scans' errors, progress and statuses, and the time left, in the detail example's order. */
function partScanFields(view: ScanView): Record<string, unknown> {
  return {
    ScanVirusError: view.ScanVirusError,
    ScanVulError: view.ScanVulError,
    ScanRiskError: view.ScanRiskError,
    ScanVirusProgress: view.ScanVirusProgress,
    ScanVulProgress: view.ScanVulProgress,
    ScanRiskProgress: view.ScanRiskProgress,
    ScanRemainTime: view.ScanRemainTime,
    CveStatus: view.CveStatus,
    RiskStatus: view.RiskStatus,
    VirusStatus: view.VirusStatus,
  };
}

function scanFields(view: ScanView): Record<string, unknown> {
  return {
    ScanTime: view.ScanTime,
    ScanStatus: view.ScanStatus,
    Progress: view.Progress,
    ...partScanFields(view),
    Solution: view.Solution,
    Reason: view.Reason,
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface ResultCounts {
  VulCnt: number;
  VirusCnt: number;
  RiskCnt: number;
  SensitiveInfoCnt: number;
  levels: { low: number; medium: number; high: number; critical: number };
}

/** Counts from the scan whose results are visible now (0 before the first scan completes). */
function resultCounts(img: SeedImage, ctx: TcssContext): ResultCounts {
  const scan = ctx.store.resultScan(img.Id, ctx.now);
  if (!scan) return { VulCnt: 0, VirusCnt: 0, RiskCnt: 0, SensitiveInfoCnt: 0, levels: { low: 0, medium: 0, high: 0, critical: 0 } };
  const f = findingsFor(img);
  const cve = scan.scanTypes.includes('CVE');
  const risk = scan.scanTypes.includes('RISK');
  return {
    VulCnt: cve ? f.vuls.length : 0,
    VirusCnt: scan.scanTypes.includes('VIRUS') ? f.virusCnt : 0,
    RiskCnt: risk ? f.riskCnt : 0,
    SensitiveInfoCnt: risk ? f.sensitiveInfoCnt : 0,
    levels: cve ? f.levelCounts : { low: 0, medium: 0, high: 0, critical: 0 },
  };
}

function visibleVuls(img: SeedImage, ctx: TcssContext): ImageVul[] {
  const scan = ctx.store.resultScan(img.Id, ctx.now);
  return scan?.scanTypes.includes('CVE') ? findingsFor(img).vuls : [];
}

/**
 * Images named by `Images` (ImageInfo[]) and `Id` (uint64[]). Unknown ones are ResourceNotFound;
 * when scanning, an image TCSS is not authorized for fails the call (FailedOperation).
 */
function resolveExplicitImages(p: Params, ctx: TcssContext, opts: { requireAuthorized: boolean }): SeedImage[] {
  const out = new Map<number, SeedImage>();
  for (const id of idArray(p, 'Id')) {
    const img = ctx.imagesById.get(id);
    if (!img) throw new TcError(TC_ERRORS.resourceNotFound, `The registry image ${id} does not exist.`);
    out.set(img.Id, img);
  }
  for (const info of imageInfos(p, 'Images')) {
    const img = findByImageInfo(ctx.account, info);
    if (!img) {
      const name = `${info.InstanceName}/${info.Namespace}/${info.ImageName}:${info.ImageTag}`;
      throw new TcError(TC_ERRORS.resourceNotFound, `The registry image ${name} does not exist.`);
    }
    out.set(img.Id, img);
  }
  if (opts.requireAuthorized) {
    const unauthorized = [...out.values()].filter((img) => img.IsAuthorized !== 1);
    if (unauthorized.length > 0) {
      throw new TcError(
        TC_ERRORS.failedOperation,
        `The images ${unauthorized.map((i) => i.Id).join(',')} are not authorized for scanning; authorize them first.`,
      );
    }
  }
  return [...out.values()];
}

function findByImageInfo(account: SeedAccount, info: ImageInfo): SeedImage | undefined {
  return account.images.find(
    (img) =>
      img.InstanceName === info.InstanceName &&
      img.Namespace === info.Namespace &&
      img.ImageName === info.ImageName &&
      img.ImageTag === info.ImageTag &&
      (!info.ImageDigest || info.ImageDigest === img.ImageDigest) &&
      (!info.RegistryType || info.RegistryType === img.RegistryType) &&
      (!info.InstanceId || info.InstanceId === img.InstanceId),
  );
}

/** Filter names that alias an item field (the List example filters on `RepoType`). */
const FILTER_ALIASES: Record<string, string> = { RepoType: 'RegistryType', ImageID: 'ImageId' };
/** Enum-like fields compare exactly whatever ExactMatch says. */
const EXACT_FIELDS = new Set(['ScanStatus', 'IsAuthorized', 'RegistryType', 'CveStatus', 'VirusStatus', 'RiskStatus', 'IsLatestImage', 'IsRunning', 'Id']);

/** Filters on inventory items; unknown filter names are ignored (as the example's `SecurityRisk: all`). */
function matchesImageFilters(item: Record<string, unknown>, assetFilters: AssetFilter[]): boolean {
  return assetFilters.every((f) => {
    const field = FILTER_ALIASES[f.Name] ?? f.Name;
    const value = item[field];
    if (value === undefined || typeof value === 'object') return true;
    return matchesFilter(String(value), EXACT_FIELDS.has(field) ? { ...f, ExactMatch: true } : f);
  });
}

const LEVEL_ALIASES: Record<string, string> = { low: '1', medium: '2', high: '3', critical: '4' };

function matchesVulFilter(v: ImageVul, f: AssetFilter): boolean {
  switch (f.Name) {
    case 'Level':
      return matchesFilter(v.Level, { ...f, ExactMatch: true, Values: f.Values.map((x) => LEVEL_ALIASES[x.toLowerCase()] ?? x) });
    case 'Name':
      return matchesFilter(v.Name, f);
    case 'CVEID':
      return matchesFilter(v.CVEID, f);
    case 'Component':
      return matchesFilter(v.Component, f);
    case 'Tag':
      return f.Values.some((x) => x.toLowerCase() === 'all') || v.Tag.some((t) => matchesFilter(t, { ...f, ExactMatch: true }));
    default:
      return true;
  }
}

function isSortable(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

