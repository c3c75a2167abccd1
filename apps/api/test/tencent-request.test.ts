import type { ScanqRuntime } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

const IMAGE_ID = `sha256:${'ab'.repeat(32)}`;
const byName = { registry: 'acme-prod', namespace: 'acme-web', name: 'api', tag: 'v1.2.0' };

describe('POST /v1/scans with provider tencent', () => {
  let api: InProcessApi;
  let runtime: ScanqRuntime;
  let app: InProcessApi['app'];
  beforeAll(async () => {
    api = await startInProcessApi('apitencent', ['tencent']);
    ({ runtime, app } = api);
  });
  afterAll(async () => api?.close());

  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/scans', headers: AUTH, payload: { provider: 'tencent', account: 'sim-tencent', ...body } });

  it.each([
    ['repository ids', { repositoryIds: [3_000_123, 3_000_124] }],
    ['image ids', { imageIds: [IMAGE_ID] }],
    ['repository ids and image ids together', { repositoryIds: [7], imageIds: [IMAGE_ID], scanTypes: ['CVE', 'RISK'] }],
    ['registry/namespace/name/tag', { images: [byName, { ...byName, tag: 'latest', registryType: 'tcr', instanceId: 'tcr-abc123' }] }],
  ])('accepts %s with 202 and keeps the target as sent', async (_what, target) => {
    const res = await post(target);
    expect(res.statusCode).toBe(202);
    const scan = res.json();
    expect(scan).toMatchObject({ provider: 'tencent', status: 'queued', target });
    expect((await runtime.queues.getJob('tencent', scan.id))?.name).toBe('scan.start');
  });

  it.each([
    ['no images named', {}, 'body.repositoryIds', 'constraint', /repositoryIds and\/or imageIds, or images/],
    ['ids and names mixed', { repositoryIds: [1], images: [byName] }, 'body.images', 'constraint', /either by id .* or by name/],
    ['an empty id list', { repositoryIds: [] }, 'body.repositoryIds', 'min_items', /1–100 items/],
    ['too many ids', { repositoryIds: Array.from({ length: 101 }, (_, i) => i + 1) }, 'body.repositoryIds', 'max_items', /1–100 items/],
    ['ids and image ids over 100 together', { repositoryIds: Array.from({ length: 60 }, (_, i) => i + 1), imageIds: Array.from({ length: 41 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`) }, 'body.imageIds', 'constraint', /at most 100 images/],
    // Wrong types: apps/api/src/errors.ts reports them as `required` until it can tell a missing
    // value from a wrong one (zod 4 leaves the input out of its issues), so either rule passes here.
    ['a fractional repository id', { repositoryIds: [1.5] }, 'body.repositoryIds.0', /^(type|required)$/, /integer/],
    ['a zero repository id', { repositoryIds: [0] }, 'body.repositoryIds.0', 'minimum', /at least 1/],
    ['a repository id as a string', { repositoryIds: ['12'] }, 'body.repositoryIds.0', /^(type|required)$/, /number/],
    ['an image id that is not sha256', { imageIds: ['md5:abc'] }, 'body.imageIds.0', 'pattern', /sha256: followed by 64/],
    ['an image without a tag', { images: [{ registry: 'r', namespace: 'ns', name: 'n' }] }, 'body.images.0.tag', 'required', /./],
    ['an uppercase namespace', { images: [{ ...byName, namespace: 'Acme' }] }, 'body.images.0.namespace', 'pattern', /lowercase/],
    ['a tag starting with a dot', { images: [{ ...byName, tag: '.v1' }] }, 'body.images.0.tag', 'pattern', /not start with/],
    ['an empty registry', { images: [{ ...byName, registry: '' }] }, 'body.images.0.registry', 'min_length', /1–128 characters/],
    ['an unknown registry type', { images: [{ ...byName, registryType: 'harbor' }] }, 'body.images.0.registryType', 'one_of', /ccr, tcr/],
    ['an unknown field inside an image', { images: [{ ...byName, digest: 'x' }] }, 'body.images.0.digest', 'unknown_field', /./],
    ['an unknown scan type', { repositoryIds: [1], scanTypes: ['MALWARE'] }, 'body.scanTypes.0', 'one_of', /CVE, VIRUS, RISK/],
    ['a repeated scan type', { repositoryIds: [1], scanTypes: ['CVE', 'CVE'] }, 'body.scanTypes', 'constraint', /not repeat/],
    ['scan types without CVE', { repositoryIds: [1], scanTypes: ['VIRUS'] }, 'body.scanTypes', 'constraint', /must include CVE/],
    ['an AWS field', { repositoryIds: [1], repositoryName: 'scanq/api' }, 'body.repositoryName', 'unknown_field', /./],
  ])('rejects %s with 400 naming the field and the rule', async (_what, body, field, rule, message) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.error).toBe('validation_error');
    const issue = (json.issues as { field: string; rule: string; message: string }[]).find((i) => i.field === field && (typeof rule === 'string' ? i.rule === rule : rule.test(i.rule)));
    expect(issue, JSON.stringify(json.issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
  });
});
