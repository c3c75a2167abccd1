import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

/** PUT /v1/accounts: an accounts file applied as the desired set, judged by the rows Postgres holds. */
describe('accounts apply (PUT /v1/accounts)', () => {
  let api: InProcessApi;
  beforeAll(async () => {
    api = await startInProcessApi('accountsapply');
  });
  afterAll(async () => api?.close());
  beforeEach(async () => {
    await api.runtime.db.scan.deleteMany({});
    await api.runtime.db.cloudAccount.deleteMany({});
  });

  const put = (body: unknown) => api.app.inject({ method: 'PUT', url: '/v1/accounts', payload: body as object, headers: AUTH });
  const rows = () => api.runtime.db.cloudAccount.findMany({ orderBy: [{ provider: 'asc' }, { name: 'asc' }] });
  const entry = (name: string, extra: Record<string, unknown> = {}) => ({ provider: 'aws', name, region: 'us-east-1', credentialRef: `cred-${name}`, settings: { registryId: '123456789012' }, ...extra });
  type Result = { changes: { action: string; provider: string; name: string; id: string | null; fields: string[] }[]; counts: Record<string, number>; unlisted: { name: string }[] };

  it('creates every account of the file with its labels, then finds nothing to change on a second apply', async () => {
    const file = { accounts: [entry('prod', { labels: { env: 'prod', 'team.example.com/owner': 'payments' } }), entry('staging', { region: 'eu-west-1' }), { provider: 'huawei', name: 'hw', region: 'ap-southeast-1', credentialRef: 'hw', settings: { projectId: 'p1' }, labels: { env: 'prod' } }] };
    const first = await put(file);
    expect(first.statusCode).toBe(200);
    expect((first.json() as Result).counts).toEqual({ create: 3, update: 0, delete: 0, unchanged: 0 });
    const stored = await rows();
    expect(stored.map((a) => [a.provider, a.name, a.region, a.credentialRef, a.labels])).toEqual([
      ['aws', 'prod', 'us-east-1', 'cred-prod', { env: 'prod', 'team.example.com/owner': 'payments' }],
      ['aws', 'staging', 'eu-west-1', 'cred-staging', {}],
      ['huawei', 'hw', 'ap-southeast-1', 'hw', { env: 'prod' }],
    ]);
    expect((first.json() as Result).changes.filter((c) => c.action === 'create').map((c) => c.id).sort()).toEqual(stored.map((a) => a.id).sort());

    const again = await put(file);
    expect((again.json() as Result).counts).toEqual({ create: 0, update: 0, delete: 0, unchanged: 3 });
    expect((await rows()).map((a) => a.updatedAt.getTime())).toEqual(stored.map((a) => a.updatedAt.getTime()));

    // The list shows labels.
    const listed = (await api.app.inject({ method: 'GET', url: '/v1/accounts', headers: AUTH })).json() as { items: { name: string; labels: Record<string, string> }[] };
    expect(listed.items.find((a) => a.name === 'prod')!.labels).toEqual({ env: 'prod', 'team.example.com/owner': 'payments' });
  });

  it('updates changed fields to exactly what the file says (a field left out goes back to its default), naming them', async () => {
    await put({ accounts: [entry('prod', { endpoint: 'https://ecr.example.com', labels: { env: 'prod' } })] });
    const [before] = await rows();
    const res = await put({ accounts: [entry('prod', { region: 'us-west-2', labels: { env: 'prod', tier: '1' } })] });
    const result = res.json() as Result;
    expect(result.changes).toEqual([{ action: 'update', provider: 'aws', name: 'prod', id: before!.id, fields: ['endpoint', 'labels', 'region'] }]);
    const [after] = await rows();
    expect(after).toMatchObject({ id: before!.id, region: 'us-west-2', endpoint: null, labels: { env: 'prod', tier: '1' } });
  });

  it('a dry run reports create, update, delete and unchanged and changes no row', async () => {
    await put({ accounts: [entry('keep'), entry('change'), entry('gone')] });
    const before = await rows();
    const res = await put({ accounts: [entry('keep'), entry('change', { labels: { env: 'dev' } }), entry('new')], prune: true, dryRun: true });
    expect(res.statusCode).toBe(200);
    const result = res.json() as Result;
    expect(result.changes.map((c) => `${c.action} ${c.name}`).sort()).toEqual(['create new', 'delete gone', 'unchanged keep', 'update change']);
    expect(result.changes.find((c) => c.action === 'create')!.id).toBeNull();
    expect(await rows()).toEqual(before);
  });

  it('prunes only when asked: without prune unlisted accounts stay (and are reported), with prune they are deleted', async () => {
    await put({ accounts: [entry('a'), entry('b'), entry('c')] });
    const kept = (await put({ accounts: [entry('a')] })).json() as Result;
    expect(kept.unlisted.map((u) => u.name).sort()).toEqual(['b', 'c']);
    expect((await rows()).map((a) => a.name)).toEqual(['a', 'b', 'c']);
    const pruned = (await put({ accounts: [entry('a')], prune: true })).json() as Result;
    expect(pruned.counts).toEqual({ create: 0, update: 0, delete: 2, unchanged: 1 });
    expect((await rows()).map((a) => a.name)).toEqual(['a']);
  });

  it('refuses to prune an account that has scans, naming it, and changes nothing (not even the rest of the file)', async () => {
    await put({ accounts: [entry('busy'), entry('idle')] });
    const busy = (await rows()).find((a) => a.name === 'busy')!;
    await api.runtime.db.scan.create({ data: { provider: 'aws', accountId: busy.id, target: {}, deadlineAt: new Date(Date.now() + 3600_000) } });
    const before = await rows();
    const res = await put({ accounts: [entry('fresh')], prune: true });
    expect(res.statusCode).toBe(409);
    const body = res.json() as { error: string; message: string; issues: { field: string; rule: string }[] };
    expect(body.error).toBe('account_has_scans');
    expect(body.issues).toEqual([expect.objectContaining({ field: 'accounts.aws/busy', rule: 'has_scans' })]);
    expect(body.message).toContain('"busy" (1 scan)');
    expect(await rows()).toEqual(before);
  });

  it('refuses a file with bad entries as a whole, naming index, field and rule, before changing anything', async () => {
    await put({ accounts: [entry('existing')] });
    const before = await rows();
    const res = await put({
      accounts: [
        entry('existing', { region: 'changed' }),
        entry('bad-region', { region: '' }),
        entry('bad-labels', { labels: { 'Bad Key': 'x', ok: 'not ok!' } }),
        entry('bad-settings', { settings: { registryId: 'x', secretAccessKey: 'oops' } }),
        entry('existing'),
        { provider: 'gcp', name: 'nope', region: 'r', credentialRef: 'c' },
      ],
      prune: true,
    });
    expect(res.statusCode).toBe(400);
    const issues = (res.json() as { issues: { field: string; rule: string }[] }).issues.map((i) => `${i.field} ${i.rule}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        'body.accounts.1.region min_length',
        'body.accounts.2.labels.Bad Key label_key',
        'body.accounts.2.labels.ok label_value',
        'body.accounts.3.settings.secretAccessKey unknown_field',
        'body.accounts.5.provider one_of',
      ]),
    );
    expect(await rows()).toEqual(before);
    // Two entries for one account: the second names the first.
    const dup = await put({ accounts: [entry('twice'), entry('twice')] });
    expect(dup.statusCode).toBe(400);
    expect((dup.json() as { issues: { field: string; rule: string; message: string }[] }).issues).toEqual([expect.objectContaining({ field: 'body.accounts.1.name', rule: 'unique' })]);
    expect(await rows()).toEqual(before);
  });
});
