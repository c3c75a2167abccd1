import { GlobalCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import type { HcClient } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import * as tencentcloud from 'tencentcloud-sdk-nodejs';
import { STSCredential } from 'tencentcloud-sdk-nodejs/tencentcloud/common/credential.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../src/core/server.js';
import { createFrontEnds } from '../src/frontends.js';
import { IAM_AGENCIES, IAM_SECURITY_TOKENS_PATH } from '../src/huawei/iam.js';
import { STS_ROLES, STS_UINS } from '../src/tencent/sts.js';

/**
 * The STS and IAM front ends on the wire, driven by the clouds' own SDKs: Tencent's own
 * STSCredential (the SDK's AssumeRole provider) and a bare HcClient signing the documented
 * securitytokens body, so the front ends answer what the SDKs and the references expect, not
 * just what scanq's adapters send.
 */
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'sts-iam', frontEnds: createFrontEnds({ SIM_TENCENT_IMAGES: '5', SIM_HUAWEI_IMAGES: '5' }) });
});
afterAll(() => sim?.close());
beforeEach(async () => {
  await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
});

describe('tencent STS', () => {
  const [base, target] = [SIMULATOR_ACCOUNTS.tencent[0], SIMULATOR_ACCOUNTS.tencent[1]];
  const httpProfile = () => ({ endpoint: new URL(sim.url).host, protocol: 'http://' });
  const tcss = (credential: ConstructorParameters<typeof tencentcloud.tcss.v20201101.Client>[0]['credential']) =>
    new tencentcloud.tcss.v20201101.Client({ credential, region: target.region, profile: { httpProfile: httpProfile() } });

  it("answers the SDK's own STSCredential; its keys act as the role's account on TCSS", async () => {
    const sts = new STSCredential(
      { credential: { secretId: base.secretId, secretKey: base.secretKey }, region: base.region, profile: { httpProfile: httpProfile() } },
      { RoleArn: `qcs::cam::uin/${STS_UINS[1]}:roleName/${STS_ROLES.scanner}`, RoleSessionName: 'sdk-test', DurationSeconds: 1800 },
    );
    const keys = await sts.getCredential();
    expect(keys.secretId).toMatch(/^AKIDtmp/);
    expect(keys.token).toBeTruthy();
    const list = await tcss(sts).DescribeAssetImageRegistryList({ Limit: 100, Offset: 0 });
    const state = (await (await fetch(`${sim.url}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: unknown[] }[] };
    expect(list.TotalCount).toBe(state.accounts.find((a) => a.name === target.name)!.images.length);
  });

  it('documents ExpiredTime (Unix seconds) and Expiration (ISO 8601) for DurationSeconds', async () => {
    const client = new tencentcloud.sts.v20180813.Client({ credential: { secretId: base.secretId, secretKey: base.secretKey }, region: base.region, profile: { httpProfile: httpProfile() } });
    const before = Math.floor((await (await fetch(`${sim.url}/_sim/clock`)).json() as { now: number }).now / 1000);
    const out = await client.AssumeRole({ RoleArn: `qcs::cam::uin/${STS_UINS[0]}:roleName/${STS_ROLES.scanner}`, RoleSessionName: 'wire', DurationSeconds: 900 });
    expect(out.ExpiredTime! - before).toBeGreaterThanOrEqual(899);
    expect(out.ExpiredTime! - before).toBeLessThanOrEqual(901);
    expect(Date.parse(out.Expiration!) / 1000).toBe(out.ExpiredTime);
    await expect(client.AssumeRole({ RoleArn: `qcs::cam::uin/${STS_UINS[0]}:roleName/${STS_ROLES.denied}`, RoleSessionName: 'wire' })).rejects.toMatchObject({ code: 'AuthFailure.UnauthorizedOperation' });
    await expect(client.AssumeRole({ RoleArn: `qcs::cam::uin/${STS_UINS[0]}:roleName/other`, RoleSessionName: 'wire' })).rejects.toMatchObject({ code: 'ResourceNotFound.RoleNotExist' });
    await expect(client.AssumeRole({ RoleArn: `qcs::cam::uin/${STS_UINS[0]}:roleName/${STS_ROLES.scanner}`, RoleSessionName: 'x' })).rejects.toMatchObject({ code: 'InvalidParameter.ParamError' });
    // A wrong token with a temporary SecretId, and then the same keys once expired.
    const keys = out.Credentials!;
    await expect(tcss({ secretId: keys.TmpSecretId!, secretKey: keys.TmpSecretKey!, token: 'forged' }).DescribeAssetImageRegistryList({})).rejects.toMatchObject({ code: 'AuthFailure.TokenFailure' });
    const good = tcss({ secretId: keys.TmpSecretId!, secretKey: keys.TmpSecretKey!, token: keys.Token! });
    await good.DescribeAssetImageRegistryList({});
    await fetch(`${sim.url}/_sim/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceMs: 901_000 }) });
    await expect(good.DescribeAssetImageRegistryList({})).rejects.toMatchObject({ code: 'AuthFailure.TokenFailure' });
  });
});

