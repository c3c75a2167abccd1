import { SIMULATOR_ROLES } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliBackend, scanq, startCliBackend } from './run-cli.js';

const API_KEY = 'cli-credentials-bootstrap-key';

/** `scanq accounts add --credentials-json`: the block checked before sending, stored, shown by `ls`. */
describe('scanq accounts add --credentials-json', () => {
  let backend: CliBackend;
  let apiEnv: Record<string, string>;

  beforeAll(async () => {
    backend = await startCliBackend('clicreds', API_KEY, { SCANQ_WORKER_QUEUES: 'aws' });
    apiEnv = backend.env;
  });
  afterAll(async () => {
    await backend?.close();
  });

  const add = (name: string, credentialsJson: string) => scanq(['accounts', 'add', '--provider', 'aws', '--name', name, '--region', 'us-east-1', '--credential-ref', 'sim-aws', '--credentials-json', credentialsJson, '--json'], apiEnv);

  it('stores the block and ls shows its source', async () => {
    const block = { source: 'assume-role', roleArn: SIMULATOR_ROLES.aws[1].roleArn, externalId: SIMULATOR_ROLES.aws[1].externalId };
    const added = await add('cli-role', JSON.stringify(block));
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout).credentials).toEqual(block);
    const listed = await scanq(['accounts', 'ls', '--provider', 'aws'], apiEnv);
    expect(listed.stdout).toMatch(/^cli-role\s+aws\s+us-east-1\s+\(cloud\)\s+sim-aws\s+assume-role/m);
  });

  it('refuses bad JSON and a bad block before sending, naming the flag and the rule (exit 2)', async () => {
    const notJson = await add('cli-bad-json', '{source:');
    expect(notJson.code).toBe(2);
    expect(JSON.parse(notJson.stderr).issues).toEqual([expect.objectContaining({ field: '--credentials-json', rule: 'json' })]);
    const missing = await add('cli-bad-block', '{"source":"assume-role","secretAccessKey":"hunter2"}');
    expect(missing.code).toBe(2);
    const issues = JSON.parse(missing.stderr).issues as { field: string; rule: string; message: string }[];
    expect(issues).toContainEqual(expect.objectContaining({ field: 'body.credentials.roleArn', rule: 'required' }));
    expect(issues).toContainEqual(expect.objectContaining({ field: 'body.credentials.secretAccessKey', rule: 'unknown_field' }));
    expect(issues.every((i) => i.message.includes('(--credentials-json)'))).toBe(true);
    expect(missing.stderr).not.toContain('hunter2');
    expect((await scanq(['accounts', 'ls', '--json'], apiEnv)).stdout).not.toContain('cli-bad');
  });
});
