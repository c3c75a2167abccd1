import { sasErrors } from './errors.js';
import { stampFinding, type VulRecord } from './findings.js';
import type { SeedImage } from './seed.js';
import { type AccountScans, type ImageState, imageView, isRunning, scanProgress, type ScanTask } from './scans.js';

/**
 * The SAS operations the simulator answers. Each handler gets the request's business
 * parameters and the caller's account and returns the response body without `RequestId`.
 */
export interface OperationContext {
  params: ReadonlyMap<string, string>;
  account: AccountScans;
  now: number;
  scanDurationMs: number;
  /** Spread of per-image scan times in percent (see AlibabaStartupOptions.scanSpreadPercent). */
  scanSpreadPercent: number;
  taskLimit: number;
  /** An image's findings once scanned, unstamped (they depend on the digest only; cached). */
  findings(image: SeedImage): readonly VulRecord[];
  /** Counts a task created over these images (the call counter's `tasks.alibaba`). */
  taskCreated(images: readonly SeedImage[]): void;
}

export type Operation = (ctx: OperationContext) => Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Parameter helpers

function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function positiveInt(params: ReadonlyMap<string, string>, name: string, fallback: number): number {
  const raw = params.get(name);
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw sasErrors.invalidParameter(name);
  return n;
}

function paginate<T>(items: readonly T[], currentPage: number, pageSize: number): T[] {
  return items.slice((currentPage - 1) * pageSize, currentPage * pageSize);
}

const stripDigestPrefix = (d: string) => d.replace(/^sha256:/i, '');

// ---------------------------------------------------------------------------------------------
// PublicPreCheckImageScanTask / PublicCreateImageScanTask

/** The comma-list filters of the two task operations and the image field each one matches. */
const TASK_FILTERS: readonly { param: string; value: (s: ImageState) => string }[] = [
  { param: 'RegistryTypes', value: (s) => s.image.registryType },
  { param: 'RegionIds', value: (s) => s.image.regionId },
  { param: 'InstanceIds', value: (s) => s.image.instanceId },
  { param: 'RepoNamespaces', value: (s) => s.image.repoNamespace },
  { param: 'RepoIds', value: (s) => s.image.repoId },
  { param: 'RepoNames', value: (s) => s.image.repoName },
  { param: 'Digests', value: (s) => s.image.digest },
  { param: 'Tags', value: (s) => s.image.tag },
];

/** Images matching every given filter (AND across filters, OR within one filter's list). */
export function matchTaskFilters(account: AccountScans, params: ReadonlyMap<string, string>): ImageState[] {
  const active = TASK_FILTERS.map((f) => {
    const values = commaList(params.get(f.param));
    return { ...f, values: new Set(f.param === 'Digests' ? values.map(stripDigestPrefix) : values) };
  }).filter((f) => f.values.size > 0);
  return account.images.filter((s) => active.every((f) => f.values.has(f.value(s))));
}

const preCheckImageScanTask: Operation = ({ params, account, now }) => {
  const images = matchTaskFilters(account, params);
  return {
    Data: {
      NeedAuthCount: images.length,
      ScanImageCount: account.authorizationsNeeded(images, now),
    },
  };
};

const createImageScanTask: Operation = (ctx) => {
  const { params, account, now, scanDurationMs, scanSpreadPercent, taskLimit } = ctx;
  if (account.refresh(now) >= taskLimit) {
    account.beyondQuataCount += 1;
    throw sasErrors.beyondQuota();
  }
  const images = matchTaskFilters(account, params);
  if (images.length === 0) throw sasErrors.taskNumEmpty();
  const { task, canCreate } = account.createTask(images, now, scanDurationMs, taskLimit, scanSpreadPercent);
  ctx.taskCreated(images.map((s) => s.image));
  const summary = account.taskSummary(task, now);
  return {
    Data: {
      TaskId: task.taskId,
      TotalCount: task.uuids.length,
      FinishCount: summary.finishCount,
      CollectTime: now,
      ExecTime: now,
      Status: summary.status,
      Progress: summary.progress,
      Result: summary.result,
      CanCreate: canCreate,
    },
  };
};

/**
 * DescribeImageScanAuthCount: the account's image-scan authorizations, `ScanCount` used of
 * `ImageScanCapacity` (help.aliyun.com …/api-sas-2018-12-03-describeimagescanauthcount).
 */
const describeImageScanAuthCount: Operation = ({ account }) => {
  const { authorizationsUsed, authorizationsRemaining } = account.runtime;
  return {
    ImageScan: {
      ScanCount: authorizationsUsed,
      ImageScanCapacity: authorizationsUsed + authorizationsRemaining,
      InstanceId: `sas-${account.account.accessKeyId.slice(-8).toLowerCase()}`,
    },
  };
};

// ---------------------------------------------------------------------------------------------
// DescribeImageInstances

interface Criterion {
  name: string;
  value: string;
  logicalExp?: string;
}

