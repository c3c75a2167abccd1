import { ALIBABA_SCAN_REGIONS, SIMULATOR_ACCOUNTS } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

const SIM = SIMULATOR_ACCOUNTS.alibaba[0];
const DIGEST = 'c'.repeat(64);

describe('POST /v1/scans with provider alibaba', () => {
  let api: InProcessApi;
  let runtime: ScanqRuntime;
  let app: InProcessApi['app'];
  beforeAll(async () => {
    api = await startInProcessApi('apialibaba', ['alibaba']);
    ({ runtime, app } = api);
  });
  afterAll(async () => api?.close());

  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/scans', headers: AUTH, payload: { provider: 'alibaba', account: SIM.name, ...body } });

  it('accepts every filter of PublicCreateImageScanTask as lists and stores them as the target', async () => {
    const filters = {
      registryTypes: ['acr', 'harbor', 'quay'],
      regionIds: ['cn-hangzhou', 'eu-central-1'],
      instanceIds: ['cri-abc', '390100182'],
      repoNamespaces: ['payments'],
      repoIds: ['crr-vridcl4'],
      repoNames: ['nginx', 'api-gateway'],
      digests: [DIGEST, `sha256:${'d'.repeat(64)}`],
      tags: ['latest', 'mysql_5.7'],
    };
    const res = await post(filters);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ provider: 'alibaba', status: 'queued', target: filters });
    expect((await runtime.queues.getJob('alibaba', res.json().id))?.name).toBe('scan.start');
    // No filter at all: every image the account protects.
    expect((await post({})).statusCode).toBe(202);
  });

  it('rejects a region outside the seed table, listing the valid ones', async () => {
    const res = await post({ regionIds: ['cn-hangzhou', 'me-east-1'] });
    expect(res.statusCode).toBe(400);
    const issue = res.json().issues.find((i: { field: string }) => i.field === 'body.regionIds.1');
    expect(issue).toMatchObject({ rule: 'one_of' });
    for (const region of ALIBABA_SCAN_REGIONS) expect(issue.message).toContain(region);
  });

  it.each([
    ['tags', { tags: ['v1,v2'] }, 'body.tags.0'],
    ['repoNames', { repoNames: ['nginx', 'a,b'] }, 'body.repoNames.1'],
    ['repoNamespaces', { repoNamespaces: ['ns,'] }, 'body.repoNamespaces.0'],
    ['instanceIds', { instanceIds: [',cri-1'] }, 'body.instanceIds.0'],
    ['repoIds', { repoIds: ['crr-1,crr-2'] }, 'body.repoIds.0'],
  ])('rejects a comma in %s, naming the field', async (_name, body, field) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule: 'constraint', message: expect.stringContaining('comma') })]));
  });

  it.each([
    ['an unknown registry type', { registryTypes: ['docker-hub'] }, 'body.registryTypes.0', 'one_of'],
    ['a malformed digest', { digests: ['sha256:xyz'] }, 'body.digests.0', 'pattern'],
    ['an empty list', { tags: [] }, 'body.tags', 'min_items'],
    ['a repeated value', { repoNames: ['nginx', 'nginx'] }, 'body.repoNames', 'constraint'],
    ['an empty value', { tags: [''] }, 'body.tags.0', 'min_length'],
    ['a padded value', { repoNames: [' nginx'] }, 'body.repoNames.0', 'constraint'],
    ['an unknown field', { repository: 'x' }, 'body.repository', 'unknown_field'],
  ])('rejects %s with 400 naming the field and the rule', async (_what, body, field, rule) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
  });
});
