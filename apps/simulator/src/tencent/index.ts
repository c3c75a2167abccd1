import { taskImageKey } from '../core/call-counter.js';
import type { SimContext } from '../core/context.js';
import type { CloudFrontEnd, SimRequest, SimResponse } from '../core/frontend.js';
import { TC_ERRORS, TcError, tcFailure, tcSuccess } from './errors.js';
import { findingsFor } from './findings.js';
import { TCSS_HANDLERS } from './handlers.js';
import { type TencentOptions, parseTencentEnv, parseTencentRuntimeOptions } from './options.js';
import { isRecord, type Params } from './params.js';
import { PerAccountRateLimiter } from './rate-limit.js';
import { ScanStore, viewScan } from './scans.js';
import { type SeedAccount, type SeedImage, seedTencentAccounts } from './seed.js';
import { STS_API_VERSION, STS_UINS, TencentSts } from './sts.js';
import {
  TC3_MAX_SKEW_SECONDS,
  acceptableServices,
  headerValue,
  parseTc3Authorization,
  tc3Date,
  verifyTc3Signature,
} from './signature.js';

export const TCSS_API_VERSION = '2020-11-01';

/**
 * Tencent Cloud TCSS (container security, API 2020-11-01) as `tencentcloud-sdk-nodejs` speaks it:
 * `POST /` with a JSON body, `X-TC-Action`/`X-TC-Version`/`X-TC-Timestamp` headers and a TC3-HMAC-SHA256
 * `Authorization`; every answer is HTTP 200 with a `Response` envelope.
 *
 * Options (`SIM_TENCENT_SCAN_MS`, `SIM_TENCENT_RPS`, `SIM_TENCENT_IMAGES`) — see options.ts.
 */
