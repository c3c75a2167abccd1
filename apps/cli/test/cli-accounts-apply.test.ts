import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_API_KEY } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from '../../api/test/in-process-api.js';
import { scanq } from './run-cli.js';

/** `scanq accounts apply -f` as a process against the API running in this process; judged by Postgres rows. */
describe('scanq accounts apply', () => {
  let api: InProcessApi;
  let env: Record<string, string>;
  let dir: string;
  beforeAll(async () => {
    api = await startInProcessApi('cliapply');
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    env = { SCANQ_API_URL: `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`, SCANQ_API_KEY: TEST_API_KEY };
    dir = await mkdtemp(join(tmpdir(), 'scanq-apply-'));
  });
  afterAll(async () => {
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const rows = () => api.runtime.db.cloudAccount.findMany({ orderBy: { name: 'asc' } });

  it('dry-runs, applies, shows labels in ls, prunes when asked, and refuses a bad file naming entry, field, rule and line', async () => {
    const v1 = await file(
      'accounts.yaml',
      `# accounts of the payments team
accounts:
  - provider: aws
    name: payments-prod
    region: us-east-1
    credentialRef: payments-prod
    settings: { registryId: "123456789012" }
    labels: { team: payments, env: prod }
  - provider: tencent
    name: payments-cn
    region: ap-guangzhou
    credentialRef: payments-cn
    labels:
      team: payments
`,
    );
    const dry = await scanq(['accounts', 'apply', '-f', v1, '--dry-run'], env);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would create\s+aws\/payments-prod/);
    expect(dry.stdout).toMatch(/would create\s+tencent\/payments-cn/);
    expect(dry.stdout).toContain('dry run: 2 to create, 0 to update, 0 to delete, 0 unchanged (nothing changed)');
    expect(await rows()).toEqual([]);

    const applied = await scanq(['accounts', 'apply', '-f', v1], env);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/created\s+aws\/payments-prod/);
    expect((await rows()).map((a) => [a.name, a.labels])).toEqual([
      ['payments-cn', { team: 'payments' }],
      ['payments-prod', { team: 'payments', env: 'prod' }],
    ]);

    const ls = await scanq(['accounts', 'ls'], env);
    expect(ls.stdout).toMatch(/payments-prod\s+aws\s+us-east-1\s+\(cloud\)\s+payments-prod\s+static\s+env=prod,team=payments/);

    // A top-level list with --prune: payments-cn goes, prod changes.
    const v2 = await file('v2.yaml', `- { provider: aws, name: payments-prod, region: us-west-2, credentialRef: payments-prod, settings: { registryId: "123456789012" }, labels: { team: payments } }\n`);
    const pruned = await scanq(['accounts', 'apply', '-f', v2, '--prune', '--json'], env);
    expect(pruned.code).toBe(0);
    expect((JSON.parse(pruned.stdout) as { counts: Record<string, number> }).counts).toEqual({ create: 0, update: 1, delete: 1, unchanged: 0 });
    expect((await rows()).map((a) => [a.name, a.region, a.labels])).toEqual([['payments-prod', 'us-west-2', { team: 'payments' }]]);

    const before = await rows();
    const bad = await file(
      'bad.yaml',
      `accounts:
  - provider: aws
    name: ok-one
    region: us-east-1
    credentialRef: ok
  - provider: aws
    name: broken
    region: us-east-1
    credentialRef: broken
    labels:
      "team/": x
`,
    );
    const refused = await scanq(['accounts', 'apply', '-f', bad, '--prune'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/body\.accounts\.1\.labels\.team\/\s+label_key\s+.*bad\.yaml line 11/);
    expect(await rows()).toEqual(before);

    const notYaml = await file('broken.yaml', 'accounts: [\n  - provider: aws\n');
    const unparsed = await scanq(['accounts', 'apply', '-f', notYaml], env);
    expect(unparsed.code).toBe(2);
    expect(unparsed.stderr).toMatch(/broken\.yaml:\d+\s+yaml/);
    expect(await rows()).toEqual(before);
  });
});
