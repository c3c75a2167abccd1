import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATOR_ACCOUNTS, SIMULATOR_ROLES } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCalls } from '../support/api-calls.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import type { TestEnv } from '../support/env.js';
import type { ScanqProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const AWS = SIMULATOR_ACCOUNTS.aws;
const ALI = SIMULATOR_ACCOUNTS.alibaba;
const AWS_ROLE = SIMULATOR_ROLES.aws[0];
const ALI_ROLE = SIMULATOR_ROLES.alibaba[0];
/** Every secret the test hands scanq: none may reach Postgres. */
const SECRETS = [...AWS.map((a) => a.secretAccessKey), ...ALI.map((a) => a.accessKeySecret), 'wrong-secret-for-rotation'];

/**
 * Credential sources end to end, as real processes: accounts whose credentials block names a
 * role scan through the simulator with sessions that expire (5 s) and are refreshed in the
 * middle of 10 s scans; a wrong ExternalId fails the scan no_permission; the AWS default chain
 * reads the worker's environment; base keys come from SCANQ_CREDENTIALS_FILE, a directory laid
 * out as the kubelet mounts a Secret, whose update (a `..data` symlink swap) the running worker
 * picks up without a restart; and no secret is ever written to Postgres.
 */
describe('end to end: credential sources (roles, default chain, credential file)', () => {
  let stack: E2eStack;
  let env: TestEnv;
  let worker: ScanqProcess;
  let api = '';
  let sim = '';
  let secretDir = '';
  let generation = 0;

  const { json, calls, ended: endedWithin, register, submit } = apiCalls(() => ({ api, sim }));
  const ended = (id: string) => endedWithin(id, 90_000);

  /** Writes the sets as the kubelet does: a new timestamped directory, then `..data` swapped to it atomically. */
  function writeSecret(sets: Record<string, Record<string, string>>): void {
    const dir = `..2026_12_06_${String(++generation).padStart(2, '0')}`;
    mkdirSync(join(secretDir, dir));
    for (const [name, secrets] of Object.entries(sets)) writeFileSync(join(secretDir, dir, name), JSON.stringify(secrets));
    symlinkSync(dir, join(secretDir, '..data_tmp'));
    renameSync(join(secretDir, '..data_tmp'), join(secretDir, '..data'));
    // The visible names point through ..data (created once; a new set gets its link).
    for (const name of Object.keys(sets)) {
      try {
        symlinkSync(join('..data', name), join(secretDir, name));
      } catch {
        /* exists */
      }
    }
    if (generation > 1) rmSync(join(secretDir, `..2026_12_06_${String(generation - 1).padStart(2, '0')}`), { recursive: true });
  }

  beforeAll(async () => {
    secretDir = mkdtempSync(join(tmpdir(), 'scanq-secret-'));
    writeSecret({
      'aws-base': { accessKeyId: AWS[1].accessKeyId, secretAccessKey: AWS[1].secretAccessKey },
      'ali-base': { accessKeyId: ALI[1].accessKeyId, accessKeySecret: ALI[1].accessKeySecret },
      'aws-rotating': { accessKeyId: AWS[0].accessKeyId, secretAccessKey: 'wrong-secret-for-rotation' },
    });
    stack = await startE2eStack({
      name: 'e2e-credentials',
      env: {
        // Scans take 10 s; sessions last 5 s (refreshed from 2–2.5 s before their end, room for a
        // loaded machine's stalls): each scan outlives its first session.
        SIM_AWS_SCAN_MS: '10000',
        SIM_ALIBABA_SCAN_MS: '10000',
        SIM_ALIBABA_SCAN_SPREAD: '0',
        SIM_AWS_STS_TOKEN_MS: '5000',
        SIM_ALIBABA_STS_TOKEN_MS: '5000',
        SCANQ_CREDENTIALS_FILE: secretDir,
      },
      // The worker's own identity for the default chain: sim-aws-2's keys in its environment.
      workers: [{ AWS_ACCESS_KEY_ID: AWS[1].accessKeyId, AWS_SECRET_ACCESS_KEY: AWS[1].secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' }],
    });
    ({ env, api, sim } = stack);
    worker = stack.procs.find((p) => p.name === 'worker')!;
  });

  afterAll(async () => {
    await stack?.close();
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  });

  it('scans through an AWS role (ExternalId) with sessions that expire and are refreshed mid-scan', async () => {
    await register({
      provider: 'aws',
      name: 'aws-role',
      region: AWS[0].region,
      credentialRef: 'aws-base',
      credentials: { source: 'assume-role', roleArn: AWS_ROLE.roleArn, externalId: AWS_ROLE.externalId, sessionName: 'scanq-e2e', stsEndpoint: sim },
      settings: { registryId: AWS[0].registryId },
    });
    const done = await ended(await submit({ provider: 'aws', account: 'aws-role', repositoryName: 'scanq/worker', imageId: { imageTag: 'latest' } }));
    expect(done.status, done.error ?? '').toBe('succeeded');
    const snap = await calls();
    // Sessions of 5 s over a 10 s scan: the role was assumed again while the scan ran.
    expect(snap.outcomes['aws:AssumeRole:ok']).toBeGreaterThanOrEqual(2);
    const expired = Object.entries(snap.outcomes).filter(([k]) => k.startsWith('aws:') && k.endsWith(':ExpiredTokenException'));
    expect(expired).toEqual([]);
    expect(snap.outcomes['aws:StartImageScan:ok']).toBe(1);
  });

  it('scans through an Alibaba RAM role (ram-role-arn, ExternalId) with sessions refreshed mid-scan', async () => {
    const state = await json<{ accounts: { name: string; images: { digest: string; behaviour: string; supportedRegion: boolean }[] }[] }>(`${sim}/_sim/state/alibaba`);
    const image = state.accounts.find((a) => a.name === ALI_ROLE.account)!.images.find((i) => i.behaviour === 'normal' && i.supportedRegion)!;
    await register({
      provider: 'alibaba',
      name: 'ali-role',
      region: ALI[0].region,
      credentialRef: 'ali-base',
      credentials: { source: 'ram-role-arn', roleArn: ALI_ROLE.roleArn, externalId: ALI_ROLE.externalId, stsEndpoint: sim },
    });
    const done = await ended(await submit({ provider: 'alibaba', account: 'ali-role', digests: [image.digest] }));
    expect(done.status, done.error ?? '').toBe('succeeded');
    const snap = await calls();
    expect(snap.outcomes['alibaba:AssumeRole:ok']).toBeGreaterThanOrEqual(2);
    const expired = Object.entries(snap.outcomes).filter(([k]) => k.startsWith('alibaba:') && k.endsWith(':InvalidSecurityToken.Expired'));
    expect(expired).toEqual([]);
    expect(snap.tasks.alibaba?.created).toBe(1);
  });

  it('fails the scan no_permission, saying why, when the ExternalId is wrong', async () => {
    await register({
      provider: 'aws',
      name: 'aws-wrong-external-id',
      region: AWS[0].region,
      credentialRef: 'aws-base',
      credentials: { source: 'assume-role', roleArn: AWS_ROLE.roleArn, externalId: 'not-the-external-id', stsEndpoint: sim },
    });
    const done = await ended(await submit({ provider: 'aws', account: 'aws-wrong-external-id', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } }));
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('no_permission');
    expect(done.error).toContain('AccessDenied');
    expect(done.error).toContain(`not authorized to perform: sts:AssumeRole on resource: ${AWS_ROLE.roleArn}`);
    expect((await calls()).outcomes['aws:AssumeRole:AccessDenied']).toBeGreaterThanOrEqual(1);
  });

  it('scans with the worker’s own identity through the AWS default chain (its environment)', async () => {
    const before = (await calls()).outcomes['aws:StartImageScan:ok'] ?? 0;
    await register({ provider: 'aws', name: 'aws-default-chain', region: AWS[1].region, credentialRef: 'default', credentials: { source: 'default-chain' } });
    const done = await ended(await submit({ provider: 'aws', account: 'aws-default-chain', repositoryName: 'scanq/worker', imageId: { imageTag: 'latest' } }));
    expect(done.status, done.error ?? '').toBe('succeeded');
    // Signed as sim-aws-2 (the environment's keys): the scan ran in its registry.
    expect((await calls()).outcomes['aws:StartImageScan:ok']).toBe(before + 1);
    const state = await json<{ accounts: { registryId: string; repositories: { name: string; images: { tags: string[]; lastScanAt: number | null }[] }[] }[] }>(`${sim}/_sim/state/aws`);
    const worker = state.accounts.find((a) => a.registryId === AWS[1].registryId)!.repositories.find((r) => r.name === 'scanq/worker')!;
    expect(worker.images.find((i) => i.tags.includes('latest'))!.lastScanAt).not.toBeNull();
  });

  it('picks up a changed SCANQ_CREDENTIALS_FILE (a Kubernetes Secret update) in the running worker', async () => {
    await register({ provider: 'aws', name: 'aws-rotating', region: AWS[0].region, credentialRef: 'aws-rotating', settings: { registryId: AWS[0].registryId } });
    const refused = await ended(await submit({ provider: 'aws', account: 'aws-rotating', repositoryName: 'scanq/web', imageId: { imageTag: 'latest' } }));
    expect(refused.status).toBe('failed');
    expect(refused.reason).toBe('no_permission');
    writeSecret({
      'aws-base': { accessKeyId: AWS[1].accessKeyId, secretAccessKey: AWS[1].secretAccessKey },
      'ali-base': { accessKeyId: ALI[1].accessKeyId, accessKeySecret: ALI[1].accessKeySecret },
      'aws-rotating': { accessKeyId: AWS[0].accessKeyId, secretAccessKey: AWS[0].secretAccessKey },
    });
    // The same worker process, never restarted: once it has looked at the file again (at most
    // once a second, on use), the swapped set signs. Until then a scan still fails as before.
    const before: (string | null)[] = [];
    const done = await waitFor(async () => {
      const s = await ended(await submit({ provider: 'aws', account: 'aws-rotating', repositoryName: 'scanq/web', imageId: { imageTag: 'latest' } }));
      if (s.status !== 'succeeded') before.push(s.reason);
      return s.status === 'succeeded' ? s : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500, what: 'a scan signed with the swapped set' });
    expect(before.every((reason) => reason === 'no_permission')).toBe(true);
    expect(done.images.every((i) => i.status === 'succeeded')).toBe(true);
    expect(worker.child.exitCode).toBeNull();
  });

  it('keeps every secret out of Postgres: accounts hold the source and the set’s name only', async () => {
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      const accounts = await client.query<{ name: string; credentials: unknown; row: string }>('SELECT name, credentials, row_to_json(a)::text AS row FROM "CloudAccount" a ORDER BY name');
      expect(accounts.rows.map((r) => r.name)).toEqual(['ali-role', 'aws-default-chain', 'aws-role', 'aws-rotating', 'aws-wrong-external-id']);
      expect(accounts.rows.find((r) => r.name === 'aws-role')!.credentials).toEqual({ source: 'assume-role', roleArn: AWS_ROLE.roleArn, externalId: AWS_ROLE.externalId, sessionName: 'scanq-e2e', stsEndpoint: sim });
      expect(accounts.rows.find((r) => r.name === 'aws-rotating')!.credentials).toBeNull();
      const scans = await client.query<{ row: string }>('SELECT row_to_json(s)::text AS row FROM "Scan" s');
      for (const { row } of [...accounts.rows, ...scans.rows]) for (const secret of SECRETS) expect(row).not.toContain(secret);
    } finally {
      await client.end();
    }
  });
});
