import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';
import { type HuaweiScanTarget, ProviderError, SIMULATOR_ACCOUNTS, type TencentScanTarget } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../../apps/simulator/src/core/server.js';
import { createFrontEnds } from '../../../apps/simulator/src/frontends.js';
import { IAM_AGENCIES, iamDomainId } from '../../../apps/simulator/src/huawei/iam.js';
import { STS_EXTERNAL_ID, STS_ROLES, STS_UINS } from '../../../apps/simulator/src/tencent/sts.js';
import type { ImageRef, ProviderAccount } from '../src/contract.js';
import { HuaweiHssProvider } from '../src/huawei/index.js';
import { TencentTcssProvider } from '../src/tencent/index.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';
import { waitFor } from '../../../test/support/wait.js';

/** Scans last this long on the simulator clock; the tests move the clock instead of waiting. */
const SCAN_MS = 100_000;
/**
 * Temporary keys live this long on the simulator clock (the simulator's short-lifetime setting):
 * long enough that the adapter’s own refresh ahead of expiry (after 30 s of real time, half the lifetime) never comes
 * first on a slow machine, short enough that the clock moves (170 s in all) stay inside TC3's
 * 300 s timestamp window.
 */
const TOKEN_TTL_MS = 60_000;

/**
 * Tencent CAM role (STS AssumeRole) and Huawei IAM agency credentials against the simulator's
 * STS / IAM front ends: cross-account (base keys of the first simulator account, role or agency
 * of the second), temporary keys that expire mid-scan, refreshed; refusals and expired pasted
 * tokens end as no_permission. Judged by what the simulator counted.
 */
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    seed: 'credentials-tc-hw',
    frontEnds: createFrontEnds({ SIM_TENCENT_SCAN_MS: String(SCAN_MS), SIM_HUAWEI_SCAN_MS: String(SCAN_MS), SIM_TENCENT_IMAGES: '40', SIM_HUAWEI_IMAGES: '40' }),
  });
});
afterAll(() => sim?.close());
beforeEach(async () => {
  await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
});

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<unknown>;
};
const get = async <T>(path: string): Promise<T> => (await (await fetch(`${sim.url}${path}`)).json()) as T;
const advance = (ms: number) => post('/_sim/clock', { advanceMs: ms });
const calls = async () => simulatorCalls(sim.url);
const outcome = async (key: string) => (await calls()).outcomes[key] ?? 0;
const total = async (key: string) => (await calls()).totals[key] ?? 0;

