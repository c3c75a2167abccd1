import { taskImageKey } from '../core/call-counter.js';
import type { SimContext } from '../core/context.js';
import type { CloudFrontEnd, SimRequest, SimResponse } from '../core/frontend.js';
import { errorResponse, newRequestId, SasError, sasErrors } from './errors.js';
import { findingsFor, type VulRecord } from './findings.js';
import { OPERATIONS, type OperationContext } from './handlers.js';
import { type AlibabaStartupOptions, parseRuntimeOptions, parseStartupOptions } from './options.js';
import { AccountScans, imageView, isRunning, type ScanTask } from './scans.js';
import { type SeedImage, seedAccounts, SUPPORTED_REGIONS, UNSUPPORTED_REGION } from './seed.js';
import { requestParameters, SignatureVerifier } from './signature.js';
import { AlibabaStsSessions, assumeRole, securityTokenOf, STS_VERSION, stsErrorResponse } from './sts.js';

/**
 * Alibaba Cloud Security Center (SAS, API 2018-12-03) as `@alicloud/openapi-client` 0.4.x
 * calls it: RPC style, `POST /`, business parameters in the query, Action/Version in the
 * `x-acs-action`/`x-acs-version` headers (ACS3 signing) or the query (v2 signing).
 *
 * Behaviours worth knowing (see the tests):
 * - 10 running tasks per account (`taskLimit`): the 10th create answers `CanCreate: false`, the
 *   11th `400 BeyondQuata`; a task frees its slot once all its images are final.
 * - Authorizations: one per image digest never paid for. When they run out, Create still
 *   succeeds (the docs say the task "is stopped"); the unpaid images end at once with
 *   `ScaStatus: FAIL`, `ScaProgress: 0` and no findings. PreCheck's `ScanImageCount` tells
 *   how many a task would consume.
 * - `configure({noPermission: {<account>: true | [actions]}})` makes that caller get
 *   `403 NoPermission`.
 * - `reset` re-seeds and restores the start-up options (runtime changes are forgotten).
 */
export const SAS_VERSION = '2018-12-03';

/** Common parameters of v2 requests; everything else in the query is a business parameter. */
const COMMON_PARAMETERS = new Set([
  'Action', 'Version', 'Format', 'Timestamp', 'SignatureNonce', 'SignatureMethod', 'SignatureVersion',
  'SignatureType', 'AccessKeyId', 'Signature', 'SecurityToken', 'BearerToken',
]);

