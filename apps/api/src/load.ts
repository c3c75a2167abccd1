import { getHeapStatistics } from 'node:v8';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { ErrorResponse, ScanqConfig } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { issueBody, RETRY_AFTER_SECONDS } from './errors.js';

/**
 * The API under load: load shedding (503 + Retry-After while the process is overloaded) and a
 * per-key request budget counted in Redis (429 + Retry-After), both in the API's error shape.
 *
 * Exempt from both: /healthz (liveness: a 503 there would have the orchestrator restart a
 * process that is only busy, and a stalled loop fails the probe by not answering anyway) and
 * /metrics (an overload is when operators need the figures; scrapes are rare). /readyz does say
 * 503 while shedding — "send no traffic here for now" is exactly what readiness means — but in its
 * own shape (checks.load: "overloaded"), so the hook leaves it to the route; it is exempt from
 * the rate limit, so probes never spend a client's budget.
 */
const SHEDDING_EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);
const RATE_LIMIT_EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

/** under-pressure's check names → the issue's field. */
const PRESSURE_FIELD: Record<string, string> = {
  eventLoopDelay: 'server.event_loop_delay',
  eventLoopUtilization: 'server.event_loop_utilization',
  heapUsedBytes: 'server.heap_used',
  rssBytes: 'server.rss',
};

/** The body of a 503 for an overloaded API (which measure, not its value: anyone may ask). */
export const overloadedBody = (type: string): ErrorResponse => {
  const issue = { field: PRESSURE_FIELD[type] ?? 'server.load', rule: 'max', message: `is over its limit (the API is overloaded); retry in ${RETRY_AFTER_SECONDS} s` };
  return { ...issueBody('service_unavailable', issue) };
};

const MB = 1024 * 1024;

/** Registers load shedding; a threshold of 0 turns its check off. */
export async function registerLoadShedding(app: FastifyInstance, pressure: ScanqConfig['api']['pressure']): Promise<void> {
  const heapMb = pressure.maxHeapUsedMb ?? Math.floor((0.9 * getHeapStatistics().heap_size_limit) / MB);
  await app.register(underPressure, {
    maxEventLoopDelay: pressure.maxEventLoopDelayMs,
    maxEventLoopUtilization: pressure.maxEventLoopUtilization,
    // Per-second utilisation, not since the start (the plugin's default mode).
    eventLoopUtilizationMode: 'interval',
    maxHeapUsedBytes: heapMb * MB,
    maxRssBytes: pressure.maxRssMb * MB,
    // undefined: the request carries on; a value: the plugin sends it as the answer (its types say void).
    pressureHandler: ((request: FastifyRequest, reply: FastifyReply, type: string) => {
      if (SHEDDING_EXEMPT.has(request.routeOptions.url ?? '')) return undefined;
      reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS));
      return overloadedBody(type);
    }) as unknown as (request: FastifyRequest, reply: FastifyReply, type: string) => void,
  });
}

/** A request over its budget; the error handler answers it as a 429. */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  readonly statusCode = 429;
  constructor(
    readonly max: number,
    readonly windowMs: number,
    readonly retryAfterSeconds: number,
    readonly byKey: boolean,
  ) {
    super(`allows ${max} requests per ${windowMs / 1000} s; retry in ${retryAfterSeconds} s`);
  }
}

export const rateLimitedBody = (err: RateLimitedError): ErrorResponse =>
  issueBody('rate_limited', { field: err.byKey ? 'headers.authorization' : 'client', rule: 'rate_limit', message: `${err.byKey ? 'this API key' : 'this client address'} ${err.message}` });

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the API key the request carried (set by the /v1 key check; null: none or not valid). */
    apiKeyId: string | null;
  }
}

/** The limiter's Redis keys: `<prefix>:ratelimit:key:<key id>` and `<prefix>:ratelimit:ip:<address>`. */
export const rateLimitNamespace = (queuePrefix: string) => `${queuePrefix}:ratelimit:`;

/** Applies the budget to a request now (the /v1 key check calls it once the key is known); no-op when off. */
export type RateLimitCheck = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Registers the per-key rate limit when SCANQ_API_RATE_LIMIT_MAX > 0 (off: nothing registered, no
 * cost). Counted in Redis under the deployment's prefix (ioredis + the plugin's Lua script; the
 * `{…}` hash tag keeps every key in one Cluster slot), so API replicas share one budget. Redis
 * unreachable or slow (bounded by the dependency timeout): the request goes through uncounted
 * (skipOnError) — a budget is protection, not correctness, and a 500 or a wait would turn a Redis
 * blip into an API outage for the reads that need only Postgres.
 */
export async function registerRateLimit(app: FastifyInstance, runtime: ScanqRuntime): Promise<RateLimitCheck> {
  app.decorateRequest('apiKeyId', null);
  const { max, windowMs } = runtime.config.api.rateLimit;
  if (max === 0) return async () => undefined;
  const timeoutMs = runtime.config.api.dependencyTimeoutMs;
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: windowMs,
    hook: 'onRequest',
    redis: boundedRedis(runtime.redis, timeoutMs),
    nameSpace: rateLimitNamespace(runtime.config.queuePrefix),
    skipOnError: true,
    // RateLimit-Limit / -Remaining / -Reset and Retry-After (the IETF draft's names).
    enableDraftSpec: true,
    keyGenerator: (request) => (request.apiKeyId ? `key:${request.apiKeyId}` : `ip:${request.ip}`),
    allowList: (request) => RATE_LIMIT_EXEMPT.has(request.routeOptions.url ?? ''),
    errorResponseBuilder: (request, context) => new RateLimitedError(context.max, windowMs, Math.max(1, Math.ceil(context.ttl / 1000)), request.apiKeyId !== null),
  });
  // The plugin's own handler: once it ran for a request, its route hook skips that request.
  const check = app.rateLimit();
  return async (request, reply) => {
    await check.call(app, request, reply);
  };
}

type RedisLike = ScanqRuntime['redis'];

/**
 * The runtime's ioredis client with the limiter's script command bounded by `ms`: a Redis that
 * does not answer costs a request at most that long, then the request goes through (skipOnError).
 */
function boundedRedis(redis: RedisLike, ms: number): RedisLike {
  const bounded = Object.create(redis) as RedisLike & Record<string, unknown>;
  // The store defines its commands only where they are missing: here, always (on this wrapper).
  Object.assign(bounded, { rateLimit: undefined, rateLimitRead: undefined });
  bounded.defineCommand = (name: string, definition: { numberOfKeys?: number; lua: string }) => {
    redis.defineCommand(name, definition);
    const command = (redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name]!.bind(redis);
    bounded[name] = (...args: unknown[]) => {
      const cb = args.pop() as (err: Error | null, result?: unknown) => void;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`rate limit: Redis did not answer within ${ms} ms`)), ms);
      });
      Promise.race([command(...args), timeout]).then(
        (result) => cb(null, result),
        (err: Error) => cb(err),
      ).finally(() => clearTimeout(timer));
    };
  };
  return bounded;
}
