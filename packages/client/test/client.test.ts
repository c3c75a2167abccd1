import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createScanRequestSchema, simulatorAccountRequest } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../../apps/api/src/app.js';
import { startHarness, type WorkerHarness } from '../../../apps/worker/test/harness.js';
import { freePort } from '../../../test/support/processes.js';
import { waitFor } from '../../../test/support/wait.js';
import { check, ScanqApiError, ScanqClient, ScanqInputError, ScanqNetworkError, ScanqResponseError } from '../src/index.js';

type FastifyInstance = Awaited<ReturnType<typeof buildApi>>['app'];

/** The typed client against the real API (in-process, listening on a port) with a worker and the simulator behind it. */
describe('@scanq/client against the real API', () => {
  let harness: WorkerHarness;
  let app: FastifyInstance;
  let client: ScanqClient;

  let baseUrl: string;
  const apiKey = 'client-test-bootstrap-key';

  beforeAll(async () => {
    // SCANQ_API_KEY: the key /v1 accepts without a stored row (the API's bootstrap key).
    harness = await startHarness('client', { LOG_LEVEL: 'silent', SCANQ_WORKER_QUEUES: 'aws', SCANQ_API_KEY: apiKey });
    ({ app } = await buildApi(harness.worker.runtime, { adminUser: 'admin', adminPassword: 'test-admin-password', logger: false }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    baseUrl = `http://127.0.0.1:${port}/`;
    client = new ScanqClient({ baseUrl, apiKey, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await app?.close();
    await harness?.close();
  });

  it('reports readiness', async () => {
    expect(await client.health()).toEqual({ ok: true, status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('creates and lists accounts, and gets a typed 409 for a duplicate name', async () => {
    const request = simulatorAccountRequest('aws', 1, harness.sim.url);
    const account = await client.createAccount(request);
    expect(account).toMatchObject({ provider: 'aws', name: request.name, endpoint: harness.sim.url });
    const listed = await client.listAccounts({ provider: 'aws' });
    expect(listed.map((a) => a.name)).toEqual(expect.arrayContaining(['sim-aws', request.name]));
    const dup = await client.createAccount(request).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ScanqApiError);
    expect(dup).toMatchObject({ status: 409, error: 'conflict', issues: [{ field: 'body.name', rule: 'unique' }] });
  });

  it('submits a scan, replays it by idempotency key, reads it to success and pages every finding', async () => {
    const request = { provider: 'aws', account: 'sim-aws-2', repositoryName: 'scanq/web', imageId: { imageTag: 'latest' } } as const;
    const first = await client.createScan(request, { idempotencyKey: 'client-test-1' });
    expect(first.created).toBe(true);
    expect(first.scan).toMatchObject({ provider: 'aws', status: 'queued', target: { repositoryName: 'scanq/web' } });
    const again = await client.createScan(request, { idempotencyKey: 'client-test-1' });
    expect(again).toMatchObject({ created: false, scan: { id: first.scan.id } });

    const done = await waitFor(async () => {
      const s = await client.getScan(first.scan.id);
      return ['succeeded', 'failed', 'cancelled'].includes(s.status) ? s : undefined;
    }, { timeoutMs: 30_000, intervalMs: 100, what: 'scan to end' });
    expect(done.status).toBe('succeeded');
    expect(done.progress).toBe(100);
    const total = Object.values(done.severityCounts).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(3);

    // One page by hand, then the iterator across every page (limit = page size).
    const page = await client.listFindings(done.id, { limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    const all = [];
    for await (const f of client.iterateFindings(done.id, { limit: 3 })) all.push(f);
    expect(all).toHaveLength(total);
    expect(new Set(all.map((f) => f.id)).size).toBe(total);

    const severities = (['CRITICAL', 'HIGH'] as const).filter((s) => done.severityCounts[s] > 0);
    const filtered = [];
    for await (const f of client.iterateFindings(done.id, { severity: [...severities], limit: 2 })) filtered.push(f);
    expect(filtered).toHaveLength(severities.reduce((n, s) => n + done.severityCounts[s], 0));
    expect(filtered.every((f) => severities.includes(f.severity as (typeof severities)[number]))).toBe(true);
  });

  it('lists scans page by page and iterates them with filters', async () => {
    const ids: string[] = [];
    for (const tag of ['1.4.1', '1.4.0', '1.3.9']) ids.push((await client.createScan({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: tag } })).scan.id);
    const firstPage = await client.listScans({ provider: 'aws', limit: 2 });
    expect(firstPage.items).toHaveLength(2);
    expect(firstPage.nextCursor).toBe(firstPage.items[1]!.id);
    const seen: string[] = [];
    for await (const s of client.iterateScans({ provider: 'aws', limit: 2 })) seen.push(s.id);
    expect(seen).toEqual(expect.arrayContaining(ids));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.indexOf(ids[2]!)).toBeLessThan(seen.indexOf(ids[0]!)); // newest first
  });

  it('turns a 400 into ScanqApiError with every field and rule', async () => {
    const err = await client
      .createScan({ provider: 'aws', account: 'sim-aws', repositoryName: 'X', registryId: 'abc', imageId: { imageTag: 'latest' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanqApiError);
    const api = err as ScanqApiError;
    expect(api.status).toBe(400);
    expect(api.error).toBe('validation_error');
    expect(api.isBadInput).toBe(true);
    expect(api.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'body.repositoryName', rule: 'min_length' }),
        expect.objectContaining({ field: 'body.registryId', rule: 'pattern' }),
      ]),
    );
    // The same request checked locally names the same fields and rules as the server.
    const local = check(createScanRequestSchema, { provider: 'aws', account: 'sim-aws', repositoryName: 'X', registryId: 'abc', imageId: { imageTag: 'latest' } });
    expect(local.ok).toBe(false);
    if (!local.ok) expect(local.issues.map((i) => [i.field, i.rule]).sort()).toEqual(api.issues.map((i) => [i.field, i.rule]).sort());

    const badQuery = await client.listScans({ limit: 0 }).catch((e: unknown) => e);
    expect(badQuery).toMatchObject({ status: 400, issues: [expect.objectContaining({ field: 'querystring.limit' })] });
  });

  it('turns a 404 into ScanqApiError not_found', async () => {
    const err = await client.getScan('01900000-0000-7000-8000-000000000000').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanqApiError);
    expect(err).toMatchObject({ status: 404, error: 'not_found', isBadInput: false });
    await expect(client.listFindings('01900000-0000-7000-8000-000000000000')).rejects.toMatchObject({ status: 404 });
  });

  it('sends the key as a Bearer token: without one, or with a wrong one, /v1 is a typed 401', async () => {
    for (const key of [undefined, 'wrong-key-wrong-key']) {
      const err = await new ScanqClient({ baseUrl, apiKey: key }).listScans().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScanqApiError);
      expect(err).toMatchObject({ status: 401, error: 'unauthorized', isBadInput: false });
    }
  });

  it('keeps the path of a base URL behind a reverse proxy (https://host/scanq → /scanq/v1/…)', async () => {
    // A real proxy in front of the API that serves it under /scanq only.
    const proxy = createServer((req, res) => {
      if (!req.url?.startsWith('/scanq/')) return void res.writeHead(404).end();
      const upstream = httpRequest(`${baseUrl}${req.url.slice('/scanq/'.length)}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const prefixed = new ScanqClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/scanq`, apiKey });
      expect((await prefixed.health()).ok).toBe(true);
      expect((await prefixed.listAccounts()).map((a) => a.name)).toContain('sim-aws');
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('refuses options and header values no request could carry, naming each, before sending anything', () => {
    expect(() => new ScanqClient({ baseUrl: 'localhost:3000' })).toThrow(ScanqInputError);
    const both = (() => {
      try {
        new ScanqClient({ baseUrl: 'not a url', apiKey: 'key\n' });
      } catch (err) {
        return err as ScanqInputError;
      }
    })();
    expect(both?.issues.map((i) => i.field)).toEqual(['options.baseUrl', 'options.apiKey']);
    return expect(client.createScan({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/web', imageId: { imageTag: 'latest' } }, { idempotencyKey: 'ключ' })).rejects.toMatchObject({
      name: 'ScanqInputError',
      issues: [{ field: 'headers.idempotency-key', rule: 'pattern' }],
    });
  });

  it('wraps an unreachable API as ScanqNetworkError', async () => {
    const port = await freePort();
    const down = new ScanqClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2_000 });
    const err = await down.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanqNetworkError);
    expect(err).toMatchObject({ kind: 'unreachable' });
  });

  it('catches drift: a 2xx body that breaks the schema is a ScanqResponseError naming the field', async () => {
    const drifted = new ScanqClient({
      baseUrl: 'http://scanq.invalid',
      fetch: async () => new Response(JSON.stringify({ items: [{ id: 'x', provider: 'gcp' }], nextCursor: null }), { status: 200 }),
    });
    const err = await drifted.listScans().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScanqResponseError);
    expect((err as ScanqResponseError).issues.map((i) => i.field)).toContain('response.items.0.provider');
  });
});