/**
 * Criteria names (DescribeImageCriteria lists tag, digest, vulStatus, alarmStatus, riskStatus,
 * registryType; the API doc's example uses instanceId). `select` criteria compare exactly,
 * `input` ones match a case-insensitive substring, like the console's fuzzy search.
 */
const CRITERIA: Record<string, { type: 'input' | 'select'; values?: string }> = {
  tag: { type: 'input' },
  digest: { type: 'input' },
  vulStatus: { type: 'select', values: 'NO,YES' },
  alarmStatus: { type: 'select', values: 'NO,YES' },
  riskStatus: { type: 'select', values: 'NO,YES' },
  registryType: { type: 'select', values: 'acr,harbor,quay,CI/CD' },
  instanceId: { type: 'input' },
  regionId: { type: 'input' },
  repoName: { type: 'input' },
  repoNamespace: { type: 'input' },
  repoId: { type: 'input' },
  imageId: { type: 'input' },
};

function parseCriteria(raw: string | undefined): Criterion[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw sasErrors.invalidParameter('Criteria');
  }
  if (!Array.isArray(parsed)) throw sasErrors.invalidParameter('Criteria');
  return parsed.map((c: unknown) => {
    const item = c as Partial<Criterion> | null;
    if (!item || typeof item.name !== 'string' || !(item.name in CRITERIA) || item.value === undefined) {
      throw sasErrors.invalidParameter('Criteria');
    }
    return { name: item.name, value: String(item.value), ...(typeof item.logicalExp === 'string' ? { logicalExp: item.logicalExp } : {}) };
  });
}

/** The DescribeImageInstances item, field for field as in the seed's example. */
function imageInstance(s: ImageState, ctx: OperationContext): Record<string, unknown> {
  const { image } = s;
  const view = imageView(s, ctx.now);
  const vulCount = view.lastSuccessAt > 0 ? ctx.findings(image).length : 0;
  const yesNo = (b: boolean) => (b ? 'YES' : 'NO');
  return {
    Status: 'NORMAL',
    Digest: image.digest,
    RegistryType: image.registryType,
    Tag: image.tag,
    ImageUpdate: String(image.imageUpdate),
    RepoType: image.repoType,
    ImageSize: String(image.imageSizeBytes),
    HcStatus: yesNo(image.hcCount > 0),
    VulCount: vulCount,
    ImageId: image.imageId,
    Endpoints: '[]',
    RiskStatus: yesNo(vulCount > 0 || image.hcCount > 0 || image.alarmCount > 0),
    ImageCreate: String(image.imageCreate),
    VulStatus: yesNo(vulCount > 0),
    AlarmStatus: yesNo(image.alarmCount > 0),
    ScaProgress: view.scaProgress,
    InstanceId: image.instanceId,
    RegionId: image.regionId,
    // A never-scanned image has no ScaStatus among the 14 documented values: the field is left
    // out rather than sent as an undocumented "" (ScaResult TASK_NOT_EXISTS says why).
    ...(view.scaStatus ? { ScaStatus: view.scaStatus } : {}),
    Uuid: image.uuid,
    RepoId: image.repoId,
    HcCount: image.hcCount,
    ScaResult: view.scaResult,
    RepoName: image.repoName,
    AlarmCount: image.alarmCount,
    RepoNamespace: image.repoNamespace,
    Deployed: image.deployed,
    LastScanTime: view.lastScanTime,
  };
}

function criterionMatches(c: Criterion, item: Record<string, unknown>): boolean {
  const field = c.name.charAt(0).toUpperCase() + c.name.slice(1);
  const actual = String(item[field] ?? '').toLowerCase();
  const wanted = (c.name === 'digest' ? stripDigestPrefix(c.value) : c.value).toLowerCase();
  return CRITERIA[c.name]?.type === 'select' ? actual === wanted : actual.includes(wanted);
}

const describeImageInstances: Operation = (ctx) => {
  const { params } = ctx;
  const criteria = parseCriteria(params.get('Criteria'));
  const logicalExp = (params.get('LogicalExp') || criteria[0]?.logicalExp || 'AND').toUpperCase();
  if (logicalExp !== 'AND' && logicalExp !== 'OR') throw sasErrors.invalidParameter('LogicalExp');
  const scanned = params.get('Scanned');
  if (scanned !== undefined && scanned !== '' && scanned !== 'true' && scanned !== 'false') {
    throw sasErrors.invalidParameter('Scanned');
  }
  const currentPage = positiveInt(params, 'CurrentPage', 1);
  const pageSize = positiveInt(params, 'PageSize', 20);

  const items = ctx.account.images.map((s) => imageInstance(s, ctx)).filter((item) => {
    if (scanned === 'true' && !((item.LastScanTime as number) > 0)) return false;
    if (scanned === 'false' && (item.LastScanTime as number) > 0) return false;
    if (criteria.length === 0) return true;
    return logicalExp === 'OR'
      ? criteria.some((c) => criterionMatches(c, item))
      : criteria.every((c) => criterionMatches(c, item));
  });
  const page = paginate(items, currentPage, pageSize);
  return {
    PageInfo: { CurrentPage: currentPage, PageSize: pageSize, TotalCount: items.length, Count: page.length },
    ImageInstanceList: page,
  };
};

