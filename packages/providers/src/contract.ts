import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { CredentialSource, NormalizedFinding, Provider, ScanReason } from '@scanq/core';

/**
 * The one contract every cloud adapter implements (cf. Harbor's pluggable scanners:
 * submit → poll → normalized report with the raw kept). An adapter is the only code that
 * imports its cloud's SDK; it maps the cloud's statuses and errors into these types and
 * throws `ProviderError` (from @scanq/core) for every failure it can classify.
 */

/** A cloud account as an adapter needs it: where to call, with which secrets. */
export interface ProviderAccount {
  id: string;
  provider: Provider;
  name: string;
  region: string;
  /** null: the cloud's real endpoint. */
  endpoint: string | null;
  settings: Record<string, unknown>;
  /** The secret set credentialRef names (SCANQ_CREDENTIALS / _FILE); empty when the source needs none. */
  credentials: Record<string, string>;
  /**
   * Where the adapter gets credentials (the account's `credentials` block, parsed); null:
   * static, `credentials` as they are. Each adapter builds its SDK's provider from it in its
   * own `credentials.ts`.
   */
  credentialSource?: CredentialSource | null;
}

/** One image as scanq tracks it. */
export interface ImageRef {
  registry: string;
  repository: string;
  tags: string[];
  digest?: string | null;
  /** The cloud's own id for the image, where it has one. */
  providerImageId?: string | null;
  /** What the cloud last said about the image: when listed or resolved, or at the last poll (kept on its row). */
  raw?: unknown;
}

/** The cloud's latest scan of an image, whoever started it (scan-on-push included). */
export interface PriorScan {
  state: 'in_progress' | 'complete' | 'failed';
  /** When it completed (or, when in progress, when it is known to have started). */
  at?: Date;
}

export interface StartedScan {
  /** Provider-side handle for polling. */
  taskId: string;
  /** Images the task covers, where the cloud decides them (Alibaba, Huawei). */
  images?: ImageRef[];
}

export type ImageScanState = 'scanning' | 'succeeded' | 'failed';

export interface ImageProgress {
  /** Index into the images passed to `pollScan`. */
  index: number;
  state: ImageScanState;
  progress?: number;
  reason?: ScanReason;
  message?: string;
  /** The cloud's status payload for the image, stored as-is. */
  raw?: unknown;
  /** The first page of findings, when the status call already returned it (saves a call). */
  firstPage?: FindingsPage;
}

export interface ScanProgress {
  progress: number;
  images: ImageProgress[];
  /** A hint from the cloud for when to look again (e.g. Tencent's ScanRemainTime). */
  nextPollMs?: number;
}

export interface FindingsPage {
  findings: NormalizedFinding[];
  nextCursor?: string;
  scanCompletedAt?: Date;
}

/** An image as a cloud's own listing API reports it (bulk scans select from these). */
export interface InventoryImage extends ImageRef {
  /** When the image was pushed, where the cloud says (latest-tag-only selection). */
  pushedAt?: Date | null;
  namespace?: string | null;
  region?: string | null;
  /**
   * Set when the listing already shows the cloud cannot scan it (a signature artifact, a region
   * without image scanning): a bulk scan counts it skipped for this reason instead of failing it.
   */
  unscannable?: 'unsupported_image_type' | 'unsupported_region';
  /** The cloud's listing entry, as-is. */
  raw?: unknown;
}

/** Narrowing the listing where the cloud can filter server-side; the planner filters the rest. */
export interface InventoryQuery {
  registries?: string[];
  namespaces?: string[];
  repositories?: string[];
}

/** One scan the planner creates: the request target and the images it covers. */
export interface PlannedScan<TTarget = Record<string, unknown>> {
  target: TTarget;
  images: InventoryImage[];
}

/** Bulk support: an adapter that can list its cloud's images and group them into scans. */
export interface BulkCapable<TTarget = Record<string, unknown>> {
  /** True when one account's listing holds images of many regions, each with its `region` (else all are in the account's). */
  readonly inventorySpansRegions?: boolean;
  /**
   * True when the listing names each digest once per repository (its tags folded in) and
   * `planScans` groups the same whatever slice of the listing it is given (e.g. one scan per
   * image): the planner then plans page by page and never holds the listing. Otherwise it holds
   * the account's listing to merge the tags of one digest across pages and plan the whole.
   */
  readonly listsEachDigestOnce?: boolean;
  /** Every image of the account matching `query`, a page at a time (full paging). */
  listImages(account: ProviderAccount, query: InventoryQuery): AsyncIterable<InventoryImage[]>;
  /** The fewest scans the cloud allows for `images` (e.g. one per ECR image, one per ≤10241 for HSS). */
  planScans(account: ProviderAccount, images: InventoryImage[]): PlannedScan<TTarget>[];
}

export const isBulkCapable = (p: ScanProvider<any>): p is ScanProvider<any> & BulkCapable<any> =>
  typeof (p as Partial<BulkCapable>).listImages === 'function' && typeof (p as Partial<BulkCapable>).planScans === 'function';

