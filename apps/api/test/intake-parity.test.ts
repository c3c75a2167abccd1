import { checkIntake } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

const valid = { provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } };
const sortIssues = (issues: { field: string; rule: string; message: string }[]) => [...issues].sort((a, b) => `${a.field}|${a.rule}`.localeCompare(`${b.field}|${b.rule}`));

/**
 * An intake job is refused with what the API's 400 says for the same body: the same fields, rules
 * and words (one check in core, used by both). And bulk scans take an Idempotency-Key over HTTP,
 * the same rule the intake queue keeps.
 */
describe('intake and HTTP agree', () => {
  let api: InProcessApi;
  beforeAll(async () => {
    api = await startInProcessApi('intakeparity', ['aws']);
  });
  afterAll(async () => api?.close());

  it.each([
    ['repositoryName off pattern', { ...valid, repositoryName: 'Scanq/API' }],
    ['a missing account and an unknown field', { provider: 'aws', repositoryName: 'scanq/api', imageId: { imageTag: 'x' }, colour: 'red' }],
    ['an unknown provider', { ...valid, provider: 'gcp' }],
    ['a NUL in a string', { ...valid, repositoryName: 'scanq/\u0000api' }],
    ['a number where a string belongs', { ...valid, repositoryName: 42 }],
  ])('%s: the intake issues are the 400’s', async (_what, body) => {
    const res = await api.app.inject({ method: 'POST', url: '/v1/scans', payload: body as object, headers: AUTH });
    expect(res.statusCode).toBe(400);
    const checked = checkIntake('scan.request', { request: body });
    expect(checked.ok).toBe(false);
    expect(sortIssues(checked.ok ? [] : checked.issues)).toEqual(sortIssues(res.json().issues));
  });

  it('POST /v1/bulk-scans: a repeated Idempotency-Key returns the first bulk scan; a changed one is a 409', async () => {
    const body = { selector: { accounts: ['sim-aws'], repositories: ['scanq/api'], tagPatterns: ['9.*'] } };
    const post = (payload: object) => api.app.inject({ method: 'POST', url: '/v1/bulk-scans', payload, headers: { ...AUTH, 'idempotency-key': 'bulk-http-1' } });
    const first = await post(body);
    expect(first.statusCode).toBe(202);
    const again = await post(body);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const changed = await post({ ...body, force: true });
    expect(changed.statusCode).toBe(409);
    expect(changed.json().issues).toEqual([expect.objectContaining({ field: 'headers.idempotency-key', rule: 'idempotency_key_reused' })]);
    expect(await api.runtime.db.bulkScan.count({ where: { idempotencyKey: 'bulk-http-1' } })).toBe(1);
  });
});
