import { createRuntime, type ScanqRuntime } from '@scanq/scans';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { RedisServer } from '../../../test/support/servers.js';
import { waitFor } from '../../../test/support/wait.js';
import { buildApi } from '../src/app.js';
import { rateLimitNamespace } from '../src/load.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

/**
 * The API under load, judged by its HTTP answers and the Redis keys it counts in: the per-key
 * rate limit (off by default; on: 429 + Retry-After, budgets per key, shared by replicas through
 * Redis) and load shedding (503 + Retry-After while the event loop lags, not a hang).
 */

const WINDOW_MS = 60_000;
const MAX = 5;

type App = InProcessApi['app'];
const get = (app: App, url: string, headers: Record<string, string> = AUTH) => app.inject({ method: 'GET', url, headers });

const opened: InProcessApi[] = [];
const extra: { app: App; runtime: ScanqRuntime }[] = [];
let redis: Redis | undefined;
afterEach(async () => {
  for (const e of extra.splice(0)) {
    await e.app.close();
    await e.runtime.close();
  }
  for (const api of opened.splice(0)) await api.close();
});
afterAll(async () => {
  redis?.disconnect();
});

const start = async (name: string, overrides: Record<string, string> = {}) => {
  const api = await startInProcessApi(name, [], 'test-admin-password', overrides);
  opened.push(api);
  redis ??= new Redis(api.env.redisUrl);
  return api;
};

describe('rate limit', () => {
  it('is off by default: MAX + 1 requests all pass, nothing counted in Redis', async () => {
    const api = await start('ratelimit-off');
    for (let i = 0; i <= MAX; i++) {
      const res = await get(api.app, '/v1/scans');
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    expect(await redis!.keys(`${rateLimitNamespace(api.env.prefix)}*`)).toEqual([]);
  });

  it('on: the MAX+1th request answers 429 with Retry-After within the window and the RateLimit headers', async () => {
    const api = await start('ratelimit-on', { SCANQ_API_RATE_LIMIT_MAX: String(MAX), SCANQ_API_RATE_LIMIT_WINDOW_MS: String(WINDOW_MS) });
    for (let i = 0; i < MAX; i++) {
      const res = await get(api.app, '/v1/scans');
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe(String(MAX));
      expect(res.headers['ratelimit-remaining']).toBe(String(MAX - 1 - i));
    }
    const refused = await get(api.app, '/v1/scans');
    expect(refused.statusCode).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    expect(refused.json()).toMatchObject({
      error: 'rate_limited',
      issues: [{ field: 'headers.authorization', rule: 'rate_limit', message: expect.stringContaining(`${MAX} requests per ${WINDOW_MS / 1000} s`) }],
    });
    // Counted under the deployment's prefix by the key's id (the bootstrap key's is "bootstrap"), never its secret.
    const key = `${rateLimitNamespace(api.env.prefix)}key:bootstrap`;
    expect(await redis!.get(key)).toBe(String(MAX + 1));
    expect(await redis!.pttl(key)).toBeGreaterThan(0);
    // Probes never spend (nor hit) a budget.
    expect((await get(api.app, '/readyz', {})).statusCode).toBe(200);
    expect((await get(api.app, '/healthz', {})).statusCode).toBe(200);
  });

  it('two keys have budgets of their own; requests without a valid key spend their address’s', async () => {
    const api = await start('ratelimit-keys', { SCANQ_API_RATE_LIMIT_MAX: String(MAX) });
    const stored = (await api.runtime.apiKeys.create('second'))!.key;
    const second = { authorization: `Bearer ${stored}` };
    for (let i = 0; i < MAX; i++) expect((await get(api.app, '/v1/scans')).statusCode).toBe(200);
    expect((await get(api.app, '/v1/scans')).statusCode).toBe(429);
    for (let i = 0; i < MAX; i++) expect((await get(api.app, '/v1/scans', second)).statusCode).toBe(200);
    expect((await get(api.app, '/v1/scans', second)).statusCode).toBe(429);
    const [row] = await api.runtime.sql.rows<{ id: string }>(`SELECT id FROM "ApiKey" WHERE name = 'second'`);
    const ns = rateLimitNamespace(api.env.prefix);
    expect(await redis!.get(`${ns}key:${row!.id}`)).toBe(String(MAX + 1));
    expect(JSON.stringify(await redis!.keys(`${ns}*`))).not.toContain(stored.split('_')[2]!);
    // A bad key is refused 401 while its address has budget left, then 429 naming the client.
    for (let i = 0; i < MAX; i++) expect((await get(api.app, '/v1/scans', { authorization: 'Bearer nope' })).statusCode).toBe(401);
    const refused = await get(api.app, '/v1/scans', { authorization: 'Bearer nope' });
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ issues: [{ field: 'client', rule: 'rate_limit' }] });
    expect(await redis!.get(`${ns}ip:127.0.0.1`)).toBe(String(MAX + 1));
  });

  it('two API instances on one deployment share one budget through Redis', async () => {
    const overrides = { SCANQ_API_RATE_LIMIT_MAX: String(MAX), LOG_LEVEL: 'silent' };
    const first = await start('ratelimit-shared', overrides);
    const runtime = createRuntime(first.env.config(overrides));
    const { app: second } = await buildApi(runtime, { adminUser: 'admin', adminPassword: 'test-admin-password', logger: false });
    extra.push({ app: second, runtime });
    await second.ready();
    for (let i = 0; i < MAX; i++) expect((await get(i % 2 === 0 ? first.app : second, '/v1/scans')).statusCode).toBe(200);
    expect((await get(second, '/v1/scans')).statusCode).toBe(429);
    expect((await get(first.app, '/v1/scans')).statusCode).toBe(429);
    expect(await redis!.get(`${rateLimitNamespace(first.env.prefix)}key:bootstrap`)).toBe(String(MAX + 2));
  });
});