function header(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function actionOf(req: SimRequest): string | undefined {
  return header(req, 'x-acs-action') ?? req.query.get('Action') ?? undefined;
}

function gaugeName(account: string): string {
  return `alibaba:${account}:runningTasks`;
}

class SasSimulator {
  private options: AlibabaStartupOptions;
  private accounts: AccountScans[] = [];
  private byAccessKey = new Map<string, AccountScans>();
  private sessions = new AlibabaStsSessions();
  private readonly verifier = new SignatureVerifier((ak) => this.byAccessKey.get(ak)?.account.accessKeySecret ?? this.sessions.get(ak)?.accessKeySecret);
  private readonly findingsByImage = new Map<string, readonly VulRecord[]>();
  private lastGauge = new Map<string, number>();
  private ctx: SimContext | undefined;

  constructor(private readonly startup: AlibabaStartupOptions) {
    this.options = { ...startup };
  }

  /** Re-seeds every account and forgets tasks, nonces and runtime options. */
  reset(ctx: SimContext): void {
    this.ctx = ctx;
    this.options = { ...this.startup };
    this.accounts = seedAccounts(ctx.seed, this.options.imagesPerAccount).map(
      (a) => new AccountScans(a, ctx.seed, this.options.authorizations),
    );
    this.byAccessKey = new Map(this.accounts.map((a) => [a.account.accessKeyId, a]));
    this.sessions = new AlibabaStsSessions();
    this.verifier.reset();
    this.findingsByImage.clear();
    this.lastGauge = new Map();
    for (const a of this.accounts) this.updateGauge(a, 0);
  }

  configure(raw: Record<string, unknown>): void {
    const parsed = parseRuntimeOptions(raw, this.accounts.map((a) => a.account.name));
    if (parsed.scanDurationMs !== undefined) this.options.scanDurationMs = parsed.scanDurationMs;
    if (parsed.scanSpreadPercent !== undefined) this.options.scanSpreadPercent = parsed.scanSpreadPercent;
    if (parsed.taskLimit !== undefined) this.options.taskLimit = parsed.taskLimit;
    if (parsed.stsTokenMs !== undefined) this.options.stsTokenMs = parsed.stsTokenMs;
    for (const a of this.accounts) {
      const auth = parsed.authorizations;
      if (typeof auth === 'number') a.runtime.authorizationsRemaining = auth;
      else if (auth?.[a.account.name] !== undefined) a.runtime.authorizationsRemaining = auth[a.account.name] as number;
      const denied = parsed.noPermission?.[a.account.name];
      if (denied !== undefined) a.runtime.noPermission = denied;
    }
  }

  async handle(req: SimRequest, ctx: SimContext): Promise<SimResponse> {
    const requestId = newRequestId();
    try {
      const action = actionOf(req);
      const version = header(req, 'x-acs-version') ?? req.query.get('Version') ?? undefined;
      if (!action) throw sasErrors.missing('Action');
      if (!version) throw sasErrors.missing('Version');
      if (version === STS_VERSION) return this.handleSts(req, action, requestId);
      if (version !== SAS_VERSION) throw sasErrors.invalidVersion();
      const operation = OPERATIONS[action];
      if (!operation) throw sasErrors.actionNotFound();

      const caller = this.verifier.verify(req);
      // Every call's security token is checked: a session's own and unexpired, none with a long-term key.
      const session = this.sessions.checkToken(caller.accessKeyId, securityTokenOf(req));
      const account = session ? this.accounts.find((a) => a.account.name === session.account) : this.byAccessKey.get(caller.accessKeyId);
      if (!account) throw sasErrors.accessKeyNotFound();
      const denied = account.runtime.noPermission;
      if (denied === true || denied === '*' || (Array.isArray(denied) && denied.includes(action))) {
        throw sasErrors.noPermission();
      }

      const now = ctx.clock.now();
      this.updateGauge(account, account.refresh(now));
      const params = new Map<string, string>();
      for (const [k, v] of requestParameters(req)) if (!COMMON_PARAMETERS.has(k) && !params.has(k)) params.set(k, v);
      const opCtx: OperationContext = {
        params,
        account,
        now,
        scanDurationMs: this.options.scanDurationMs,
        scanSpreadPercent: this.options.scanSpreadPercent,
        taskLimit: this.options.taskLimit,
        findings: (image) => this.findings(image),
        taskCreated: (images) => ctx.calls.recordTask('alibaba', images.map((i) => taskImageKey(account.account.name, `${i.repoNamespace}/${i.repoName}`, i.digest))),
      };
      let body: Record<string, unknown>;
      try {
        body = operation(opCtx);
      } finally {
        this.updateGauge(account, account.refresh(now));
      }
      return {
        status: 200,
        headers: { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': requestId },
        body: { RequestId: requestId, ...body },
      };
    } catch (err) {
      if (err instanceof SasError) return errorResponse(err, requestId);
      console.error('alibaba SAS front end: unhandled error', err);
      return { ...errorResponse(sasErrors.serverError(), requestId), outcome: 'ServerError:unhandled' };
    }
  }

  /** STS (2015-04-01), served at the same endpoint: sts.ts. */
  private handleSts(req: SimRequest, action: string, requestId: string): SimResponse {
    try {
      if (action !== 'AssumeRole') throw sasErrors.actionNotFound();
      const caller = this.verifier.verify(req);
      this.sessions.checkToken(caller.accessKeyId, securityTokenOf(req));
      const body = assumeRole(req, this.sessions, this.options.stsTokenMs);
      return { status: 200, headers: { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': requestId }, body: { RequestId: requestId, ...body } };
    } catch (err) {
      if (err instanceof SasError) return stsErrorResponse(err, requestId);
      throw err;
    }
  }

  private findings(image: SeedImage): readonly VulRecord[] {
    // Keyed by Uuid: the records depend on the digest, but each names its own image (Uuid, tag).
    let records = this.findingsByImage.get(image.uuid);
    if (records === undefined) this.findingsByImage.set(image.uuid, (records = findingsFor(image)));
    return records;
  }

  /** Publishes the account's running-task count whenever it changes (the counter keeps the max). */
  private updateGauge(account: AccountScans, running: number): void {
    const name = gaugeName(account.account.name);
    if (this.lastGauge.get(name) === running) return;
    this.lastGauge.set(name, running);
    this.ctx?.calls.setGauge(name, running);
  }

  state(): unknown {
    const now = this.ctx?.clock.now() ?? Date.now();
    const taskView = (a: AccountScans, t: ScanTask) => {
      const summary = a.taskSummary(t, now);
      const skipped = (reason: string) => [...t.skipped].filter(([, r]) => r === reason).map(([uuid]) => uuid);
      return {
        taskId: t.taskId,
        createdAt: t.createdAt,
        finishAt: t.finishAt,
        running: t.finishAt > now,
        totalCount: t.uuids.length,
        finishCount: summary.finishCount,
        progress: summary.progress,
        uuids: t.uuids,
        unsupportedRegion: skipped('unsupported-region'),
        repeated: skipped('repeat'),
        unauthorized: skipped('unauthorized'),
      };
    };
    return {
      options: { ...this.options },
      supportedRegions: SUPPORTED_REGIONS,
      unsupportedRegion: UNSUPPORTED_REGION,
      accounts: this.accounts.map((a) => {
        const running = a.refresh(now);
        this.updateGauge(a, running);
        return {
          name: a.account.name,
          accessKeyId: a.account.accessKeyId,
          region: a.account.region,
          authorizationsRemaining: a.runtime.authorizationsRemaining,
          authorizationsUsed: a.runtime.authorizationsUsed,
          authorizedDigests: a.runtime.authorizedDigests.size,
          noPermission: a.runtime.noPermission,
          beyondQuataCount: a.beyondQuataCount,
          runningTaskCount: running,
          images: a.images.map((s) => {
            const view = imageView(s, now);
            return {
              ...s.image,
              scaStatus: view.scaStatus,
              scaProgress: view.scaProgress,
              scaResult: view.scaResult,
              lastScanTime: view.lastScanTime,
              scanning: s.current !== undefined && isRunning(s.current, now),
              findings: view.lastSuccessAt > 0 ? this.findings(s.image).length : 0,
              potentialFindings: this.findings(s.image).length,
            };
          }),
          runningTasks: a.tasks.filter((t) => t.finishAt > now).map((t) => taskView(a, t)),
          finishedTasks: a.tasks.filter((t) => t.finishAt <= now).map((t) => taskView(a, t)),
        };
      }),
    };
  }
}

export function createAlibabaSasFrontEnd(options: Record<string, string>): CloudFrontEnd {
  const sas = new SasSimulator(parseStartupOptions(options));
  return {
    cloud: 'alibaba',
    // What the SDK sends: RPC calls to `/` naming the action in `x-acs-action` (ACS3) or `Action` (v2).
    matches: (req) => req.path === '/' && actionOf(req) !== undefined,
    apiName: (req) => actionOf(req) ?? 'unknown',
    faultResponse: (kind) => {
      // No `outcome`: the server counts injected faults as `fault:<kind>`.
      const { outcome: _counted, ...res } = errorResponse(kind === 'server_error' ? sasErrors.serverError() : sasErrors.throttled());
      return res;
    },
    handle: (req, ctx) => sas.handle(req, ctx),
    reset: (ctx) => sas.reset(ctx),
    configure: (raw) => sas.configure(raw),
    state: () => sas.state(),
  };
}
