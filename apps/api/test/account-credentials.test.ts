import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

/** An account's `credentials` block over HTTP: stored as given (no secret), checked per cloud, each refusal naming field and rule. */
describe('account credentials blocks', () => {
  let api: InProcessApi;
  beforeAll(async () => {
    api = await startInProcessApi('acctcreds');
  });
  afterAll(() => api?.close());

  const post = (body: object) => api.app.inject({ method: 'POST', url: '/v1/accounts', payload: body, headers: AUTH });
  const patch = (id: string, body: object) => api.app.inject({ method: 'PATCH', url: `/v1/accounts/${id}`, payload: body, headers: AUTH });
  const name = () => `acct-${Math.random().toString(36).slice(2, 10)}`;
  const ROLE = { source: 'assume-role', roleArn: 'arn:aws:iam::123456789012:role/scanq', externalId: 'ext-0001' };

  it('stores and shows the block; none is static (null)', async () => {
    const created = await post({ provider: 'aws', name: name(), region: 'us-east-1', credentialRef: 'base', credentials: ROLE });
    expect(created.statusCode).toBe(201);
    expect(created.json().credentials).toEqual(ROLE);
    const plain = await post({ provider: 'aws', name: name(), region: 'us-east-1', credentialRef: 'base' });
    expect(plain.json().credentials).toBeNull();
    const listed = (await api.app.inject({ method: 'GET', url: '/v1/accounts?provider=aws', headers: AUTH })).json() as { items: { id: string; credentials: unknown }[] };
    expect(listed.items.find((a) => a.id === created.json().id)!.credentials).toEqual(ROLE);
  });

  it.each([
    ['an unknown source', 'aws', { source: 'ram-role-arn' }, 'body.credentials.source', 'one_of'],
    ['a missing roleArn', 'aws', { source: 'assume-role' }, 'body.credentials.roleArn', 'required'],
    ['a malformed roleArn', 'aws', { source: 'assume-role', roleArn: 'role/scanq' }, 'body.credentials.roleArn', 'pattern'],
    ['a secret pasted in', 'aws', { source: 'static', secretAccessKey: 'hunter2' }, 'body.credentials.secretAccessKey', 'unknown_field'],
    ['a short durationSeconds', 'alibaba', { source: 'ram-role-arn', roleArn: 'acs:ram::1234567890123456:role/scanq', durationSeconds: 60 }, 'body.credentials.durationSeconds', 'minimum'],
    ['an http stsEndpoint to a public host', 'alibaba', { source: 'ram-role-arn', roleArn: 'acs:ram::1234567890123456:role/scanq', stsEndpoint: 'http://sts.example.com' }, 'body.credentials.stsEndpoint', 'https'],
    ['a role source on a static-only cloud', 'tencent', { source: 'assume-role' }, 'body.credentials.source', 'one_of'],
  ])('refuses %s: 400 naming the field and the rule', async (_what, provider, credentials, field, rule) => {
    const res = await post({ provider, name: name(), region: 'r', credentialRef: 'base', credentials, ...(provider === 'huawei' ? { settings: { projectId: 'p' } } : {}) });
    expect(res.statusCode).toBe(400);
    const issues = (res.json() as { issues: { field: string; rule: string }[] }).issues;
    expect(issues).toContainEqual(expect.objectContaining({ field, rule }));
    expect(res.body).not.toContain('hunter2');
  });

  it('PATCH checks the block against the account’s own cloud, and null goes back to static', async () => {
    const id = (await post({ provider: 'alibaba', name: name(), region: 'cn-hangzhou', credentialRef: 'base' })).json().id as string;
    const wrongCloud = await patch(id, { credentials: ROLE });
    expect(wrongCloud.statusCode).toBe(400);
    expect(wrongCloud.json().issues).toEqual([expect.objectContaining({ field: 'body.credentials.source', rule: 'one_of' })]);
    const ok = await patch(id, { credentials: { source: 'ecs-ram-role', roleName: 'scanq-worker' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().credentials).toEqual({ source: 'ecs-ram-role', roleName: 'scanq-worker' });
    const back = await patch(id, { credentials: null });
    expect(back.json().credentials).toBeNull();
  });
});
