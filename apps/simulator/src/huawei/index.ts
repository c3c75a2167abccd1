import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { taskImageKey } from '../core/call-counter.js';
import type { SimContext } from '../core/context.js';
import type { CloudFrontEnd, SimRequest, SimResponse } from '../core/frontend.js';
import { authenticate } from './auth.js';
import { HuaweiIam, IAM_AGENCIES, IAM_SECURITY_TOKENS_PATH, iamDomainId } from './iam.js';

const isIamCall = (req: SimRequest): boolean => req.path.replace(/\/$/, '') === IAM_SECURITY_TOKENS_PATH;
import { apiNotFound, hssError, systemError, throttled } from './errors.js';
import {
  type BatchScanCall,
  type HssRuntime,
  batchScanSwrImage,
  listImageVulnerabilities,
  listSwrImageRepository,
} from './handlers.js';
import { AccountInventory, type HssAccount, SPECIAL_NAMESPACE, type SeededImage } from './inventory.js';
import { type HssOptions, mergeOptions, optionsFromEnv } from './options.js';
import { AccountScans, SCAN_STATUSES, type ScanStatus } from './scans.js';
import { type ScanTask, createManualImageScanTask, listImageScanTask } from './tasks.js';

/**
 * Huawei Cloud Host Security Service (HSS) v5 container-image APIs, as the real
 * `@huaweicloud/huaweicloud-sdk-core` client calls them: REST under `/v5/{project_id}/…`,
 * SDK-HMAC-SHA256 AK/SK signatures checked against SIMULATOR_ACCOUNTS.huawei, HSS errors
 * `{error_code, error_msg}` and gateway errors (APIG.xxxx) with `X-Request-Id`.
 */

type Api =
  | 'BatchScanSwrImage'
  | 'ListSwrImageRepository'
  | 'ListImageVulnerabilities'
  | 'CreateManualImageScanTask'
  | 'ListImageScanTask';

interface Route {
  api: Api;
  projectId: string;
  imageId?: string;
}

const ROUTES: { method: string; pattern: RegExp; api: Api }[] = [
  { method: 'POST', pattern: /^\/v5\/([^/]+)\/image\/batch-scan\/?$/, api: 'BatchScanSwrImage' },
  { method: 'GET', pattern: /^\/v5\/([^/]+)\/image\/swr-repository\/?$/, api: 'ListSwrImageRepository' },
  { method: 'GET', pattern: /^\/v5\/([^/]+)\/image\/([^/]+)\/vulnerabilities\/?$/, api: 'ListImageVulnerabilities' },
  { method: 'POST', pattern: /^\/v5\/([^/]+)\/image\/image-scan\/tasks\/?$/, api: 'CreateManualImageScanTask' },
  { method: 'GET', pattern: /^\/v5\/([^/]+)\/image\/tasks\/?$/, api: 'ListImageScanTask' },
];

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function route(req: SimRequest): Route | undefined {
  for (const r of ROUTES) {
    const m = r.pattern.exec(req.path);
    if (m && req.method.toUpperCase() === r.method) {
      return { api: r.api, projectId: safeDecode(m[1] as string), imageId: m[2] === undefined ? undefined : safeDecode(m[2]) };
    }
  }
  return undefined;
}

/** The simulator's stand-in for APIG's per-user flow control (off unless rateLimitPerSecond > 0). */
class FlowControl {
  private window = -1;
  private counts = new Map<string, number>();

