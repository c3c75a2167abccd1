import { type Dependency, loadConfig, simulatorAccountRequest } from '@scanq/core';
import { createRuntime, type ScanqRuntime } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, TEST_API_KEY } from '../../../test/support/env.js';
import { freePort, type ScanqProcess, startProcess, waitForHttp } from '../../../test/support/processes.js';
import { PostgresServer, RedisServer } from '../../../test/support/servers.js';
import { waitFor } from '../../../test/support/wait.js';

/**
 * The API as a real process on a Postgres and a Redis of this test's own, which it stops and
 * starts again: every /v1 route answers 503 + Retry-After while one is down (never a 500, and
 * within seconds), and 2xx once it is back — the same process, never restarted.
 */

const TIMEOUT_MS = 1_500;
/** The dependency timeout plus room for a loaded machine: "a few seconds", not minutes. */
const PROMPT_MS = TIMEOUT_MS + 3_500;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: string; issues?: { field: string; rule: string; message: string }[]; [k: string]: unknown };
  ms: number;
}

describe('API outages: Postgres or Redis down', () => {
  let pgServer: PostgresServer;
  let redisServer: RedisServer;
  let env: Record<string, string>;
  let api: ScanqProcess;
  let base = '';
  /** A runtime of the test's own on the same servers: reconciler and look-ups. */
  let probe: ScanqRuntime;
  let storedKey = '';
  let scanId = '';
  let scheduleId = '';
  let bulkId = '';
  let accountId = '';
  const extra: ScanqProcess[] = [];

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH, url = base): Promise<Answer> => {
    const started = Date.now();
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? JSON.parse(text) : {}, ms: Date.now() - started };
  };

  const scanRequest = { provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } };
  const schedule = (name: string) => ({ name, cron: '0 3 * * *', timezone: 'UTC', selector: { providers: ['aws'] } });

  /** Every /v1 route, each once (ids of rows that exist). */
  const everyRoute = (): [string, string, unknown?][] => [
    ['GET', '/v1/scans'],
    ['GET', `/v1/scans/${scanId}`],
    ['GET', `/v1/scans/${scanId}/findings`],
    ['POST', '/v1/scans', scanRequest],
    ['POST', `/v1/scans/${scanId}/cancel`],
    ['GET', '/v1/accounts'],
    ['POST', '/v1/accounts', { ...simulatorAccountRequest('aws', 1, 'http://127.0.0.1:9') }],
    ['PATCH', `/v1/accounts/${accountId}`, { region: 'us-east-1' }],
    ['GET', '/v1/bulk-scans'],
    ['GET', `/v1/bulk-scans/${bulkId}`],
    ['POST', '/v1/bulk-scans', { selector: { providers: ['aws'] } }],
    ['POST', `/v1/bulk-scans/${bulkId}/cancel`],
    ['GET', '/v1/schedules'],
    ['POST', '/v1/schedules', schedule('during-outage')],
    ['GET', `/v1/schedules/${scheduleId}`],
    ['PATCH', `/v1/schedules/${scheduleId}`, { enabled: false }],
    ['DELETE', `/v1/schedules/${scheduleId}`],
    ['GET', '/v1/quotas'],
  ];

  const expectUnavailable = (a: Answer, dependency: Dependency, what: string) => {
    expect({ what, status: a.status }).toEqual({ what, status: 503 });
    expect(a.retryAfter).toMatch(/^\d+$/);
    expect(a.body).toMatchObject({ error: 'service_unavailable', issues: [{ field: `dependency.${dependency}`, rule: 'available' }] });
    expect(a.ms, what).toBeLessThan(PROMPT_MS);
  };

  const startApi = (name: string, port: number) => startProcess(name, 'apps/api/src/main.ts', { ...env, API_PORT: String(port) });

  beforeAll(async () => {
    // Its own `scanq` database, created and migrated by `create`.
    [pgServer, redisServer] = await Promise.all([PostgresServer.create(), RedisServer.start()]);
    const databaseUrl = pgServer.url;
    env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisServer.url,
      SCANQ_QUEUE_PREFIX: 'scanq-outage',
      SCANQ_API_KEY: TEST_API_KEY,
      SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '0', // shedding off: its 503s are not the outages under test
      SCANQ_ADMIN_PASSWORD: 'test-admin-password',
      SCANQ_API_DEPENDENCY_TIMEOUT_MS: String(TIMEOUT_MS),
      SCANQ_DB_POOL_MAX: '4',
      LOG_LEVEL: 'warn',
    };
    probe = createRuntime(loadConfig({ ...env, LOG_LEVEL: 'silent', SCANQ_RECONCILE_GRACE_MS: '0' }));
    storedKey = (await probe.apiKeys.create('outage-test'))!.key;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = startApi('api', port);
    await waitForHttp(`${base}/readyz`, api);
    const created = await call('POST', '/v1/accounts', simulatorAccountRequest('aws', 0, 'http://127.0.0.1:9'));
    expect(created.status).toBe(201);
    accountId = String(created.body.id);
    // Its quota view reads Redis (task slots); AWS's reads Postgres only.
    expect((await call('POST', '/v1/accounts', simulatorAccountRequest('alibaba', 0, 'http://127.0.0.1:9'))).status).toBe(201);
    scanId = String((await call('POST', '/v1/scans', scanRequest)).body.id);
    scheduleId = String((await call('POST', '/v1/schedules', schedule('nightly'))).body.id);
    bulkId = String((await call('POST', '/v1/bulk-scans', { selector: { providers: ['aws'] } })).body.id);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([api, ...extra].map((p) => p?.stop()));
    await probe?.close().catch(() => undefined);
    await Promise.all([pgServer?.destroy(), redisServer?.destroy()]);
  });

  it('answers every route 2xx while both are up', async () => {
    for (const [method, path, body] of everyRoute()) {
      const a = await call(method, path, body);
      expect(a.status, `${method} ${path}`).toBeGreaterThanOrEqual(200);
      expect(a.status, `${method} ${path}`).toBeLessThan(300);
    }
    // The routes above deleted the schedule: one to use from here on.
    scheduleId = String((await call('POST', '/v1/schedules', schedule('nightly-2'))).body.id);
  });

  it('Postgres down: 503 + Retry-After on every /v1 route within seconds, /readyz names it, /healthz is live', async () => {
    await pgServer.stop();
    for (const [method, path, body] of everyRoute()) expectUnavailable(await call(method, path, body), 'postgres', `${method} ${path}`);
    // A stored key cannot be checked: that is an outage too, not a 401.
    expectUnavailable(await call('GET', '/v1/scans', undefined, { authorization: `Bearer ${storedKey}` }), 'postgres', 'stored key');
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.retryAfter).toMatch(/^\d+$/);
    // Which one is down, and no error text.
    expect(ready.body).toEqual({ ok: false, status: 'unavailable', checks: { postgres: 'down', redis: 'ok' } });
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('Postgres back: the same process answers 2xx again by itself', async () => {
    await pgServer.start();
    await waitFor(async () => (await call('GET', '/readyz')).status === 200, { timeoutMs: 20_000, what: 'readyz after Postgres restart' });
    expect((await call('GET', '/v1/scans', undefined, { authorization: `Bearer ${storedKey}` })).status).toBe(200);
    for (const [method, path, body] of everyRoute().filter(([m]) => m === 'GET')) expect({ path, status: (await call(method, path, body)).status }).toEqual({ path, status: 200 });
    const queued = await call('POST', '/v1/scans', scanRequest);
    expect(queued.status).toBe(202);
    queuedScanId = String(queued.body.id);
    expect(api.child.exitCode).toBeNull();
  });

  let queuedScanId = '';
  let acceptedWhileDown = '';
  let secondApi = '';

  it('Redis down: routes that need it answer 503; a scan is still accepted (202) once its row is durable', async () => {
    await redisServer.stop();
    for (const [method, path, body] of [
      ['GET', '/v1/quotas'],
      // Cancelling removes the scan's job first: nothing is marked cancelled while Redis is away.
      ['POST', `/v1/scans/${queuedScanId}/cancel`],
      ['POST', '/v1/schedules', schedule('no-redis')],
      ['PATCH', `/v1/schedules/${scheduleId}`, { enabled: false }],
    ] as [string, string, unknown?][]) {
      expectUnavailable(await call(method, path, body), 'redis', `${method} ${path}`);
    }
    // The schedule was refused before its row was written: a retry will not find its name taken.
    expect(((await call('GET', '/v1/schedules')).body.items as { name: string }[]).map((s) => s.name)).not.toContain('no-redis');
    // Postgres-only reads still work.
    expect((await call('GET', '/v1/scans')).status).toBe(200);
    expect((await call('GET', `/v1/scans/${queuedScanId}`)).body).toMatchObject({ status: 'queued' });

    const accepted = await call('POST', '/v1/scans', { ...scanRequest, imageId: { imageTag: 'during-redis-outage' } });
    expect(accepted.status).toBe(202);
    expect(accepted.ms).toBeLessThan(PROMPT_MS);
    acceptedWhileDown = String(accepted.body.id);
    expect((await call('GET', `/v1/scans/${acceptedWhileDown}`)).body).toMatchObject({ status: 'queued' });
    expect((await call('POST', '/v1/bulk-scans', { selector: { providers: ['aws'] } })).status).toBe(202);

    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ ok: false, status: 'unavailable', checks: { postgres: 'ok', redis: 'down' } });

    // An API that starts while Redis is down answers too (its queues never connected yet).
    const port = await freePort();
    secondApi = `http://127.0.0.1:${port}`;
    const late = startApi('api-2', port);
    extra.push(late);
    await waitForHttp(`${secondApi}/healthz`, late);
    const early = await call('POST', '/v1/scans', { ...scanRequest, imageId: { imageTag: 'second-api' } }, AUTH, secondApi);
    expect(early.status).toBe(202);
    expect(early.ms).toBeLessThan(PROMPT_MS);
    expectUnavailable(await call('GET', '/v1/quotas', undefined, AUTH, secondApi), 'redis', 'second API quotas');
  });

  it('Redis back: both processes recover by themselves, and the reconciler adds the job of the scan accepted meanwhile', async () => {
    await redisServer.start();
    for (const url of [base, secondApi]) {
      await waitFor(async () => (await call('GET', '/readyz', undefined, AUTH, url)).status === 200, { timeoutMs: 20_000, what: `readyz of ${url} after Redis restart` });
      expect((await call('GET', '/v1/quotas', undefined, AUTH, url)).status).toBe(200);
      const submitted = await call('POST', '/v1/scans', { ...scanRequest, imageId: { imageTag: `after-${url.slice(-5)}` } }, AUTH, url);
      expect(submitted.status).toBe(202);
      expect((await probe.queues.getJob('aws', String(submitted.body.id)))?.name).toBe('scan.start');
    }
    // The restarted Redis is empty: the scan accepted during the outage has no job until the reconciler adds one.
    expect(await probe.queues.getJob('aws', acceptedWhileDown)).toBeUndefined();
    const report = await probe.reconciler.reconcile();
    expect(report.reenqueued).toBeGreaterThanOrEqual(1);
    const row = await probe.scans.get(acceptedWhileDown);
    expect((await probe.queues.getJob('aws', row!.jobId!))?.data).toEqual({ scanId: acceptedWhileDown });
    expect((await call('POST', '/v1/schedules', schedule('after-redis'))).status).toBe(201);
    expect(api.child.exitCode).toBeNull();
  });

  it('both down at once, then back: 503 throughout, 2xx after', async () => {
    await Promise.all([pgServer.stop(), redisServer.stop()]);
    for (const [method, path, body] of everyRoute()) {
      const a = await call(method, path, body);
      expect({ what: `${method} ${path}`, status: a.status }).toEqual({ what: `${method} ${path}`, status: 503 });
      expect(a.ms).toBeLessThan(PROMPT_MS);
    }
    expect((await call('GET', '/readyz')).body).toEqual({ ok: false, status: 'unavailable', checks: { postgres: 'down', redis: 'down' } });
    await Promise.all([pgServer.start(), redisServer.start()]);
    await waitFor(async () => (await call('GET', '/readyz')).status === 200, { timeoutMs: 20_000, what: 'readyz after both restarted' });
    expect((await call('POST', '/v1/scans', scanRequest)).status).toBe(202);
    expect(api.child.exitCode).toBeNull();
    // Nothing on the way was a 500.
    expect(api.output()).not.toMatch(/"statusCode":500|unhandled error/);
  });
});
