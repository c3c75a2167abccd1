import {
  accountSchema,
  applyAccountsResultSchema,
  applyAccountsSchema,
  type BulkSelector as CoreBulkSelector,
  type BulkTotals as CoreBulkTotals,
  bulkScanSchema,
  createAccountSchema,
  createBulkScanSchema,
  createScanRequestSchema,
  createScheduleSchema,
  errorResponseSchema,
  findingSchema,
  HEADER_TEXT_PATTERN,
  HTTP_URL_PATTERN,
  inventoryImageSchema,
  inventoryVulnerabilitySchema,
  listImagesQuerySchema,
  listVulnerabilitiesQuerySchema,
  vulnerabilitySummaryQuerySchema,
  vulnerabilitySummarySchema,
  issuesMessage,
  idempotencyKeySchema,
  listFindingsQuerySchema,
  listScansQuerySchema,
  pageSchema,
  patchAccountSchema,
  patchScheduleSchema,
  type Provider,
  quotasResponseSchema,
  quotaViewSchema,
  readinessSchema,
  scanSchema,
  scheduleSchema,
} from '@scanq/core';
import { z } from 'zod';
import { type ApiIssue, ScanqApiError, ScanqInputError, ScanqNetworkError, ScanqResponseError } from './errors.js';
import { check, toApiIssues } from './validate.js';

// Request types are the schemas' inputs (what a caller may send), response types their outputs.
export type CreateScanRequest = z.input<typeof createScanRequestSchema>;
export type CreateAccountRequest = z.input<typeof createAccountSchema>;
export type PatchAccountRequest = z.input<typeof patchAccountSchema>;
/** PUT /v1/accounts: the whole desired set of accounts (an accounts file), `prune` and `dryRun`. */
export type ApplyAccountsRequest = z.input<typeof applyAccountsSchema>;
export type ApplyAccountsResult = z.output<typeof applyAccountsResultSchema>;
export type Scan = z.output<typeof scanSchema>;
export type Finding = z.output<typeof findingSchema>;
export type Account = z.output<typeof accountSchema>;
export type CreateBulkScanRequest = z.input<typeof createBulkScanSchema>;
export type BulkScan = z.output<typeof bulkScanSchema>;
export type BulkSelector = CoreBulkSelector;
export type BulkTotals = CoreBulkTotals;
export type CreateScheduleRequest = z.input<typeof createScheduleSchema>;
/** PATCH body: only the fields to change; `webhookUrl: null` removes the URL. */
export type UpdateScheduleRequest = z.input<typeof patchScheduleSchema>;
export type Schedule = z.output<typeof scheduleSchema>;
export type QuotaView = z.output<typeof quotaViewSchema>;
/** Query of GET /v1/bulk-scans. */
export interface ListBulkScansQuery {
  /** Page size, 1–200 (server default 50). */
  limit?: number;
  cursor?: string;
  /** Only the bulk scans this schedule created. */
  scheduleId?: string;
}
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
/** Query of GET /v1/scans as the server reads it after validation; every field optional. */
export type ListScansQuery = Partial<z.output<typeof listScansQuerySchema>>;
/** Query of GET /v1/scans/:id/findings; `severity` is a list (sent as the API's comma list). */
export type ListFindingsQuery = Partial<z.output<typeof listFindingsQuerySchema>>;
/** /readyz: `ok`, and which dependency is down when not. */
export type Health = z.output<typeof readinessSchema>;

/** GET /v1/vulnerabilities: a vulnerability with the images it affects now. */
export type InventoryVulnerability = z.output<typeof inventoryVulnerabilitySchema>;
/** GET /v1/images: an image (by digest) with its current counts. */
export type InventoryImage = z.output<typeof inventoryImageSchema>;
export type VulnerabilitySummary = z.output<typeof vulnerabilitySummarySchema>;
/** Query of GET /v1/vulnerabilities; `severity` a list, `fixable` a boolean (sent as the API's strings). */
export type ListVulnerabilitiesQuery = Partial<z.output<typeof listVulnerabilitiesQuerySchema>>;
export type ListImagesQuery = Partial<z.output<typeof listImagesQuerySchema>>;
export type VulnerabilitySummaryQuery = Partial<z.output<typeof vulnerabilitySummaryQuerySchema>>;