/** How a promise failed, as the ProviderError it must be. */
async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe('tencent cam-role', () => {
  const [base, target] = [SIMULATOR_ACCOUNTS.tencent[0], SIMULATOR_ACCOUNTS.tencent[1]];
  const roleArn = (role: string, uin: string = STS_UINS[1]) => `qcs::cam::uin/${uin}:roleName/${role}`;
  const account = (source: Record<string, unknown> | null, credentials: Record<string, string> = { secretId: base.secretId, secretKey: base.secretKey }): ProviderAccount => ({
    id: `tc-${JSON.stringify(source)}`,
    provider: 'tencent',
    name: 'tc-role',
    region: target.region,
    endpoint: sim.url,
    settings: {},
    credentials,
    credentialSource: source as ProviderAccount['credentialSource'],
  });
  /** `n` authorized, never-scanned images of the role's account (the second simulator account). */
  async function images(n: number): Promise<TencentScanTarget> {
    const state = await get<{ accounts: { name: string; images: { Id: number; IsAuthorized: number; special: string | null; scanStatus: string }[] }[] }>('/_sim/state/tencent');
    const ids = state.accounts.find((a) => a.name === target.name)!.images.filter((i) => i.IsAuthorized === 1 && i.special === null && i.scanStatus === 'NOT_SCAN').map((i) => i.Id);
    return { repositoryIds: ids.slice(0, n) };
  }

  it('scans start→poll→findings with temporary keys that expire mid-scan and are fetched again', async () => {
    await post('/_sim/config/tencent', { stsTokenTtlMs: TOKEN_TTL_MS });
    const provider = new TencentTcssProvider(SIM_DEPS);
    const a = account({ source: 'cam-role', roleArn: roleArn(STS_ROLES.external), externalId: STS_EXTERNAL_ID, stsEndpoint: sim.url });
    const scanTarget = await images(2);
    const resolved = await provider.resolveImages(a, scanTarget);
    expect(resolved.map((i) => Number(i.providerImageId))).toEqual(scanTarget.repositoryIds);
    await provider.startScan(a, scanTarget, resolved);
    expect(await outcome('tencent:AssumeRole:ok')).toBe(1);

    // The keys expire at the cloud (its clock) while the adapter still holds them: the next call
    // is refused once, the adapter assumes the role again, and the call goes through.
    await advance(TOKEN_TTL_MS + 10_000);
    const midway = await provider.pollScan(a, { target: scanTarget, images: resolved });
    expect(midway.images.map((i) => i.state)).toEqual(['scanning', 'scanning']);
    expect(await outcome('tencent:AssumeRole:ok')).toBe(2);
    expect(await outcome('tencent:DescribeAssetImageRegistryScanStatusOneKey:AuthFailure.TokenFailure')).toBe(1);
    expect(await outcome('tencent:DescribeAssetImageRegistryScanStatusOneKey:ok')).toBe(1);

    // Past the end of the scan and past the second keys' expiry too.
    await advance(SCAN_MS);
    const done = await provider.pollScan(a, { target: scanTarget, images: resolved });
    expect(done.images.map((i) => i.state)).toEqual(['succeeded', 'succeeded']);
    expect(await outcome('tencent:AssumeRole:ok')).toBe(3);
    const findings = await provider.listFindings(a, resolved[0]!);
    expect(findings.findings.length).toBeGreaterThan(0);
    expect(await outcome('tencent:DescribeAssetImageRegistryVulList:ok')).toBe(1);
    // Every call acted as the role's account: the scan task named its images.
    const tasks = (await calls()).tasks.tencent!;
    expect(Object.keys(tasks.perImage).every((k) => k.startsWith(`${target.name}/`))).toBe(true);
  });

  it('fetches new keys before the old ones expire (no refusal on the way)', async () => {
    // Short in real time: the adapter refreshes half the lifetime ahead of ExpiredTime.
    await post('/_sim/config/tencent', { stsTokenTtlMs: 4_000 });
    const provider = new TencentTcssProvider(SIM_DEPS);
    const a = account({ source: 'cam-role', roleArn: roleArn(STS_ROLES.scanner), stsEndpoint: sim.url });
    const scanTarget = await images(1);
    await provider.resolveImages(a, scanTarget);
    const firstExpiry = Date.now() + 4_000;
    await waitFor(() => Date.now() > firstExpiry - 900, { timeoutMs: 10_000, what: 'the first keys to near their expiry' });
    await provider.resolveImages(a, scanTarget);
    expect(await outcome('tencent:AssumeRole:ok')).toBe(2);
    expect(await outcome('tencent:DescribeAssetImageRegistryDetail:ok')).toBe(2);
    expect(await outcome('tencent:DescribeAssetImageRegistryDetail:AuthFailure.TokenFailure')).toBe(0);
  });

  it('a role that refuses the caller ends no_permission, terminal, naming the role', async () => {
    const provider = new TencentTcssProvider(SIM_DEPS);
    for (const role of [STS_ROLES.denied, 'no-such-role']) {
      const err = await failure(provider.resolveImages(account({ source: 'cam-role', roleArn: roleArn(role), stsEndpoint: sim.url }), { repositoryIds: [1] }));
      expect(err.kind).toBe('terminal');
      expect(err.reason).toBe('no_permission');
      expect(err.message).toContain(roleArn(role));
    }
    // A missing ExternalId is refused by the role's trust policy.
    const err = await failure(provider.resolveImages(account({ source: 'cam-role', roleArn: roleArn(STS_ROLES.external), stsEndpoint: sim.url }), { repositoryIds: [1] }));
    expect([err.kind, err.reason, err.code]).toEqual(['terminal', 'no_permission', 'AuthFailure.UnauthorizedOperation']);
    expect(await total('tencent:DescribeAssetImageRegistryDetail')).toBe(0);
  });

  it('oidc-role: AssumeRoleWithWebIdentity with the token file, re-read at each fetch; an expired token is refused', async () => {
    await post('/_sim/config/tencent', { stsTokenTtlMs: TOKEN_TTL_MS });
    const dir = await mkdtemp(join(tmpdir(), 'scanq-oidc-'));
    try {
      const file = join(dir, 'token');
      const jwt = (exp: number) => ['{"alg":"RS256"}', JSON.stringify({ sub: 'system:serviceaccount:scanq:worker', exp })].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.c2ln';
      const simNow = (await get<{ now: number }>('/_sim/clock')).now;
      await writeFile(file, jwt(Math.floor(simNow / 1000) + 3600));
      const provider = new TencentTcssProvider(SIM_DEPS);
      const a = account({ source: 'oidc-role', roleArn: roleArn(STS_ROLES.scanner), providerId: 'scanq-sim-oidc', webIdentityTokenFile: file, stsEndpoint: sim.url }, {});
      const scanTarget = await images(1);
      expect((await provider.resolveImages(a, scanTarget)).length).toBe(1);
      expect(await outcome('tencent:AssumeRoleWithWebIdentity:ok')).toBe(1);
      // The keys expire; kubelet has meanwhile written a token that has expired too (so it is read anew, and refused).
      await writeFile(file, jwt(Math.floor(simNow / 1000) + 10));
      await advance(TOKEN_TTL_MS + 1_000);
      const err = await failure(provider.resolveImages(a, scanTarget));
      expect([err.kind, err.reason, err.code]).toEqual(['terminal', 'no_permission', 'InvalidParameter.ParamError']);
      expect(err.message).toContain('expired');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unreachable STS is retryable no_permission', async () => {
    const provider = new TencentTcssProvider(SIM_DEPS);
    const err = await failure(provider.resolveImages(account({ source: 'cam-role', roleArn: roleArn(STS_ROLES.scanner), stsEndpoint: 'http://127.0.0.1:9' }), { repositoryIds: [1] }));
    expect([err.kind, err.reason]).toEqual(['retryable', 'no_permission']);
  });

  it('an expired pasted token (static temporary keys) is AuthFailure.TokenFailure → no_permission, terminal', async () => {
    // Temporary keys as an operator would paste them: issued by STS, then left to expire.
    await post('/_sim/config/tencent', { stsTokenTtlMs: TOKEN_TTL_MS });
    const issuer = new TencentTcssProvider(SIM_DEPS);
    const role = account({ source: 'cam-role', roleArn: roleArn(STS_ROLES.scanner), stsEndpoint: sim.url });
    await issuer.resolveImages(role, await images(1));
    const keys = await (issuer as unknown as { credentials: { get(a: ProviderAccount): Promise<{ secretId: string; secretKey: string; token: string }> } }).credentials.get(role);
    const pasted = account(null, { secretId: keys.secretId, secretKey: keys.secretKey, token: keys.token });
    const provider = new TencentTcssProvider(SIM_DEPS);
    expect((await provider.resolveImages(pasted, await images(1))).length).toBe(1);
    await advance(TOKEN_TTL_MS + 1_000);
    const err = await failure(provider.resolveImages(pasted, await images(1)));
    expect([err.kind, err.reason, err.code]).toEqual(['terminal', 'no_permission', 'AuthFailure.TokenFailure']);
    // Static keys are never traded: one STS call in all, the issuer's.
    expect(await total('tencent:AssumeRole')).toBe(1);
  });
});

describe('huawei agency', () => {
  const [base, target] = [SIMULATOR_ACCOUNTS.huawei[0], SIMULATOR_ACCOUNTS.huawei[1]];
  const account = (source: Record<string, unknown> | null, credentials: Record<string, string> = { ak: base.ak, sk: base.sk }): ProviderAccount => ({
    id: `hw-${JSON.stringify(source)}`,
    provider: 'huawei',
    name: 'hw-agency',
    region: target.region,
    endpoint: sim.url,
    settings: { projectId: target.projectId },
    credentials,
    credentialSource: source as ProviderAccount['credentialSource'],
  });
  const agency = (agencyName: string, by: 'name' | 'id' = 'name') => ({
    source: 'agency',
    ...(by === 'name' ? { domainName: target.name } : { domainId: iamDomainId(target.name) }),
    agencyName,
    iamEndpoint: sim.url,
  });
  async function unscanned(provider: HuaweiHssProvider, a: ProviderAccount, n: number): Promise<HuaweiScanTarget> {
    const picked: ImageRef[] = [];
    for await (const page of provider.listImages(a, {})) {
      for (const image of page) {
        const raw = image.raw as { scan_status?: string; image_type?: string; namespace?: string };
        if (raw.scan_status === 'unscan' && raw.image_type === 'private_image' && raw.namespace !== 'scanq-special') picked.push(image);
      }
      if (picked.length >= n) break;
    }
    return {
      image_type: 'private_image',
      image_info_list: picked.slice(0, n).map((i) => ({ namespace: i.repository.split('/')[0]!, image_name: i.repository.split('/').slice(1).join('/'), image_version: i.tags[0]! })),
    };
  }

  it('scans start→poll→findings with temporary keys that expire mid-scan and are fetched again', async () => {
    await post('/_sim/config/huawei', { iamTokenTtlMs: TOKEN_TTL_MS });
    const provider = new HuaweiHssProvider(SIM_DEPS);
    const a = account(agency(IAM_AGENCIES.scanner, 'id'));
    const scanTarget = await unscanned(provider, a, 2);
    const resolved = await provider.resolveImages(a, scanTarget);
    expect(resolved.length).toBe(2);
    const task = await provider.startScan(a, scanTarget, resolved);
    expect(await outcome('huawei:CreateTemporaryAccessKeyByAgency:ok')).toBe(1);

    await advance(TOKEN_TTL_MS + 10_000);
    const midway = await provider.pollScan(a, { taskId: task.taskId, target: scanTarget, images: task.images ?? resolved });
    expect(midway.images.every((i) => i.state === 'scanning')).toBe(true);
    expect(await outcome('huawei:CreateTemporaryAccessKeyByAgency:ok')).toBe(2);
    expect(await outcome('huawei:ListSwrImageRepository:APIG.0301')).toBe(1);

    await advance(SCAN_MS);
    const done = await provider.pollScan(a, { taskId: task.taskId, target: scanTarget, images: task.images ?? resolved });
    expect(done.images.every((i) => i.state === 'succeeded')).toBe(true);
    expect(await outcome('huawei:CreateTemporaryAccessKeyByAgency:ok')).toBe(3);
    const okCalls = Object.entries((await calls()).outcomes).filter(([k]) => k.startsWith('huawei:') && k.endsWith(':ok') && !k.includes('CreateTemporaryAccessKeyByAgency'));
    expect(okCalls.reduce((n, [, v]) => n + v, 0)).toBeGreaterThan(3);
    // Every call acted as the delegating account: its images were scanned.
    const tasks = (await calls()).tasks.huawei!;
    expect(Object.keys(tasks.perImage).length).toBe(2);
    expect(Object.keys(tasks.perImage).every((k) => k.startsWith(`${target.name}/`))).toBe(true);
  });

  it('an agency not delegated to the caller, or none at all, ends no_permission, terminal, naming it', async () => {
    const provider = new HuaweiHssProvider(SIM_DEPS);
    for (const [name, status] of [[IAM_AGENCIES.denied, 403], ['no-such-agency', 404]] as const) {
      const err = await failure(provider.resolveImages(account(agency(name)), { image_type: 'private_image', operate_all: true }));
      expect([err.kind, err.reason]).toEqual(['terminal', 'no_permission']);
      expect(err.message).toContain(`${target.name}/${name}`);
      expect(err.message).toContain(`HTTP ${status}`);
    }
    expect(await total('huawei:ListSwrImageRepository')).toBe(0);
  });

  it('an unreachable IAM is retryable no_permission', async () => {
    const provider = new HuaweiHssProvider(SIM_DEPS);
    const err = await failure(provider.resolveImages(account({ ...agency(IAM_AGENCIES.scanner), iamEndpoint: 'http://127.0.0.1:9' }), { image_type: 'private_image', operate_all: true }));
    expect([err.kind, err.reason]).toEqual(['retryable', 'no_permission']);
  });

  it('an expired pasted security token is APIG.0301 → no_permission, terminal', async () => {
    await post('/_sim/config/huawei', { iamTokenTtlMs: TOKEN_TTL_MS });
    // Temporary keys issued through the agency, pasted as static secrets.
    const iamRes = await provider_keys();
    const pasted = account(null, { ak: iamRes.access, sk: iamRes.secret, securityToken: iamRes.securitytoken });
    const provider = new HuaweiHssProvider(SIM_DEPS);
    const scanTarget = await unscanned(provider, pasted, 1);
    expect((await provider.resolveImages(pasted, scanTarget)).length).toBe(1);
    await advance(TOKEN_TTL_MS + 1_000);
    const err = await failure(provider.resolveImages(pasted, scanTarget));
    expect([err.kind, err.reason, err.code]).toEqual(['terminal', 'no_permission', 'APIG.0301']);
    expect(err.message).toContain('expired');
    expect(await total('huawei:CreateTemporaryAccessKeyByAgency')).toBe(1);

    async function provider_keys() {
      const issuer = new HuaweiHssProvider(SIM_DEPS);
      const role = account(agency(IAM_AGENCIES.scanner));
      const creds = (issuer as unknown as { clients: { credentials: { credential(a: ProviderAccount, p: string): Promise<{ keys: { ak: string; sk: string; securityToken: string } }> } } }).clients.credentials;
      const { keys } = await creds.credential(role, target.projectId);
      return { access: keys.ak, secret: keys.sk, securitytoken: keys.securityToken };
    }
  });
});
