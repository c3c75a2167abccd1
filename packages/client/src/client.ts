import {
  accountSchema,
  createAccountSchema,
  createScanRequestSchema,
  errorResponseSchema,
  findingSchema,
  listFindingsQuerySchema,
  listScansQuerySchema,
  pageSchema,
  type Provider,
  scanSchema,
} from '@scanq/core';
import { z } from 'zod';
import { ScanqApiError, ScanqNetworkError, ScanqResponseError } from './errors.js';
import { toApiIssues } from './validate.js';

// Request types are the schemas' inputs (what a caller may send), response types their outputs.
export type CreateScanRequest = z.input<typeof createScanRequestSchema>;
export type CreateAccountRequest = z.input<typeof createAccountSchema>;
export type Scan = z.output<typeof scanSchema>;
export type Finding = z.output<typeof findingSchema>;
export type Account = z.output<typeof accountSchema>;
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
/** Query of GET /v1/scans as the server reads it after validation; every field optional. */
export type ListScansQuery = Partial<z.output<typeof listScansQuerySchema>>;
/** Query of GET /v1/scans/:id/findings; `severity` is a list (sent as the API's comma list). */
export type ListFindingsQuery = Partial<z.output<typeof listFindingsQuerySchema>>;
export interface Health {
  ok: boolean;
  error?: string;
}

const scanPageSchema = pageSchema(scanSchema);
const findingPageSchema = pageSchema(findingSchema);
const accountListSchema = z.object({ items: z.array(accountSchema) });
const healthSchema = z.object({ ok: z.boolean(), error: z.string().optional() });

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
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Schema of the 2xx body. */
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
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchFn = options.fetch ?? globalThis.fetch;
  }

  /** Requests a scan. `created` is false when an earlier request with the same idempotency key is returned. */
  async createScan(request: CreateScanRequest, options: { idempotencyKey?: string } = {}): Promise<{ scan: Scan; created: boolean }> {
    const { status, body } = await this.request({
      method: 'POST',
      path: '/v1/scans',
      body: request,
      headers: options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {},
      response: scanSchema,
    });
    return { scan: body, created: status === 202 };
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

  async listAccounts(query: { provider?: Provider } = {}): Promise<Account[]> {
    return (await this.request({ method: 'GET', path: '/v1/accounts', query: { ...query }, response: accountListSchema })).body.items;
  }

  /** Readiness: the API answers and reaches Postgres and Redis. Never throws for a 503. */
  async health(): Promise<Health> {
    return (await this.request({ method: 'GET', path: '/readyz', response: healthSchema, okStatuses: [503] })).body;
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
    const url = new URL(spec.path, `${this.baseUrl}/`);
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
      throw new ScanqResponseError(url.toString(), res.status, `${spec.method} ${url.pathname}: the response does not match the client's schema (${issues.map((i) => `${i.field}: ${i.message}`).join('; ')})`, issues);
    }
    return { status: res.status, body: parsed.data };
  }
}