describe('huawei IAM securitytokens', () => {
  const [base, target] = [SIMULATOR_ACCOUNTS.huawei[0], SIMULATOR_ACCOUNTS.huawei[1]];
  const iam = () => {
    const hc = new ClientBuilder<HcClient>((c) => c).withEndpoint(sim.url).withCredential(new GlobalCredentials().withAk(base.ak).withSk(base.sk)).build();
    // The SDK logs every refused call at ERROR with its request: the test judges the statuses instead.
    const http = (hc as unknown as { httpClient?: { _logger?: unknown } }).httpClient;
    if (http) http._logger = { debug() {}, info() {}, warn() {}, error() {} };
    return hc;
  };
  const assume = (assumeRole: Record<string, unknown>, methods: string[] = ['assume_role']) =>
    iam().sendRequest<{ httpStatusCode: number; credential?: { access: string; secret: string; securitytoken: string; expires_at: string } }>({
      method: 'POST',
      url: IAM_SECURITY_TOKENS_PATH,
      contentType: 'application/json',
      pathParams: {},
      queryParams: {},
      headers: {},
      data: { auth: { identity: { methods, assume_role: assumeRole } } },
    });

  it('answers 201 with credential{access, secret, securitytoken, expires_at} for a delegated agency', async () => {
    const out = await assume({ domain_name: target.name, agency_name: IAM_AGENCIES.scanner, duration_seconds: 900 });
    expect(out.httpStatusCode).toBe(201);
    expect(out.credential).toMatchObject({ access: expect.any(String), secret: expect.any(String), securitytoken: expect.any(String) });
    expect(out.credential!.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Date.parse(out.credential!.expires_at) - Date.now()).toBeGreaterThan(800_000);
  });

  it('refuses a bad body (400), an agency not delegated (403), an unknown one (404), a token instead of a signature (401)', async () => {
    const status = (p: Promise<unknown>) => p.then(() => 0, (e: { httpStatusCode?: number }) => Number(e.httpStatusCode));
    expect(await status(assume({ domain_name: target.name, agency_name: IAM_AGENCIES.scanner, duration_seconds: 100 }))).toBe(400);
    expect(await status(assume({ domain_name: target.name, agency_name: IAM_AGENCIES.scanner }, ['token']))).toBe(400);
    expect(await status(assume({ agency_name: IAM_AGENCIES.scanner }))).toBe(400);
    expect(await status(assume({ domain_name: target.name, agency_name: IAM_AGENCIES.denied }))).toBe(403);
    expect(await status(assume({ domain_name: target.name, agency_name: 'nope' }))).toBe(404);
    expect(await status(assume({ domain_name: 'no-such-domain', agency_name: IAM_AGENCIES.scanner }))).toBe(404);
    const res = await fetch(`${sim.url}${IAM_SECURITY_TOKENS_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-auth-token': 'MIIEXAMPLE' }, body: '{}' });
    expect(res.status).toBe(401);
    const calls = (await (await fetch(`${sim.url}/_sim/calls`)).json()) as { totals: Record<string, number> };
    expect(calls.totals['huawei:CreateTemporaryAccessKeyByAgency']).toBe(7);
  });
});
