import type { IncomingHttpHeaders } from 'node:http';
import type { SimContext } from './context.js';

/** Cloud protocol front ends served by the one simulator process. */
export type SimCloud = 'aws' | 'alibaba' | 'tencent' | 'huawei';

/** A request as the front ends see it: raw body kept so signatures can be recomputed. */
export interface SimRequest {
  method: string;
  /** Path without the query string, e.g. `/` or `/v5/{project}/image/batch-scan`. */
  path: string;
  /** Raw query string as sent (no leading `?`); signatures are computed over it. */
  rawQuery: string;
  query: URLSearchParams;
  /** Lower-cased header names, as Node delivers them. */
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** Serialized as JSON unless it is a string or Buffer; `undefined` sends an empty body. */
  body?: unknown;
  /** How the call ended, for the call counter: `ok` or the cloud's error code. */
  outcome?: string;
}

/**
 * One cloud's wire protocol. `matches` decides by what the real SDK sends (X-Amz-Target,
 * x-acs-action, X-TC-Action, /v5 paths); `handle` verifies the signature and answers in the
 * cloud's own success and error shapes.
 */
export interface CloudFrontEnd {
  readonly cloud: SimCloud;
  matches(req: SimRequest): boolean;
  /** The API a request calls (e.g. `StartImageScan`), for counting and fault injection. */
  apiName(req: SimRequest): string;
  /** An injected `server_error` or `throttle` fault, in this cloud's own error shape. */
  faultResponse(kind: 'server_error' | 'throttle', api: string): SimResponse;
  handle(req: SimRequest, ctx: SimContext): Promise<SimResponse>;
  /** Forget all runtime state (tasks, scans, windows) and re-seed. */
  reset(ctx: SimContext): void;
  /** Runtime options (scan duration, findings per image, …) set through `POST /_sim/config/<cloud>`. */
  configure?(options: Record<string, unknown>): void;
  /** Front-end specific state for `GET /_sim/state/<cloud>` (tests and benchmarks read it). */
  state?(): unknown;
}