describe('rate limit with its Redis down', () => {
  let server: RedisServer | undefined;
  afterAll(async () => {
    await server?.destroy();
  });

  it('lets requests through uncounted (no 429, no 500, not held on the client’s offline queue), and counts again once Redis is back', async () => {
    server = await RedisServer.start();
    const api = await start('ratelimit-redisdown', { REDIS_URL: server.url, SCANQ_API_RATE_LIMIT_MAX: '2', SCANQ_API_DEPENDENCY_TIMEOUT_MS: '1000' });
    const key = `${rateLimitNamespace(api.env.prefix)}key:bootstrap`;
    expect([(await get(api.app, '/v1/scans')).statusCode, (await get(api.app, '/v1/scans')).statusCode, (await get(api.app, '/v1/scans')).statusCode]).toEqual([200, 200, 429]);
    expect(await server.command('GET', key)).toBe('3');
    await server.stop();
    // The listing reads Postgres only: it is served, each request after at most the limiter's bound.
    for (let i = 0; i < 3; i++) expect((await get(api.app, '/v1/scans')).statusCode).toBe(200);
    await server.start();
    // A new, empty server: the budget starts again (within the client's reconnect).
    await waitFor(async () => (await get(api.app, '/v1/scans')).statusCode === 429, { timeoutMs: 60_000, what: 'counting again once Redis is back' });
    expect(Number(await server.command('GET', key))).toBeGreaterThan(2);
  });
});

describe('load shedding', () => {
  /** Keeps this process's event loop busy in 200 ms slices until stopped (the API runs in it). */
  const stallLoop = () => {
    let stopped = false;
    const slice = () => {
      if (stopped) return;
      const until = performance.now() + 200;
      while (performance.now() < until);
      setImmediate(slice);
    };
    setImmediate(slice);
    return () => {
      stopped = true;
    };
  };

  it('answers 503 + Retry-After in the API error shape while the event loop lags, exempts /healthz, recovers after', async () => {
    const api = await start('pressure', { SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '50' });
    expect((await get(api.app, '/v1/scans')).statusCode).toBe(200);
    const stop = stallLoop();
    try {
      const shed = await waitFor(
        async () => {
          const res = await get(api.app, '/v1/scans');
          return res.statusCode === 503 ? res : undefined;
        },
        { timeoutMs: 60_000, what: 'a 503 while the loop lags' },
      );
      expect(shed.headers['retry-after']).toMatch(/^\d+$/);
      expect(shed.json()).toMatchObject({ error: 'service_unavailable', issues: [{ field: 'server.event_loop_delay', rule: 'max' }] });
      // Readiness says "not now" too; liveness does not (the process is alive, only busy).
      const ready = await get(api.app, '/readyz', {});
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ ok: false, status: 'unavailable', checks: { load: 'overloaded' } });
      expect((await get(api.app, '/healthz', {})).statusCode).toBe(200);
    } finally {
      stop();
    }
    await waitFor(async () => (await get(api.app, '/v1/scans')).statusCode === 200, { timeoutMs: 60_000, what: 'a 200 once the loop is idle' });
  });
});
