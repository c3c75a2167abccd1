import type { ScanqRuntime } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

const valid = { provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } };

describe('HTTP API', () => {
  let api: InProcessApi;
  let runtime: ScanqRuntime;
  let app: InProcessApi['app'];
  beforeAll(async () => {
    api = await startInProcessApi('api', ['aws']);
    ({ runtime, app } = api);
  });
  afterAll(async () => api?.close());

  const post = (body: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url: '/v1/scans', payload: body as object, headers: { ...AUTH, ...headers } });

  it('accepts a scan with 202, records it queued and enqueues its start job with jobId = scan id', async () => {
    const res = await post(valid);
    expect(res.statusCode).toBe(202);
    const scan = res.json();
    expect(scan).toMatchObject({ provider: 'aws', status: 'queued', target: { repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } } });
    const job = await runtime.queues.getJob('aws', scan.id);
    expect(job?.name).toBe('scan.start');
    expect(job?.data).toEqual({ scanId: scan.id });
    expect(job?.opts.removeOnComplete).toBeTruthy();
  });

  it.each([
    ['repositoryName too short', { ...valid, repositoryName: 'a' }, 'body.repositoryName', 'min_length'],
    ['repositoryName off pattern', { ...valid, repositoryName: 'Scanq/API' }, 'body.repositoryName', 'pattern'],
    ['repositoryName too long', { ...valid, repositoryName: 'a'.repeat(257) }, 'body.repositoryName', 'max_length'],
    ['registryId not 12 digits', { ...valid, registryId: '12345' }, 'body.registryId', 'pattern'],
    ['imageId with neither digest nor tag', { ...valid, imageId: {} }, 'body.imageId', 'constraint'],
    ['a bad digest', { ...valid, imageId: { imageDigest: 'md5:zz' } }, 'body.imageId.imageDigest', 'pattern'],
    ['an unknown provider', { ...valid, provider: 'gcp' }, 'body.provider', 'one_of'],
    ['a missing account', { provider: 'aws', repositoryName: 'scanq/api', imageId: { imageTag: 'x' } }, 'body.account', 'required'],
    ['an unknown field', { ...valid, colour: 'red' }, 'body.colour', 'unknown_field'],
    ['a number where a string belongs', { ...valid, repositoryName: 42 }, 'body.repositoryName', 'type'],
  ])('rejects %s with 400 naming the field and the rule', async (_what, body, field, rule) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.error).toBe('validation_error');
    expect(json.issues).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
  });

  it('names every bad field at once', async () => {
    const res = await post({ ...valid, repositoryName: 'X', registryId: 'abc' });
    const fields = new Set(res.json().issues.map((i: { field: string }) => i.field));
    expect([...fields].sort()).toEqual(['body.registryId', 'body.repositoryName']);
  });

  it('answers malformed JSON, wrong content types and unknown accounts without a 500', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/scans', payload: '{"provider":', headers: { ...AUTH, 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    const text = await app.inject({ method: 'POST', url: '/v1/scans', payload: 'hello', headers: { ...AUTH, 'content-type': 'text/plain' } });
    expect([400, 415]).toContain(text.statusCode);
    const unknown = await post({ ...valid, account: 'nobody' });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().issues[0].field).toBe('body.account');
  });

  it('returns the first scan for a repeated Idempotency-Key, and 409 when the body differs', async () => {
    const first = await post(valid, { 'idempotency-key': 'key-1' });
    const again = await post(valid, { 'idempotency-key': 'key-1' });
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const other = await post({ ...valid, imageId: { imageTag: 'other' } }, { 'idempotency-key': 'key-1' });
    expect(other.statusCode).toBe(409);
    expect(other.json().issues[0].field).toBe('headers.idempotency-key');
    // The options are part of the request too: a repeat asking for another deadline or webhook is not the first scan.
    for (const changed of [{ timeoutSeconds: 60 }, { webhookUrl: 'https://hooks.example.com/x' }]) {
      expect((await post({ ...valid, ...changed }, { 'idempotency-key': 'key-1' })).statusCode).toBe(409);
    }
  });

  const postRaw = (url: string, payload: string, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload, headers: { ...AUTH, 'content-type': 'application/json', ...headers } });

  it.each([
    ['a NUL in the account', '{"provider":"aws","account":"\\u0000x","repositoryName":"scanq/api","imageId":{"imageTag":"latest"}}', 'body.account'],
    ['a NUL deep in a Huawei image', '{"provider":"huawei","account":"sim-huawei","region":"cn-north-4","image_type":"private_image","image_info_list":[{"namespace":"a\\u0000b","image_name":"n","image_version":"v"}]}', 'body.image_info_list.0.namespace'],
    ['an unpaired surrogate in a webhook URL', '{"provider":"aws","account":"sim-aws","repositoryName":"scanq/api","imageId":{"imageTag":"latest"},"webhookUrl":"https://example.com/\\ud800"}', 'body.webhookUrl'],
  ])('refuses %s with 400 (Postgres cannot store it), never a 500', async (_what, payload, field) => {
    const res = await postRaw('/v1/scans', payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([expect.objectContaining({ field, rule: 'text' })]);
  });

  it('refuses a NUL in an account setting and a __proto__ key, naming each', async () => {
    const nul = await postRaw('/v1/accounts', '{"provider":"aws","name":"nul","region":"us-east-1","credentialRef":"x","settings":{"webhookUrl":"https://a.example/\\u0000"}}');
    expect(nul.statusCode).toBe(400);
    expect(nul.json().issues).toEqual([expect.objectContaining({ field: 'body.settings.webhookUrl', rule: 'text' })]);
    const proto = await postRaw('/v1/scans', '{"provider":"aws","account":"sim-aws","repositoryName":"scanq/api","imageId":{"imageTag":"latest"},"__proto__":{"x":1}}');
    expect(proto.statusCode).toBe(400);
    expect(proto.json().issues).toEqual([expect.objectContaining({ field: 'body.__proto__', rule: 'unknown_field' })]);
  });

  it('names the field and the rule for bodies the framework refuses: bad JSON, no body, too large, not JSON', async () => {
    const bad = await postRaw('/v1/scans', '{"provider":');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_json', issues: [{ field: 'body', rule: 'json' }] });
    const empty = await postRaw('/v1/scans', '');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().issues).toEqual([expect.objectContaining({ field: 'body', rule: 'required' })]);
    const large = await postRaw('/v1/scans', JSON.stringify({ ...valid, pad: 'x'.repeat(1024 * 1024) }));
    expect(large.statusCode).toBe(413);
    expect(large.json().issues).toEqual([expect.objectContaining({ field: 'body', rule: 'max_size' })]);
    const text = await app.inject({ method: 'POST', url: '/v1/scans', payload: 'hello', headers: { ...AUTH, 'content-type': 'text/csv' } });
    expect(text.statusCode).toBe(415);
    expect(text.json().issues).toEqual([expect.objectContaining({ field: 'headers.content-type' })]);
  });

  it('cancels with an empty JSON body, as raw HTTP clients send it', async () => {
    const scan = (await post({ ...valid, imageId: { imageTag: 'cancel-empty-body' } })).json();
    const res = await postRaw(`/v1/scans/${scan.id}/cancel`, '');
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('cancelled');
  });

  it('refuses a findings cursor past the bigint range and a query parameter given twice', async () => {
    const scan = (await post({ ...valid, imageId: { imageTag: 'cursor-range' } })).json();
    const over = await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans/${scan.id}/findings?cursor=9999999999999999999` });
    expect(over.statusCode).toBe(400);
    expect(over.json().issues[0]).toMatchObject({ field: 'querystring.cursor', rule: 'cursor' });
    const max = await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans/${scan.id}/findings?cursor=9223372036854775807` });
    expect(max.statusCode).toBe(200);
    const twice = await app.inject({ headers: AUTH, method: 'GET', url: '/v1/scans?limit=1&limit=2' });
    expect(twice.statusCode).toBe(400);
    expect(twice.json().issues).toEqual([expect.objectContaining({ field: 'querystring.limit', rule: 'single' })]);
  });

  it('404s an unknown scan id and 400s a malformed one', async () => {
    expect((await app.inject({ headers: AUTH, method: 'GET', url: '/v1/scans/01900000-0000-7000-8000-000000000000' })).statusCode).toBe(404);
    expect((await app.inject({ headers: AUTH, method: 'GET', url: '/v1/scans/01900000-0000-7000-8000-000000000000/findings' })).statusCode).toBe(404);
    const bad = await app.inject({ headers: AUTH, method: 'GET', url: '/v1/scans/not-a-uuid' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues[0].field).toBe('params.id');
  });

  it('lists scans newest first with cursor paging and filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post({ ...valid, imageId: { imageTag: `t${i}` } })).json().id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { statusCode: number; json(): { items: { id: string }[]; nextCursor: string | null } } = await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans?provider=aws&status=queued&limit=2${cursor ? `&cursor=${cursor}` : ''}` });
      expect(res.statusCode).toBe(200);
      const page = res.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s: { id: string }) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.slice(0, 5)).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    expect((await app.inject({ headers: AUTH, method: 'GET', url: '/v1/scans?status=bogus' })).statusCode).toBe(400);
    expect((await app.inject({ headers: AUTH, method: 'GET', url: '/v1/scans?limit=0' })).json().issues[0]).toMatchObject({ field: 'querystring.limit' });
  });

  it('lists a large scan as a summary: its first 100 images, with the count and severity totals of all of them', async () => {
    const scan = (await post({ ...valid, imageId: { imageTag: 'many-images' } })).json();
    const images = await runtime.scans.addImages(scan.id, Array.from({ length: 150 }, (_, i) => ({ registry: 'r', repository: 'scanq/api', tags: [`m${i}`], digest: `sha256:${String(i).padStart(64, '0')}` })));
    await runtime.sql.execute(`UPDATE "ImageScan" SET "critical" = 1, "low" = 2 WHERE "scanId" = $1`, [scan.id]);
    expect(images).toHaveLength(150);
    const listed = (await app.inject({ headers: AUTH, method: 'GET', url: '/v1/scans?limit=500' })).json().items.find((s: { id: string }) => s.id === scan.id);
    expect(listed.images).toHaveLength(100);
    expect(listed.imageCount).toBe(150);
    expect(listed.severityCounts).toMatchObject({ CRITICAL: 150, LOW: 300, HIGH: 0 });
    const whole = (await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans/${scan.id}` })).json();
    expect(whole.images).toHaveLength(150);
    expect(whole).toMatchObject({ imageCount: 150, severityCounts: listed.severityCounts });
  });

  it('pages findings by cursor and filters them by severity', async () => {
    const scan = (await post({ ...valid, imageId: { imageTag: 'findings' } })).json();
    const [image] = await runtime.scans.addImages(scan.id, [{ registry: 'r', repository: 'scanq/api', tags: ['findings'], digest: 'sha256:' + 'a'.repeat(64) }]);
    const severities = ['CRITICAL', 'HIGH', 'LOW', 'HIGH', 'MEDIUM', 'HIGH', 'UNKNOWN'] as const;
    await runtime.scans.completeImage(scan.id, image!.id, {
      status: 'succeeded',
      findings: severities.map((severity, i) => ({ vulnerabilityId: `CVE-2024-${i}`, severity, providerSeverity: severity, raw: { i } })),
    });
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { vulnerabilityId: string }[]; nextCursor: string | null } = (await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans/${scan.id}/findings?limit=3${cursor ? `&cursor=${cursor}` : ''}` })).json();
      all.push(...page.items.map((f) => f.vulnerabilityId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(all).toEqual(severities.map((_, i) => `CVE-2024-${i}`));
    const high = (await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans/${scan.id}/findings?severity=high,critical` })).json();
    expect(high.items.map((f: { severity: string }) => f.severity).sort()).toEqual(['CRITICAL', 'HIGH', 'HIGH', 'HIGH']);
    const bad = await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans/${scan.id}/findings?severity=urgent` });
    expect(bad.statusCode).toBe(400);
    const view = (await app.inject({ headers: AUTH, method: 'GET', url: `/v1/scans/${scan.id}` })).json();
    expect(view.severityCounts).toEqual({ CRITICAL: 1, HIGH: 3, MEDIUM: 1, LOW: 1, INFORMATIONAL: 0, UNKNOWN: 1 });
    expect(view.images[0].status).toBe('succeeded');
  });

  const account = { provider: 'aws', name: 'settings-check', region: 'us-east-1', credentialRef: 'sim-aws' };
  it.each([
    ['a secret pasted into settings', { ...account, settings: { secretAccessKey: 'AKIA…' } }, 'body.settings.secretAccessKey', 'unknown_field'],
    ['an ECR registryId that is not 12 digits', { ...account, settings: { registryId: 'abc' } }, 'body.settings.registryId', 'pattern'],
    ['a webhook that is not http(s)', { ...account, settings: { webhookUrl: 'ftp://example.com/hook' } }, 'body.settings.webhookUrl', 'constraint'],
    ['a Huawei account without its projectId', { ...account, provider: 'huawei', region: 'cn-north-4' }, 'body.settings.projectId', 'required'],
    ['a Huawei collectFindings that is not a boolean', { ...account, provider: 'huawei', settings: { projectId: 'p1', collectFindings: 'no' } }, 'body.settings.collectFindings', 'type'],
    ['an Alibaba setting of another cloud', { ...account, provider: 'alibaba', settings: { registryId: '123456789012' } }, 'body.settings.registryId', 'unknown_field'],
  ])('refuses an account with %s, naming the setting and the rule', async (_what, body, field, rule) => {
    const res = await app.inject({ headers: AUTH, method: 'POST', url: '/v1/accounts', payload: body });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
  });

  it("resolves an account reference by id before name, even when another account is named like that id", async () => {
    const first = (await app.inject({ headers: AUTH, method: 'POST', url: '/v1/accounts', payload: { ...account, name: 'by-id-first' } })).json();
    const impostor = (await app.inject({ headers: AUTH, method: 'POST', url: '/v1/accounts', payload: { ...account, name: first.id } })).json();
    expect(impostor.name).toBe(first.id);
    const scan = (await post({ ...valid, account: first.id, imageId: { imageTag: 'by-id' } })).json();
    expect(scan.accountId).toBe(first.id);
  });

  it('registers an account whose settings its cloud reads', async () => {
    const res = await app.inject({ headers: AUTH, method: 'POST', url: '/v1/accounts', payload: { ...account, provider: 'huawei', settings: { projectId: '0a1b2c3d', collectFindings: false, webhookUrl: 'https://hooks.example.com/scanq' } } });
    expect(res.statusCode).toBe(201);
    expect(res.json().settings).toEqual({ projectId: '0a1b2c3d', collectFindings: false, webhookUrl: 'https://hooks.example.com/scanq' });
  });

  it('keeps Bull Board behind credentials', async () => {
    expect((await app.inject({ method: 'GET', url: '/admin/queues' })).statusCode).toBe(401);
    const wrong = Buffer.from('admin:nope').toString('base64');
    expect((await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: `Basic ${wrong}` } })).statusCode).toBe(401);
    const right = Buffer.from('admin:test-admin-password').toString('base64');
    const ok = await app.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: `Basic ${right}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('<html');
    const api = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: `Basic ${right}` } });
    expect(api.json().queues.map((q: { name: string }) => q.name).sort()).toEqual(['alibaba', 'aws', 'huawei', 'maintenance', 'requests', 'tencent', 'webhooks']);
  });

  it('serves the OpenAPI document generated from the zod schemas', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.paths['/v1/scans'].post.requestBody).toBeDefined();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/scans', '/v1/scans/{id}', '/v1/scans/{id}/findings', '/v1/accounts']));
    // Rules no JSON Schema keyword carries are described.
    const severity = (doc.paths['/v1/scans/{id}/findings'].get.parameters as { name: string; description?: string }[]).find((p) => p.name === 'severity');
    expect(severity?.description).toMatch(/^Comma list of severities/);
    expect(JSON.stringify(doc.paths['/v1/scans'].post.requestBody)).toContain('At least one of imageDigest and imageTag');
    // Every /v1 route documents the 401 and 400 any of them may answer.
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
      if (path.startsWith('/v1/')) for (const op of Object.values(item)) expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '401']));
    }
    expect((await app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('accepts a bulk scan with 202 and queues its planning job', async () => {
    const res = await app.inject({ headers: AUTH, method: 'POST', url: '/v1/bulk-scans', payload: { selector: { providers: ['aws'], repositories: ['scanq/api'], tagPatterns: ['1.*'] } } });
    expect(res.statusCode).toBe(202);
    const bulk = res.json();
    expect(bulk).toMatchObject({ status: 'planning', totals: { planned: 0 }, etaSeconds: null });
    expect((await runtime.queues.getJob('maintenance', `bulk-plan-${bulk.id}`))?.name).toBe('bulk.plan');
    expect((await app.inject({ headers: AUTH, method: 'GET', url: `/v1/bulk-scans/${bulk.id}` })).json().id).toBe(bulk.id);
    const cancelled = await app.inject({ headers: AUTH, method: 'POST', url: `/v1/bulk-scans/${bulk.id}/cancel` });
    expect(cancelled.json().status).toBe('cancelled');
  });

  it.each([
    ['a bad tag glob', { selector: { tagPatterns: ['v1/*'] } }, 'body.selector.tagPatterns.0', 'pattern'],
    ['an unknown provider', { selector: { providers: ['gcp'] } }, 'body.selector.providers.0', 'one_of'],
    ['negative hours', { selector: { skipScannedWithinHours: -1 } }, 'body.selector.skipScannedWithinHours', 'minimum'],
    ['an unknown selector field', { selector: { colour: 'red' } }, 'body.selector.colour', 'unknown_field'],
    ['no selector', {}, 'body.selector', 'required'],
  ])('rejects a bulk scan with %s (400 naming the field)', async (_name, body, field, rule) => {
    const res = await app.inject({ headers: AUTH, method: 'POST', url: '/v1/bulk-scans', payload: body });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
  });

  it('answers 422 for a bulk scan naming an unknown account, 404 for unknown bulk scans and schedules', async () => {
    const res = await app.inject({ headers: AUTH, method: 'POST', url: '/v1/bulk-scans', payload: { selector: { accounts: ['nobody'] } } });
    expect(res.statusCode).toBe(422);
    expect(res.json().issues[0].field).toBe('body.selector.accounts');
    const id = '0190a000-0000-7000-8000-000000000000';
    expect((await app.inject({ headers: AUTH, method: 'GET', url: `/v1/bulk-scans/${id}` })).statusCode).toBe(404);
    expect((await app.inject({ headers: AUTH, method: 'POST', url: `/v1/bulk-scans/${id}/cancel` })).statusCode).toBe(404);
    expect((await app.inject({ headers: AUTH, method: 'GET', url: `/v1/schedules/${id}` })).statusCode).toBe(404);
    expect((await app.inject({ headers: AUTH, method: 'POST', url: `/v1/scans/${id}/cancel` })).statusCode).toBe(404);
  });

  it('cancels a queued scan over HTTP and removes its job', async () => {
    const scan = (await post({ ...valid, imageId: { imageTag: 'to-cancel' } })).json();
    const res = await app.inject({ headers: AUTH, method: 'POST', url: `/v1/scans/${scan.id}/cancel` });
    expect(res.json()).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(await runtime.queues.getJob('aws', scan.id)).toBeUndefined();
  });

  it('stores a schedule with its next run and registers one job scheduler for it', async () => {
    const res = await app.inject({ headers: AUTH, method: 'POST', url: '/v1/schedules', payload: { name: 'nightly', cron: '0 2 * * *', timezone: 'Asia/Shanghai', selector: { providers: ['aws'] } } });
    expect(res.statusCode).toBe(201);
    const schedule = res.json();
    // 02:00 in Shanghai is 18:00 UTC.
    expect(new Date(schedule.nextRunAt).getUTCHours()).toBe(18);
    const scheduler = await runtime.queues.queue('maintenance').getJobScheduler(`schedule-${schedule.id}`);
    expect(scheduler).toMatchObject({ pattern: '0 2 * * *', tz: 'Asia/Shanghai' });
    expect((await app.inject({ headers: AUTH, method: 'POST', url: '/v1/schedules', payload: { name: 'nightly', cron: '0 3 * * *', selector: {} } })).statusCode).toBe(409);
    const paused = await app.inject({ headers: AUTH, method: 'PATCH', url: `/v1/schedules/${schedule.id}`, payload: { enabled: false } });
    expect(paused.json()).toMatchObject({ enabled: false, nextRunAt: null });
    expect(await runtime.queues.queue('maintenance').getJobScheduler(`schedule-${schedule.id}`)).toBeUndefined();
    expect((await app.inject({ headers: AUTH, method: 'PATCH', url: `/v1/schedules/${schedule.id}`, payload: { cron: 'every day' } })).json().issues[0]).toMatchObject({ field: 'body.cron' });
    expect((await app.inject({ headers: AUTH, method: 'DELETE', url: `/v1/schedules/${schedule.id}` })).statusCode).toBe(204);
  });

  it('needs an API key on /v1: missing, wrong, malformed and revoked keys all get the same 401', async () => {
    const body = {
      error: 'unauthorized',
      message: 'headers.authorization: must carry a valid API key (Authorization: Bearer <key>, or X-API-Key)',
      issues: [{ field: 'headers.authorization', rule: 'api_key', message: 'must carry a valid API key (Authorization: Bearer <key>, or X-API-Key)' }],
    };
    const noKey = await app.inject({ method: 'GET', url: '/v1/scans' });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json()).toEqual(body);
    for (const headers of [{ authorization: 'Bearer nope' }, { 'x-api-key': 'scanq_0123456789_' + 'x'.repeat(32) }, { authorization: 'Basic YWRtaW46eA==' }]) {
      const res = await app.inject({ method: 'GET', url: '/v1/scans', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual(body);
    }
    // A stored key works as Bearer and as X-API-Key until revoked; only its hash is stored.
    const created = await runtime.apiKeys.create('ci-test');
    expect(created!.key).toMatch(/^scanq_[a-z0-9]{10}_/);
    const row = await runtime.db.apiKey.findUniqueOrThrow({ where: { name: 'ci-test' } });
    // The secret is everything after the prefix (base64url: it may hold '_' itself).
    expect(JSON.stringify(row)).not.toContain(created!.key.slice(`scanq_${row.prefix}_`.length));
    expect((await app.inject({ method: 'GET', url: '/v1/scans', headers: { authorization: `Bearer ${created!.key}` } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/scans', headers: { 'x-api-key': created!.key } })).statusCode).toBe(200);
    expect(await runtime.apiKeys.create('ci-test')).toBeNull();
    expect(await runtime.apiKeys.revoke('ci-test')).toBe(true);
    const revoked = await app.inject({ method: 'GET', url: '/v1/scans', headers: { authorization: `Bearer ${created!.key}` } });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toEqual(body);
    // Health and docs stay open.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