export interface ScanProvider<TTarget = Record<string, unknown>> {
  readonly provider: Provider;
  /** Turn a request into the concrete images it covers (e.g. tag → digest). */
  resolveImages(account: ProviderAccount, target: TTarget): Promise<ImageRef[]>;
  /** The cloud's latest scan of `image`, or null when it has none. */
  latestScan(account: ProviderAccount, image: ImageRef): Promise<PriorScan | null>;
  startScan(account: ProviderAccount, target: TTarget, images: ImageRef[]): Promise<StartedScan>;
  pollScan(account: ProviderAccount, task: { taskId: string; target: TTarget; images: ImageRef[] }): Promise<ScanProgress>;
  listFindings(account: ProviderAccount, image: ImageRef, cursor?: string): Promise<FindingsPage>;
  /**
   * After an ambiguous create (a timeout, 5xx or lost connection on the create call, or a crash
   * or Postgres outage before its answer was recorded): the scan the cloud already runs (or has
   * run) for these images, started at or after `since`, found through the cloud's own task or
   * list API — or null when the cloud has none, so creating one cannot duplicate it. The answer
   * is what `startScan` would have returned (same `taskId` shape), so polling is unchanged.
   */
  findStartedScan(account: ProviderAccount, target: TTarget, images: ImageRef[], since: Date): Promise<StartedScan | null>;
}

/**
 * Cross-process admission for individual cloud API calls (Tencent: 20 requests/s per API per
 * account). An adapter awaits `acquire` before each call; the implementation (PacedCallGate,
 * a Redis sliding-window pacer) lives in @scanq/queue so adapters never touch Redis themselves.
 */
export interface CallGate {
  acquire(key: { provider: Provider; accountId: string; api: string }): Promise<void>;
}

/** One finished cloud API call, for metrics: which API, how long, and `ok` or the error code. */
export interface ProviderCall {
  provider: Provider;
  accountId: string;
  api: string;
  ms: number;
  outcome: string;
}

/** Told about every cloud API call an adapter makes (metrics: calls, errors, latency per API). */
export interface ProviderCallObserver {
  record(call: ProviderCall): void;
}

/** Bounds of every cloud call (config SCANQ_PROVIDER_TIMEOUT_MS / _CONNECT_TIMEOUT_MS). */
export interface ProviderTimeouts {
  /** A call whose answer has not come within this fails, retryable. */
  requestMs: number;
  /** A connection not made within this fails the call (where the SDK sets it apart). */
  connectMs: number;
}

export const DEFAULT_TIMEOUTS: ProviderTimeouts = { requestMs: 30_000, connectMs: 5_000 };

/** What the worker hands every adapter it builds. */
export interface ProviderDeps {
  /** Absent: calls go out ungated (tests of the adapter alone, one-off tools). */
  callGate?: CallGate;
  /** Absent: calls are not recorded. */
  observer?: ProviderCallObserver;
  /** Absent: DEFAULT_TIMEOUTS. */
  timeouts?: Partial<ProviderTimeouts>;
  /**
   * Where an account's own endpoint may lead (config SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS /
   * _ALLOW_LOOPBACK_ENDPOINTS). Absent: public addresses only.
   */
  endpoints?: { allowPrivate?: boolean; allowLoopback?: boolean };
  /**
   * Fired when the process shuts down: calls in flight are cut (their sockets destroyed) and
   * new ones refused, each failing with a SHUTTING_DOWN ProviderError.
   */
  shutdownSignal?: AbortSignal;
}

/** The timeouts an adapter applies: `deps.timeouts` over the defaults. */
export const timeoutsOf = (deps: ProviderDeps): ProviderTimeouts => ({ ...DEFAULT_TIMEOUTS, ...deps.timeouts });

/** The outcome label of a failed call: the cloud's error code where the adapter knows it. */
export function callOutcome(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown } | null;
  if (e && typeof e.code === 'string' && e.code) return e.code;
  if (e && typeof e.name === 'string' && e.name && e.name !== 'Error') return e.name;
  return 'error';
}

const tracer = trace.getTracer('scanq-providers');

/**
 * Runs one cloud call and reports it to `observer` (if any) with its duration and outcome. Every
 * adapter's calls pass here, so here each becomes a CLIENT span named `<provider> <API>` (the
 * cloud's operation name), a child of the job that made it; a no-op while tracing is off.
 */
export async function observeCall<T>(observer: ProviderCallObserver | undefined, key: Omit<ProviderCall, 'ms' | 'outcome'>, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(
    `${key.provider} ${key.api}`,
    { kind: SpanKind.CLIENT, attributes: { 'rpc.system': RPC_SYSTEM[key.provider], 'rpc.method': key.api, 'cloud.provider': CLOUD_PROVIDER[key.provider], 'scanq.account_id': key.accountId } },
    async (span) => {
      const started = performance.now();
      try {
        const out = await fn();
        observer?.record({ ...key, ms: performance.now() - started, outcome: 'ok' });
        return out;
      } catch (err) {
        const outcome = callOutcome(err);
        observer?.record({ ...key, ms: performance.now() - started, outcome });
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
        span.setAttribute('error.type', outcome);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** The semantic conventions' names: rpc.system for the AWS SDK, cloud.provider for each. */
const RPC_SYSTEM: Record<Provider, string> = { aws: 'aws-api', alibaba: 'alibaba-cloud-api', tencent: 'tencent-cloud-api', huawei: 'huawei-cloud-api' };
const CLOUD_PROVIDER: Record<Provider, string> = { aws: 'aws', alibaba: 'alibaba_cloud', tencent: 'tencent_cloud', huawei: 'huawei_cloud' };