// ---------------------------------------------------------------------------------------------
// DescribeImageVulList

const describeImageVulList: Operation = (ctx) => {
  const { params, account, now } = ctx;
  const type = params.get('Type');
  if (!type) throw sasErrors.missing('Type');
  const currentPage = positiveInt(params, 'CurrentPage', 1);
  const pageSize = positiveInt(params, 'PageSize', 10);

  const uuids = new Set(commaList(params.get('Uuids')));
  const necessities = new Set(commaList(params.get('Necessity')));
  const statuses = new Set(commaList(params.get('StatusList')));
  const exact: [string, (s: ImageState) => string][] = [
    ['Digest', (s) => s.image.digest],
    ['RepoName', (s) => s.image.repoName],
    ['RepoNamespace', (s) => s.image.repoNamespace],
    ['RepoId', (s) => s.image.repoId],
    ['RepoInstanceId', (s) => s.image.instanceId],
    ['RepoRegionId', (s) => s.image.regionId],
    ['Tag', (s) => s.image.tag],
  ];
  const name = params.get('Name');
  const aliasName = params.get('AliasName')?.toLowerCase();
  const image = params.get('Image');
  const dealed = params.get('Dealed');

  const records: { record: VulRecord; firstTs: number; lastTs: number }[] = [];
  // Only `cve` findings are simulated; `sca` (application) findings are always empty.
  if (type === 'cve' && dealed !== 'y') {
    for (const s of account.images) {
      if (uuids.size > 0 && !uuids.has(s.image.uuid)) continue;
      if (exact.some(([param, value]) => params.get(param) && stripDigestPrefix(params.get(param) ?? '') !== value(s))) continue;
      const view = imageView(s, now);
      if (view.lastSuccessAt <= 0) continue; // findings exist only after a successful scan
      for (const r of ctx.findings(s.image)) {
        if (necessities.size > 0 && !necessities.has(r.Necessity)) continue;
        if (statuses.size > 0 && !statuses.has(String(r.Status))) continue;
        if (name && r.Name !== name) continue;
        if (aliasName && !r.AliasName.toLowerCase().includes(aliasName)) continue;
        if (image && r.Image !== image) continue;
        records.push({ record: r, firstTs: view.firstSuccessAt, lastTs: view.lastSuccessAt });
      }
    }
  }
  return {
    CurrentPage: currentPage,
    PageSize: pageSize,
    TotalCount: records.length,
    VulRecords: paginate(records, currentPage, pageSize).map((f) => stampFinding(f.record, f.firstTs, f.lastTs)),
  };
};

// ---------------------------------------------------------------------------------------------
// DescribeImageLatestScanTask / DescribeImageCriteria

function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

const describeImageLatestScanTask: Operation = ({ params, account, now }) => {
  const digest = stripDigestPrefix(params.get('Digest') ?? '');
  if (!digest) throw sasErrors.missing('Digest');
  const states = account.images.filter((s) => s.image.digest === digest);
  let latest: { task: ScanTask; uuid: string } | undefined;
  for (const task of account.tasks) {
    const state = states.find((s) => task.scans.has(s.image.uuid));
    if (state && (!latest || task.createdAt >= latest.task.createdAt)) latest = { task, uuid: state.image.uuid };
  }
  if (!latest) return { Task: [] };
  const { task, uuid } = latest;
  const scan = task.scans.get(uuid);
  if (!scan) return { Task: [] };
  const running = isRunning(scan, now);
  // This API spells the timeout status "TIMOUT".
  const status = running ? 'PROCESSING' : scan.outcome === 'TIMEOUT' ? 'TIMOUT' : scanProgress(scan, now).status;
  const finished = [...task.scans.values()].filter((s) => !isRunning(s, now)).length + (task.uuids.length - task.scans.size);
  return {
    Task: [
      {
        Id: task.id,
        TaskId: task.taskId,
        TaskType: 'IMAGE_SCAN',
        Name: 'IMAGE_SCAN',
        Source: 'openapi',
        Status: status,
        Finish: finished,
        StartTime: task.createdAt,
        ...(running ? {} : { FinishTime: scan.finishAt }),
        Create: formatDateTime(task.createdAt),
        Modified: formatDateTime(running ? now : scan.finishAt),
        Target: digest,
        TargetType: 'IMAGE',
      },
    ],
  };
};

const describeImageCriteria: Operation = () => ({
  CriteriaList: Object.entries(CRITERIA).map(([name, c]) => ({ Name: name, Type: c.type, Values: c.values ?? '' })),
});

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  PublicPreCheckImageScanTask: preCheckImageScanTask,
  PublicCreateImageScanTask: createImageScanTask,
  DescribeImageScanAuthCount: describeImageScanAuthCount,
  DescribeImageInstances: describeImageInstances,
  DescribeImageVulList: describeImageVulList,
  DescribeImageLatestScanTask: describeImageLatestScanTask,
  DescribeImageCriteria: describeImageCriteria,
};
