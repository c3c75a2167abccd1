import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IAM_AGENCIES } from '../../apps/simulator/src/huawei/iam.js';
import { STS_EXTERNAL_ID, STS_ROLES, STS_UINS } from '../../apps/simulator/src/tencent/sts.js';
import { apiCalls } from '../support/api-calls.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import type { TestEnv } from '../support/env.js';

const TC = SIMULATOR_ACCOUNTS.tencent;
const HW = SIMULATOR_ACCOUNTS.huawei;
/** A CAM role of the second simulator account (uin STS_UINS[1]), assumed with the first one's keys. */
const camRole = (name: string) => `qcs::cam::uin/${STS_UINS[1]}:roleName/${name}`;

/**
 * Tencent CAM roles and Huawei IAM agencies through the whole account path, as real processes:
 * accounts created through the API with a `credentials` block naming the role or agency (STS/IAM
 * at the simulator), scanned by a worker with temporary keys that last 5 s over 10 s scans — so
 * they are fetched again mid-scan — and a refused role or agency failing the scan no_permission.
 * Judged by the simulator's STS/IAM counts and the scans' rows in Postgres.
 */
describe('end to end: Tencent CAM role and Huawei agency credential sources', () => {
  let stack: E2eStack;
  let env: TestEnv;
  let api = '';
  let sim = '';

  const { json, calls, ended, register, submit } = apiCalls(() => ({ api, sim }));
  /** The scan's row as Postgres holds it. */
  async function row(id: string): Promise<{ status: string; reason: string | null }> {
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ status: string; reason: string | null }>('SELECT status::text AS status, reason::text AS reason FROM "Scan" WHERE id = $1', [id]);
      return rows[0]!;
    } finally {
      await client.end();
    }
  }
  /** Never-scanned, authorized images of the second Tencent account (the role's). */
  async function tencentImages(n: number): Promise<number[]> {
    const state = await json<{ accounts: { name: string; images: { Id: number; IsAuthorized: number; special: string | null; scanStatus: string }[] }[] }>(`${sim}/_sim/state/tencent`);
    return state.accounts.find((a) => a.name === TC[1].name)!.images.filter((i) => i.IsAuthorized === 1 && i.special === null && i.scanStatus === 'NOT_SCAN').slice(0, n).map((i) => i.Id);
  }
  /** Private images of the second Huawei account (the agency's). */
  async function huaweiImages(n: number) {
    const state = await json<{ accounts: { name: string; sample: { image_type: string; namespace: string; image_name: string; image_version: string; special?: string }[] }[] }>(`${sim}/_sim/state/huawei`);
    return state.accounts.find((a) => a.name === HW[1].name)!.sample.filter((i) => i.image_type === 'private_image' && !i.special).slice(0, n).map(({ namespace, image_name, image_version }) => ({ namespace, image_name, image_version }));
  }

  beforeAll(async () => {
    stack = await startE2eStack({
      name: 'e2e-credentials-tc-hw',
      env: {
        // Scans take 10 s; temporary keys last 5 s (refreshed ahead of their end): each scan outlives its first keys.
        SIM_TENCENT_SCAN_MS: '10000',
        SIM_HUAWEI_SCAN_MS: '10000',
        SIM_TENCENT_STS_TTL_MS: '5000',
        SIM_HUAWEI_IAM_TTL_MS: '5000',
      },
    });
    ({ env, api, sim } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('scans through a Tencent CAM role (ExternalId) with temporary keys fetched again mid-scan', async () => {
    const credentials = { source: 'cam-role', roleArn: camRole(STS_ROLES.external), externalId: STS_EXTERNAL_ID, sessionName: 'scanq-e2e', stsEndpoint: sim };
    await register({ provider: 'tencent', name: 'tc-role', region: TC[1].region, credentialRef: TC[0].name, credentials });
    const id = await submit({ provider: 'tencent', account: 'tc-role', repositoryIds: await tencentImages(2) });
    const done = await ended(id);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done.images.map((i) => i.status)).toEqual(['succeeded', 'succeeded']);
    expect(await row(id)).toEqual({ status: 'succeeded', reason: null });
    const snap = await calls();
    expect(snap.outcomes['tencent:AssumeRole:ok']).toBeGreaterThanOrEqual(2);
    // The scan task ran in the role's account.
    expect(Object.keys(snap.tasks.tencent?.perImage ?? {}).length).toBe(2);
    expect(Object.keys(snap.tasks.tencent!.perImage).every((k) => k.startsWith(`${TC[1].name}/`))).toBe(true);
  });

  it('scans through a Huawei IAM agency with temporary keys fetched again mid-scan', async () => {
    await register({
      provider: 'huawei',
      name: 'hw-agency',
      region: HW[1].region,
      credentialRef: HW[0].name,
      credentials: { source: 'agency', domainName: HW[1].name, agencyName: IAM_AGENCIES.scanner, iamEndpoint: sim },
      settings: { projectId: HW[1].projectId },
    });
    const id = await submit({ provider: 'huawei', account: 'hw-agency', image_type: 'private_image', image_info_list: await huaweiImages(2) });
    const done = await ended(id);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done.images.map((i) => i.status)).toEqual(['succeeded', 'succeeded']);
    expect(await row(id)).toEqual({ status: 'succeeded', reason: null });
    const snap = await calls();
    expect(snap.outcomes['huawei:CreateTemporaryAccessKeyByAgency:ok']).toBeGreaterThanOrEqual(2);
    expect(Object.keys(snap.tasks.huawei?.perImage ?? {}).length).toBe(2);
    expect(Object.keys(snap.tasks.huawei!.perImage).every((k) => k.startsWith(`${HW[1].name}/`))).toBe(true);
  });

  it('fails the scan no_permission, saying why, when the CAM role refuses the caller', async () => {
    await register({ provider: 'tencent', name: 'tc-denied', region: TC[1].region, credentialRef: TC[0].name, credentials: { source: 'cam-role', roleArn: camRole(STS_ROLES.denied), stsEndpoint: sim } });
    const id = await submit({ provider: 'tencent', account: 'tc-denied', repositoryIds: await tencentImages(1) });
    const done = await ended(id);
    expect([done.status, done.reason]).toEqual(['failed', 'no_permission']);
    expect(done.error).toContain('AuthFailure.UnauthorizedOperation');
    expect(done.error).toContain(camRole(STS_ROLES.denied));
    expect(await row(id)).toEqual({ status: 'failed', reason: 'no_permission' });
    expect((await calls()).outcomes['tencent:AssumeRole:AuthFailure.UnauthorizedOperation']).toBeGreaterThanOrEqual(1);
  });

  it('fails the scan no_permission, saying why, when the agency is not delegated to the caller', async () => {
    await register({
      provider: 'huawei',
      name: 'hw-denied',
      region: HW[1].region,
      credentialRef: HW[0].name,
      credentials: { source: 'agency', domainName: HW[1].name, agencyName: IAM_AGENCIES.denied, iamEndpoint: sim },
      settings: { projectId: HW[1].projectId },
    });
    const id = await submit({ provider: 'huawei', account: 'hw-denied', image_type: 'private_image', image_info_list: await huaweiImages(1) });
    const done = await ended(id);
    expect([done.status, done.reason]).toEqual(['failed', 'no_permission']);
    expect(done.error).toContain(`${HW[1].name}/${IAM_AGENCIES.denied}`);
    expect(done.error).toContain('HTTP 403');
    expect(await row(id)).toEqual({ status: 'failed', reason: 'no_permission' });
    expect((await calls()).outcomes['huawei:CreateTemporaryAccessKeyByAgency:IAM.0002']).toBeGreaterThanOrEqual(1);
  });

  it('stores the credentials block as given, no secret', async () => {
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; credentials: unknown; row: string }>('SELECT name, credentials, row_to_json(a)::text AS row FROM "CloudAccount" a ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(['hw-agency', 'hw-denied', 'tc-denied', 'tc-role']);
      expect(rows.find((r) => r.name === 'hw-agency')!.credentials).toEqual({ source: 'agency', domainName: HW[1].name, agencyName: IAM_AGENCIES.scanner, iamEndpoint: sim });
      for (const { row: text } of rows) for (const secret of [TC[0].secretKey, HW[0].sk]) expect(text).not.toContain(secret);
    } finally {
      await client.end();
    }
  });
});