const scanPageSchema = pageSchema(scanSchema);
const vulnerabilityPageSchema = pageSchema(inventoryVulnerabilitySchema);
const imagePageSchema = pageSchema(inventoryImageSchema);
const findingPageSchema = pageSchema(findingSchema);
const bulkScanPageSchema = pageSchema(bulkScanSchema);
const accountListSchema = z.object({ items: z.array(accountSchema) });
const scheduleListSchema = z.object({ items: z.array(scheduleSchema) });

export interface ScanqClientOptions {
  /** Server root, e.g. http://127.0.0.1:3000 (a trailing `/v1` is accepted too). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Per request; default 30 s. */
  timeoutMs?: number;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

interface RequestSpec<S extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Schema of the 2xx body (a 204 has none: give z.undefined()). */
  response: S;
  /** Non-2xx statuses whose body is still a normal answer (e.g. /readyz 503). */
  okStatuses?: number[];
}

/** A typed client of the scanq HTTP API. Every response is checked against the API's own schema. */
export class ScanqClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: ScanqClientOptions) {
    const issues: ApiIssue[] = [];
    if (!HTTP_URL_PATTERN.test(options.baseUrl) || !URL.canParse(options.baseUrl)) issues.push({ field: 'options.baseUrl', rule: 'url', message: `must be an absolute http(s) URL (got "${options.baseUrl}")` });
    if (options.apiKey !== undefined && !HEADER_TEXT_PATTERN.test(options.apiKey)) issues.push({ field: 'options.apiKey', rule: 'pattern', message: 'must be visible ASCII (no spaces or line breaks at either end)' });
    if (issues.length) throw new ScanqInputError(issues);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchFn = options.fetch ?? globalThis.fetch;
  }

  /** Requests a scan. `created` is false when an earlier request with the same idempotency key is returned. */
  async createScan(request: CreateScanRequest, options: { idempotencyKey?: string } = {}): Promise<{ scan: Scan; created: boolean }> {
    if (options.idempotencyKey !== undefined) {
      const key = check(idempotencyKeySchema, options.idempotencyKey, 'headers.idempotency-key');
      if (!key.ok) throw new ScanqInputError(key.issues);
    }
    const { status, body } = await this.request({
      method: 'POST',
      path: '/v1/scans',
      body: request,
      headers: options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {},
      response: scanSchema,
    });
    return { scan: body, created: status === 202 };
  }

  /**
   * Cancels a scan. One not yet started at the cloud ends `cancelled`; one already running
   * there is left to finish, so the returned scan may still be running (or already ended).
   */
  async cancelScan(id: string): Promise<Scan> {
    return (await this.request({ method: 'POST', path: `/v1/scans/${encodeURIComponent(id)}/cancel`, response: scanSchema })).body;
  }

  async getScan(id: string): Promise<Scan> {
    return (await this.request({ method: 'GET', path: `/v1/scans/${encodeURIComponent(id)}`, response: scanSchema })).body;
  }

  /** One page of scans, newest first. */
  async listScans(query: ListScansQuery = {}): Promise<Page<Scan>> {
    return (await this.request({ method: 'GET', path: '/v1/scans', query: { ...query }, response: scanPageSchema })).body;
  }

  /** Every scan matching `query`, following the cursor page by page (`limit` is the page size). */
  async *iterateScans(query: ListScansQuery = {}): AsyncGenerator<Scan> {
    yield* this.paginate((cursor) => this.listScans({ ...query, cursor }), query.cursor);
  }

  /** One page of a scan's findings. */
  async listFindings(scanId: string, query: ListFindingsQuery = {}): Promise<Page<Finding>> {
    const { severity, ...rest } = query;
    return (
      await this.request({
        method: 'GET',
        path: `/v1/scans/${encodeURIComponent(scanId)}/findings`,
        query: { ...rest, severity: severity?.length ? severity.join(',') : undefined },
        response: findingPageSchema,
      })
    ).body;
  }

  /** Every finding of a scan matching `query`, page by page. */
  async *iterateFindings(scanId: string, query: ListFindingsQuery = {}): AsyncGenerator<Finding> {
    yield* this.paginate((cursor) => this.listFindings(scanId, { ...query, cursor }), query.cursor);
  }

  async createAccount(request: CreateAccountRequest): Promise<Account> {
    return (await this.request({ method: 'POST', path: '/v1/accounts', body: request, response: accountSchema })).body;
  }

  /** Changes an account's endpoint (null: the cloud's own), region, credential set or settings. */
  async updateAccount(id: string, patch: PatchAccountRequest): Promise<Account> {
    return (await this.request({ method: 'PATCH', path: `/v1/accounts/${encodeURIComponent(id)}`, body: patch, response: accountSchema })).body;
  }

  /**
   * Applies an accounts file: creates and updates accounts to match `request.accounts`; with
   * `prune`, deletes the accounts it does not list; with `dryRun`, only reports. One transaction.
   */
  async applyAccounts(request: ApplyAccountsRequest): Promise<ApplyAccountsResult> {
    return (await this.request({ method: 'PUT', path: '/v1/accounts', body: request, response: applyAccountsResultSchema })).body;
  }

  async listAccounts(query: { provider?: Provider } = {}): Promise<Account[]> {
    return (await this.request({ method: 'GET', path: '/v1/accounts', query: { ...query }, response: accountListSchema })).body.items;
  }

  /** Requests a bulk scan (202): it starts in `planning`; a job turns the selector into scans. */
  async createBulkScan(request: CreateBulkScanRequest): Promise<BulkScan> {
    return (await this.request({ method: 'POST', path: '/v1/bulk-scans', body: request, response: bulkScanSchema })).body;
  }

  /** A bulk scan with its totals by state and provider, and its ETA. */
  async getBulkScan(id: string): Promise<BulkScan> {
    return (await this.request({ method: 'GET', path: `/v1/bulk-scans/${encodeURIComponent(id)}`, response: bulkScanSchema })).body;
  }

  /** One page of bulk scans, newest first. */
  async listBulkScans(query: ListBulkScansQuery = {}): Promise<Page<BulkScan>> {
    return (await this.request({ method: 'GET', path: '/v1/bulk-scans', query: { ...query }, response: bulkScanPageSchema })).body;
  }

  /** Every bulk scan matching `query`, page by page. */
  async *iterateBulkScans(query: ListBulkScansQuery = {}): AsyncGenerator<BulkScan> {
    yield* this.paginate((cursor) => this.listBulkScans({ ...query, cursor }), query.cursor);
  }

  /** Cancels a bulk scan: its queued scans end `cancelled`, those running at the cloud finish. */
  async cancelBulkScan(id: string): Promise<BulkScan> {
    return (await this.request({ method: 'POST', path: `/v1/bulk-scans/${encodeURIComponent(id)}/cancel`, response: bulkScanSchema })).body;
  }

  async createSchedule(request: CreateScheduleRequest): Promise<Schedule> {
    return (await this.request({ method: 'POST', path: '/v1/schedules', body: request, response: scheduleSchema })).body;
  }

  /** Each account's quota right now (Alibaba slots, AWS 24 h windows, Tencent rate, Huawei batch). */
  /** One page of vulnerabilities affecting images now, each with the images (e.g. `{ cve: 'CVE-2021-44228' }`). */
  async listVulnerabilities(query: ListVulnerabilitiesQuery = {}): Promise<Page<InventoryVulnerability>> {
    const { severity, fixable, ...rest } = query;
    const q = { ...rest, severity: severity?.length ? severity.join(',') : undefined, fixable: fixable === undefined ? undefined : String(fixable) };
    return (await this.request({ method: 'GET', path: '/v1/vulnerabilities', query: q, response: vulnerabilityPageSchema })).body;
  }

  async *iterateVulnerabilities(query: ListVulnerabilitiesQuery = {}): AsyncGenerator<InventoryVulnerability> {
    yield* this.paginate((cursor) => this.listVulnerabilities({ ...query, cursor }), query.cursor);
  }

  /** One page of images with their current severity counts and last scan. */
  async listImages(query: ListImagesQuery = {}): Promise<Page<InventoryImage>> {
    return (await this.request({ method: 'GET', path: '/v1/images', query: { ...query }, response: imagePageSchema })).body;
  }

  async *iterateImages(query: ListImagesQuery = {}): AsyncGenerator<InventoryImage> {
    yield* this.paginate((cursor) => this.listImages({ ...query, cursor }), query.cursor);
  }

  /** Current findings by severity × provider × account, top vulnerabilities, fixable share. */
  async vulnerabilitySummary(query: VulnerabilitySummaryQuery = {}): Promise<VulnerabilitySummary> {
    return (await this.request({ method: 'GET', path: '/v1/vulnerabilities/summary', query: { ...query }, response: vulnerabilitySummarySchema })).body;
  }

  async getQuotas(query: { provider?: Provider } = {}): Promise<QuotaView[]> {
    return (await this.request({ method: 'GET', path: '/v1/quotas', query: { provider: query.provider }, response: quotasResponseSchema })).body.items;
  }

  /** Every schedule (the API does not page them), each with its next run. */
  async listSchedules(): Promise<Schedule[]> {
    return (await this.request({ method: 'GET', path: '/v1/schedules', response: scheduleListSchema })).body.items;
  }

  async getSchedule(id: string): Promise<Schedule> {
    return (await this.request({ method: 'GET', path: `/v1/schedules/${encodeURIComponent(id)}`, response: scheduleSchema })).body;
  }

  /** Changes the given fields only (PATCH). */
  async updateSchedule(id: string, patch: UpdateScheduleRequest): Promise<Schedule> {
    return (await this.request({ method: 'PATCH', path: `/v1/schedules/${encodeURIComponent(id)}`, body: patch, response: scheduleSchema })).body;
  }

  /** Stops the schedule ticking (`enabled: false`); its next run becomes null. */
  pauseSchedule(id: string): Promise<Schedule> {
    return this.updateSchedule(id, { enabled: false });
  }

  /** Lets a paused schedule tick again (`enabled: true`). */
  resumeSchedule(id: string): Promise<Schedule> {
    return this.updateSchedule(id, { enabled: true });
  }

  /** Deletes the schedule (204); the bulk scans it created stay. */
  async deleteSchedule(id: string): Promise<void> {
    await this.request({ method: 'DELETE', path: `/v1/schedules/${encodeURIComponent(id)}`, response: z.undefined() });
  }

  /** Readiness: the API answers and reaches Postgres and Redis. Never throws for a 503. */
  async health(): Promise<Health> {
    return (await this.request({ method: 'GET', path: '/readyz', response: readinessSchema, okStatuses: [503] })).body;
  }

  private async *paginate<T>(page: (cursor: string | undefined) => Promise<Page<T>>, first: string | undefined): AsyncGenerator<T> {
    let cursor = first;
    do {
      const p = await page(cursor);
      yield* p.items;
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
  }

  private async request<S extends z.ZodType>(spec: RequestSpec<S>): Promise<{ status: number; body: z.output<S> }> {
    // Relative to the base, so a base behind a path prefix (https://host/scanq) keeps it.
    const url = new URL(spec.path.replace(/^\//, ''), `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', ...spec.headers };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;

    let res: Response;
    let text: string;
    try {
      // The timeout covers the whole exchange, body included.
      const signal = AbortSignal.timeout(this.timeoutMs);
      res = await this.fetchFn(url, { method: spec.method, headers, body: spec.body === undefined ? undefined : JSON.stringify(spec.body), signal });
      text = await res.text();
    } catch (err) {
      const e = err as Error;
      if (e.name === 'TimeoutError' || e.name === 'AbortError') {
        throw new ScanqNetworkError('timeout', url.toString(), `${spec.method} ${url} did not answer within ${this.timeoutMs} ms`, { cause: err });
      }
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ScanqNetworkError('unreachable', url.toString(), `cannot reach the scanq API at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? e.message}`, { cause: err });
    }

    let json: unknown;
    try {
      json = text.length ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok && !spec.okStatuses?.includes(res.status)) {
      const parsed = errorResponseSchema.safeParse(json);
      if (parsed.success) throw new ScanqApiError(res.status, parsed.data.error, parsed.data.message, parsed.data.issues ?? []);
      throw new ScanqApiError(res.status, `http_${res.status}`, text.slice(0, 500) || res.statusText || `HTTP ${res.status}`);
    }
    const parsed = spec.response.safeParse(json);
    if (!parsed.success) {
      const issues = toApiIssues(parsed.error.issues, 'response');
      throw new ScanqResponseError(url.toString(), res.status, `${spec.method} ${url.pathname}: the response does not match the client's schema (${issuesMessage(issues)})`, issues);
    }
    return { status: res.status, body: parsed.data };
  }
}
