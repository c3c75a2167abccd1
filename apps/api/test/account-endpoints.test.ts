import { Writable } from 'node:stream';
import { accountEndpointIssues, classifyHost } from '@scanq/core';
import { censorLogValue, REDACT_PATHS } from '@scanq/scans';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

/** An account's `endpoint` is where workers send signed cloud calls: only what is safe to call is stored. */

const account = (endpoint: string, name = `acct-${Math.random().toString(36).slice(2, 10)}`) => ({ provider: 'aws', name, region: 'us-east-1', credentialRef: 'sim-aws', endpoint, settings: {} });

describe('account endpoints', () => {
  let api: InProcessApi;
  let permissive: InProcessApi;
  beforeAll(async () => {
    [api, permissive] = await Promise.all([
      startInProcessApi('endpoints'),
      startInProcessApi('endpointsallow', [], undefined, { SCANQ_ALLOW_HTTP_ENDPOINTS: 'true', SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS: 'true' }),
    ]);
  });
  afterAll(async () => {
    await api?.close();
    await permissive?.close();
  });

  const post = (target: InProcessApi, body: unknown) => target.app.inject({ method: 'POST', url: '/v1/accounts', payload: body as object, headers: AUTH });

  it.each([
    ['gopher://', 'gopher://127.0.0.1:6379/_FLUSHALL', ['scheme']],
    ['file://', 'file:///etc/passwd', ['scheme']],
    ['ftp://', 'ftp://example.com/', ['scheme']],
    ['plain http to a public name', 'http://ecr.example.com', ['https']],
    ['the metadata service over http', 'http://169.254.169.254/latest/meta-data/', ['https', 'public_address']],
    ['the metadata service over https', 'https://169.254.169.254', ['public_address']],
    ['the metadata service as a decimal number', 'https://2852039166/', ['public_address']],
    ['a private IPv4 (10/8)', 'https://10.0.0.5', ['public_address']],
    ['a private IPv4 (172.16/12)', 'https://172.16.3.4:8443', ['public_address']],
    ['a private IPv4 (192.168/16)', 'https://192.168.1.1', ['public_address']],
    ['CGNAT', 'https://100.64.0.1', ['public_address']],
    ['the unspecified IPv4', 'https://0.0.0.0:4566', ['public_address']],
    ['the unspecified IPv6', 'https://[::]:4566', ['public_address']],
    ['an IPv6 link-local', 'https://[fe80::1]', ['public_address']],
    ['an IPv6 unique-local', 'https://[fd12:3456::1]', ['public_address']],
    ['an IPv4-mapped private address', 'https://[::ffff:10.1.2.3]', ['public_address']],
    ['a user and password', 'https://scanq:hunter2@ecr.example.com', ['no_userinfo']],
    ['a user alone', 'https://scanq@ecr.example.com', ['no_userinfo']],
    ['an empty userinfo', 'https://@ecr.example.com', ['no_userinfo']],
    ['a query', 'https://ecr.example.com/?token=abc', ['no_query']],
    ['a fragment', 'https://ecr.example.com/#x', ['no_fragment']],
    ['no URL at all', 'ecr.example.com', ['url']],
    ['a very long URL', `https://ecr.example.com/${'a'.repeat(2000)}`, ['max_length']],
  ])('refuses %s: 400 naming body.endpoint and the rule', async (_what, endpoint, rules) => {
    const res = await post(api, account(endpoint));
    expect(res.statusCode).toBe(400);
    const body = res.json() as { issues: { field: string; rule: string }[] };
    expect(body.issues.map((i) => i.field)).toEqual(rules.map(() => 'body.endpoint'));
    expect(body.issues.map((i) => i.rule)).toEqual(rules);
    // A refusal never echoes the credentials it refused.
    expect(res.body).not.toContain('hunter2');
  });

  it.each([
    ['the cloud over https', 'https://ecr.us-east-1.amazonaws.com'],
    ['a public address over https', 'https://8.8.8.8/'],
    ['the simulator on loopback over http', 'http://127.0.0.1:4566'],
    ['another loopback address', 'http://127.1.2.3:4566'],
    ['localhost', 'http://localhost:4566'],
    ['IPv6 loopback', 'http://[::1]:4566'],
  ])('accepts %s', async (_what, endpoint) => {
    const res = await post(api, account(endpoint));
    expect(res.statusCode).toBe(201);
    expect(res.json().endpoint).toBe(endpoint);
  });

  it('SCANQ_ALLOW_HTTP_ENDPOINTS and SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS open http and private addresses, nothing else', async () => {
    for (const endpoint of ['http://simulator:4566', 'http://10.0.0.5:4566', 'https://169.254.169.254', 'http://[fd00::1]:4566']) {
      expect((await post(permissive, account(endpoint))).statusCode, endpoint).toBe(201);
    }
    for (const [endpoint, rule] of [
      ['http://user:pw@10.0.0.5', 'no_userinfo'],
      ['gopher://10.0.0.5', 'scheme'],
      ['http://10.0.0.5/?a=b', 'no_query'],
    ] as const) {
      const res = await post(permissive, account(endpoint));
      expect(res.statusCode).toBe(400);
      expect(res.json().issues).toEqual([expect.objectContaining({ field: 'body.endpoint', rule })]);
    }
  });

  it('shows a stored endpoint without its user and password (rows written before these rules)', async () => {
    await api.runtime.accounts.create({ provider: 'aws', name: 'legacy', region: 'us-east-1', credentialRef: 'x', endpoint: 'https://scanq:s3cret-pw@ecr.example.com:8443/path', settings: {} });
    const res = await api.app.inject({ method: 'GET', url: '/v1/accounts', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('s3cret-pw');
    expect(res.body).not.toContain('scanq:');
    const legacy = (res.json().items as { name: string; endpoint: string }[]).find((a) => a.name === 'legacy');
    expect(legacy?.endpoint).toBe('https://***@ecr.example.com:8443/path');
  });

  it('PATCH /v1/accounts/:id fixes a stored endpoint under the same rules, and checks settings against the account\'s cloud', async () => {
    const legacy = await api.runtime.accounts.create({ provider: 'aws', name: 'legacy-fix', region: 'us-east-1', credentialRef: 'x', endpoint: 'https://scanq:s3cret-pw@ecr.example.com', settings: {} });
    const patch = (id: string, body: unknown) => api.app.inject({ method: 'PATCH', url: `/v1/accounts/${id}`, payload: body as object, headers: AUTH });
    const refused = await patch(legacy.id, { endpoint: 'http://scanq:s3cret-pw@ecr.example.com' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().issues.map((i: { field: string; rule: string }) => `${i.field}/${i.rule}`)).toEqual(['body.endpoint/no_userinfo', 'body.endpoint/https']);
    expect(refused.body).not.toContain('s3cret-pw');
    const fixed = await patch(legacy.id, { endpoint: 'https://ecr.example.com' });
    expect(fixed.statusCode).toBe(200);
    expect(fixed.json()).toMatchObject({ id: legacy.id, name: 'legacy-fix', endpoint: 'https://ecr.example.com' });
    expect((await api.runtime.accounts.get(legacy.id))?.endpoint).toBe('https://ecr.example.com');
    const cloud = await patch(legacy.id, { endpoint: null, region: 'eu-west-1', settings: { registryId: '123456789012' } });
    expect(cloud.json()).toMatchObject({ endpoint: null, region: 'eu-west-1', settings: { registryId: '123456789012' } });
    for (const [body, field, rule] of [
      [{}, 'body', 'min_fields'],
      [{ name: 'renamed' }, 'body.name', 'unknown_field'],
      [{ settings: { registryId: '42' } }, 'body.settings.registryId', 'pattern'],
      [{ settings: { secretAccessKey: 'x' } }, 'body.settings.secretAccessKey', 'unknown_field'],
    ] as const) {
      const res = await patch(legacy.id, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().issues[0], JSON.stringify(body)).toMatchObject({ field, rule });
    }
    const missing = await patch('01a2b3c4-0000-7000-8000-000000000000', { region: 'x' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().issues[0]).toMatchObject({ field: 'params.id', rule: 'exists' });
  });

  it('logs an endpoint without its user and password', () => {
    const lines: string[] = [];
    const log = pino({ redact: { paths: REDACT_PATHS, censor: censorLogValue } }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    log.info({ account: { name: 'legacy', endpoint: 'https://scanq:s3cret-pw@ecr.example.com/' } }, 'account');
    log.info({ endpoint: 'http://u:p@127.0.0.1:4566' }, 'endpoint');
    const text = lines.join('');
    expect(text).not.toContain('s3cret-pw');
    expect(text).not.toContain('u:p@');
    expect(text).toContain('https://***@ecr.example.com/');
    expect(text).toContain('http://***@127.0.0.1:4566');
  });

  it('classifies hosts as URL parsing leaves them', () => {
    const host = (url: string) => classifyHost(new URL(url).hostname);
    expect(host('http://0x7f.1/')).toBe('loopback');
    expect(host('http://[::ffff:127.0.0.1]/')).toBe('loopback');
    expect(host('http://[64:ff9b::a9fe:a9fe]/')).toBe('link_local');
    expect(host('http://[2002:c0a8:0101::1]/')).toBe('private');
    expect(host('http://224.0.0.1/')).toBe('reserved');
    expect(host('http://sub.localhost/')).toBe('loopback');
    expect(host('http://[2600:1f18::1]/')).toBe('public');
    expect(host('http://example.com/')).toBe('name');
    // Without the server's policy only what holds everywhere is checked (what the client checks before sending).
    expect(accountEndpointIssues('http://10.0.0.1')).toEqual([]);
    expect(accountEndpointIssues('http://u:p@10.0.0.1').map((i) => i.rule)).toEqual(['no_userinfo']);
  });
});