  admit(key: string, now: number, limit: number): boolean {
    if (limit <= 0) return true;
    const second = Math.floor(now / 1000);
    if (second !== this.window) {
      this.window = second;
      this.counts.clear();
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n <= limit;
  }
}

/** Limit shown in injected APIG.0308 messages when no flow control is configured. */
const DEFAULT_THROTTLE_LIMIT = 20;
/** Batch-scan calls kept for state(). */
const CALL_LOG_SIZE = 1000;

export function createHuaweiHssFrontEnd(options: Record<string, string>): CloudFrontEnd {
  const accounts: HssAccount[] = SIMULATOR_ACCOUNTS.huawei.map((a) => ({ ...a }));
  let opts: HssOptions = optionsFromEnv(options);
  let ctx: SimContext | undefined;
  let inventories = new Map<string, AccountInventory>();
  let scans = new Map<string, AccountScans>();
  let calls: BatchScanCall[] = [];
  let tasks = new Map<string, ScanTask[]>();
  let flow = new FlowControl();
  const iam = new HuaweiIam();

  const now = () => ctx?.clock.now() ?? Date.now();

  function reseed(): void {
    const seed = ctx?.seed ?? 'scanq';
    inventories = new Map(accounts.map((a, i) => [a.projectId, new AccountInventory(a, i, seed, opts.imagesPerAccount, opts.latestAliases, opts.vulnerablePercent)]));
    scans = new Map(accounts.map((a) => [a.projectId, new AccountScans()]));
    calls = [];
    tasks = new Map(accounts.map((a) => [a.projectId, []]));
    flow = new FlowControl();
    iam.reset();
  }

  const runtime: HssRuntime = {
    get options() {
      return opts;
    },
    now,
    inventory: (a) => inventories.get(a.projectId) as AccountInventory,
    scans: (a) => scans.get(a.projectId) as AccountScans,
    taskCreated(account, images) {
      ctx?.calls.recordTask('huawei', images.map((img) => taskImageKey(account.name, `${img.namespace}/${img.imageName}`, img.imageDigest)));
    },
    recordBatchScan(entry) {
      calls.push(entry);
      if (calls.length > CALL_LOG_SIZE) calls.splice(0, calls.length - CALL_LOG_SIZE);
    },
  };

  function accountState(a: HssAccount) {
    const inventory = runtime.inventory(a);
    const accountScans = runtime.scans(a);
    const t = now();
    const byType: Record<string, number> = {};
    const statusCounts = Object.fromEntries(SCAN_STATUSES.map((s) => [s, 0])) as Record<ScanStatus, number>;
    const namespaces = new Set<string>();
    let latestVersions = 0;
    for (const img of inventory.all()) {
      byType[img.imageType] = (byType[img.imageType] ?? 0) + 1;
      statusCounts[accountScans.view(img, t).status]++;
      namespaces.add(img.namespace);
      if (img.latestVersion) latestVersions++;
    }
    const describe = (img: SeededImage) => ({
      id: img.id,
      image_type: img.imageType,
      namespace: img.namespace,
      image_name: img.imageName,
      image_version: img.imageVersion,
      image_id: img.imageId,
      image_digest: img.imageDigest,
      vul_num: img.vulNum,
      ...(img.instanceId ? { instance_id: img.instanceId, instance_url: img.instanceUrl } : {}),
      ...(img.special ? { special: img.special } : {}),
    });
    return {
      name: a.name,
      region: a.region,
      projectId: a.projectId,
      ak: a.ak,
      images: { total: inventory.size, byType, latestVersions, namespaces: [...namespaces].sort() },
      instances: inventory.instances,
      special: inventory.all().filter((img) => img.namespace === SPECIAL_NAMESPACE).map(describe),
      sample: inventory.all().slice(0, 8).map(describe),
      scanStatusCounts: statusCounts,
      scansStarted: accountScans.started,
      scanTasks: (tasks.get(a.projectId) ?? []).map((t) => ({ taskId: t.taskId, beginTime: t.beginTime, isAll: t.isAll, images: t.images.length })),
    };
  }

  return {
    cloud: 'huawei',

    matches: (req) => req.path.startsWith('/v5/') || isIamCall(req),

    // IAM's call under the IAM SDK's operation name.
    apiName: (req) => (isIamCall(req) ? 'CreateTemporaryAccessKeyByAgency' : (route(req)?.api ?? 'UnknownApi')),

    faultResponse(kind): SimResponse {
      return kind === 'throttle' ? throttled(opts.rateLimitPerSecond || DEFAULT_THROTTLE_LIMIT) : systemError();
    },

    async handle(req, handlerCtx): Promise<SimResponse> {
      ctx = handlerCtx;
      if (isIamCall(req)) {
        if (req.method.toUpperCase() !== 'POST') return apiNotFound();
        // The caller's own AK/SK only: temporary keys are not accepted here.
        const caller = authenticate(req, accounts, Date.now());
        if ('error' in caller) return caller.error;
        return iam.assumeRole(req, caller.account, accounts, now(), opts.iamTokenTtlMs);
      }
      const r = route(req);
      if (!r) return apiNotFound();
      const auth = authenticate(req, accounts, Date.now(), (ak, token) => {
        const key = iam.check(ak, token, now());
        return key && !('error' in key) ? { account: key.account, secret: key.secret } : key;
      });
      if ('error' in auth) return auth.error;
      const { account } = auth;
      // The path's project must be the signing AK's own project.
      if (r.projectId !== account.projectId) return hssError('accessDenied', `project_id ${r.projectId} is not the caller's project.`);
      if (!flow.admit(`${account.projectId}|${r.api}`, now(), opts.rateLimitPerSecond)) return throttled(opts.rateLimitPerSecond);
      switch (r.api) {
        case 'BatchScanSwrImage':
          return batchScanSwrImage(req, account, runtime);
        case 'ListSwrImageRepository':
          return listSwrImageRepository(req, account, runtime);
        case 'ListImageVulnerabilities':
          return listImageVulnerabilities(req, r.imageId ?? '', account, runtime);
        case 'CreateManualImageScanTask':
          return createManualImageScanTask(req, account, runtime, tasks.get(account.projectId) ?? [], handlerCtx.seed);
        case 'ListImageScanTask':
          return listImageScanTask(req, account, runtime, tasks.get(account.projectId) ?? []);
      }
    },

    reset(resetCtx) {
      ctx = resetCtx;
      reseed();
    },

    configure(update) {
      const next = mergeOptions(opts, update);
      const reshape = next.imagesPerAccount !== opts.imagesPerAccount || next.latestAliases !== opts.latestAliases || next.vulnerablePercent !== opts.vulnerablePercent;
      opts = next;
      // A new image count (or vulnerability share) changes the images, so runtime state is dropped with the old inventory.
      if (reshape) reseed();
    },

    state() {
      return {
        options: opts,
        accounts: accounts.map(accountState),
        batchScanCalls: calls.map((c) => ({ ...c })),
        iam: { domains: accounts.map((a) => ({ name: a.name, domainId: iamDomainId(a.name) })), agencies: Object.values(IAM_AGENCIES), issued: iam.issuedCount },
      };
    },
  };
}