export function createTencentTcssFrontEnd(options: Record<string, string>): CloudFrontEnd {
  const opts: TencentOptions = parseTencentEnv(options);
  const limiter = new PerAccountRateLimiter();
  const store = new ScanStore();
  const sts = new TencentSts();
  let accounts: SeedAccount[] = [];
  let imagesByAccount = new Map<string, Map<number, SeedImage>>();
  let clockNow: () => number = () => Date.now();

  return {
    cloud: 'tencent',

    matches(req: SimRequest): boolean {
      return typeof req.headers['x-tc-action'] === 'string';
    },

    apiName(req: SimRequest): string {
      return headerValue(req, 'x-tc-action') ?? 'Unknown';
    },

    faultResponse(kind: 'server_error' | 'throttle'): SimResponse {
      return kind === 'throttle'
        ? tcFailure(TC_ERRORS.requestLimitExceeded, 'Your current request frequency exceeds the limit of this API. Please reduce the request rate.')
        : tcFailure(TC_ERRORS.internalError, 'An internal error occurred. Please try again later.');
    },

    async handle(req: SimRequest, ctx: SimContext): Promise<SimResponse> {
      try {
        const action = headerValue(req, 'x-tc-action') ?? '';
        if (action === 'AssumeRole' || action === 'AssumeRoleWithWebIdentity') return tcSuccess(stsCall(req, ctx, action));
        const account = authenticate(req, ctx, action);
        const handler = TCSS_HANDLERS[action];
        if (!handler) throw new TcError(TC_ERRORS.invalidAction, `The action ${action} does not exist in tcss ${TCSS_API_VERSION}.`);
        const params = parseParams(req);
        const imagesById = imagesByAccount.get(account.name) ?? new Map<number, SeedImage>();
        const taskCreated = (images: readonly SeedImage[]) =>
          ctx.calls.recordTask('tencent', images.map((i) => taskImageKey(account.name, `${i.Namespace}/${i.ImageName}`, i.ImageDigest)));
        return tcSuccess(handler(params, { account, imagesById, now: ctx.clock.now(), store, options: opts, taskCreated }));
      } catch (err) {
        if (err instanceof TcError) return tcFailure(err.code, err.message);
        return tcFailure(TC_ERRORS.internalError, `Internal error: ${(err as Error).message}`);
      }
    },

    reset(ctx: SimContext): void {
      accounts = seedTencentAccounts(ctx.seed, opts.imagesPerAccount, opts.tagAliasShare);
      imagesByAccount = new Map(accounts.map((a) => [a.name, new Map(a.images.map((img) => [img.Id, img]))]));
      store.reset(ctx.seed, accounts);
      limiter.reset();
      sts.reset();
      clockNow = () => ctx.clock.now();
    },

    configure(input: Record<string, unknown>): void {
      Object.assign(opts, parseTencentRuntimeOptions(input));
    },

    state(): unknown {
      const now = clockNow();
      return {
        options: { ...opts },
        accounts: accounts.map((a) => ({
          name: a.name,
          secretId: a.secretId,
          region: a.region,
          instances: a.instances,
          images: a.images.map((img) => imageState(img, viewScan(store.currentScan(img.Id), now).ScanStatus)),
        })),
        tasks: [...store.tasks.values()],
        rateLimit: { limitPerSecond: opts.rateLimitPerSecond, ...limiter.stats() },
        sts: { uins: Object.fromEntries(accounts.map((a, i) => [a.name, STS_UINS[i] ?? null])), issued: { ...sts.issuedCount } },
      };
    },
  };

  /** STS: AssumeRole signed with an account's base keys; AssumeRoleWithWebIdentity unsigned. */
  function stsCall(req: SimRequest, ctx: SimContext, action: 'AssumeRole' | 'AssumeRoleWithWebIdentity'): Record<string, unknown> {
    const version = headerValue(req, 'x-tc-version');
    if (!version) throw new TcError(TC_ERRORS.missingParameter, 'The request is missing the required parameter X-TC-Version.');
    if (version !== STS_API_VERSION) throw new TcError(TC_ERRORS.noSuchVersion, `The API version ${version} does not exist for sts.`);
    const params = parseParams(req);
    if (action === 'AssumeRoleWithWebIdentity') return sts.assumeRoleWithWebIdentity(params, accounts, ctx.clock.now(), opts.stsTokenTtlMs);
    const auth = parseTc3Authorization(headerValue(req, 'authorization'));
    const caller = accounts.find((a) => a.secretId === auth.secretId);
    if (!caller) throw new TcError(TC_ERRORS.secretIdNotFound, 'The SecretId is not found, please ensure that your SecretId is correct.');
    checkSignature(req, ctx, auth, caller.secretKey, 'sts');
    return sts.assumeRole(params, accounts, ctx.clock.now(), opts.stsTokenTtlMs);
  }

  /**
   * Identifies the account by SecretId (a base key, or an STS temporary key whose token is
   * checked and which acts as its role's account), counts the call against its rate limit, then
   * checks the TC3 signature.
   */
  function authenticate(req: SimRequest, ctx: SimContext, action: string): SeedAccount {
    const version = headerValue(req, 'x-tc-version');
    if (!version) throw new TcError(TC_ERRORS.missingParameter, 'The request is missing the required parameter X-TC-Version.');
    if (version !== TCSS_API_VERSION) throw new TcError(TC_ERRORS.noSuchVersion, `The API version ${version} does not exist for tcss.`);

    const auth = parseTc3Authorization(headerValue(req, 'authorization'));
    let account = accounts.find((a) => a.secretId === auth.secretId);
    let secretKey = account?.secretKey;
    const temporary = account ? undefined : sts.check(auth.secretId, headerValue(req, 'x-tc-token'), ctx.clock.now());
    if (temporary) {
      account = accounts.find((a) => a.name === temporary.account);
      secretKey = temporary.tmpSecretKey;
    }
    if (!account || !secretKey) throw new TcError(TC_ERRORS.secretIdNotFound, 'The SecretId is not found, please ensure that your SecretId is correct.');

    // Every identified call counts, including ones rejected below.
    if (!limiter.admit(account.name, action, opts.rateLimitPerSecond)) {
      throw new TcError(TC_ERRORS.requestLimitExceeded, `Your requests to ${action} exceed ${opts.rateLimitPerSecond} per second. Please reduce the request rate.`);
    }

    checkSignature(req, ctx, auth, secretKey, 'tcss');
    return account;
  }

  function checkSignature(req: SimRequest, ctx: SimContext, auth: ReturnType<typeof parseTc3Authorization>, secretKey: string, service: string): void {
    const rawTimestamp = headerValue(req, 'x-tc-timestamp');
    if (!rawTimestamp) throw new TcError(TC_ERRORS.missingParameter, 'The request is missing the required parameter X-TC-Timestamp.');
    const timestamp = Number(rawTimestamp);
    if (!Number.isInteger(timestamp)) throw new TcError(TC_ERRORS.invalidParameter, 'X-TC-Timestamp must be a Unix timestamp in seconds.');
    const serverSeconds = Math.floor(ctx.clock.now() / 1000);
    if (Math.abs(serverSeconds - timestamp) > TC3_MAX_SKEW_SECONDS) {
      throw new TcError(
        TC_ERRORS.signatureExpire,
        `Signature expired. Timestamp ${timestamp} differs from the server time ${serverSeconds} by more than ${TC3_MAX_SKEW_SECONDS} seconds.`,
      );
    }
    const validScope = auth.date === tc3Date(timestamp) && acceptableServices(req, service).includes(auth.service);
    if (!validScope || !verifyTc3Signature(req, auth, timestamp, secretKey)) {
      throw new TcError(TC_ERRORS.signatureFailure, 'The provided credentials could not be validated. Please check your signature is correct.');
    }
  }
}

/** The action's parameters: the JSON body of a POST, or the flattened query (`Id.0=1`) of a GET. */
function parseParams(req: SimRequest): Params {
  if (req.method.toUpperCase() === 'GET') return unflatten(req.query);
  if (req.rawBody.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    throw new TcError(TC_ERRORS.invalidParameter, 'The request body is not valid JSON.');
  }
  if (!isRecord(parsed)) throw new TcError(TC_ERRORS.invalidParameter, 'The request body must be a JSON object.');
  return parsed;
}

/** `Images.0.ImageName=x&Id.1=3` → `{Images:[{ImageName:'x'}], Id:[, 3]}` (API 3.0 GET encoding). */
function unflatten(query: URLSearchParams): Params {
  const root: Params = {};
  for (const [key, value] of query) {
    const parts = key.split('.');
    let node: Record<string, unknown> | unknown[] = root;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const index = /^\d+$/.test(part) ? Number(part) : part;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[index] = value;
        return;
      }
      const nextIsIndex = /^\d+$/.test(parts[i + 1] ?? '');
      container[index] ??= nextIsIndex ? [] : {};
      node = container[index] as Record<string, unknown> | unknown[];
    });
  }
  return root;
}

function imageState(img: SeedImage, scanStatus: string): Record<string, unknown> {
  const f = findingsFor(img);
  return {
    Id: img.Id,
    ImageId: img.ImageId,
    ImageDigest: img.ImageDigest,
    RegistryType: img.RegistryType,
    InstanceId: img.InstanceId,
    InstanceName: img.InstanceName,
    Namespace: img.Namespace,
    ImageName: img.ImageName,
    ImageTag: img.ImageTag,
    ImageRepoAddress: img.ImageRepoAddress,
    IsAuthorized: img.IsAuthorized,
    IsLatestImage: img.IsLatestImage,
    special: img.special ?? null,
    /** What a full (CVE+VIRUS+RISK) scan reports once it completes. */
    expected: { VulCnt: f.vuls.length, VirusCnt: f.virusCnt, RiskCnt: f.riskCnt, SensitiveInfoCnt: f.sensitiveInfoCnt, levels: f.levelCounts },
    scanStatus,
  };
}
