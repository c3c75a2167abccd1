import { describe, expect, it } from 'vitest';
import { huaweiCredentialsSchema, huaweiCredentialsSchemaFor, tencentCredentialsSchema } from '../src/credentials-tencent-huawei.js';

/** Each refusal names the field and the rule. */
const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) => (r.success ? [] : r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`));

describe('tencent credentials block', () => {
  it('accepts each source in its documented form', () => {
    for (const block of [
      { source: 'static' },
      { source: 'cam-role', roleArn: 'qcs::cam::uin/100012345678:roleName/scanq-scanner', sessionName: 'scanq', durationSeconds: 3600, externalId: 'ext-1', stsEndpoint: 'https://sts.tencentcloudapi.com' },
      { source: 'cvm-role' },
      { source: 'cvm-role', roleName: 'scanq-worker' },
      { source: 'oidc-role', roleArn: 'qcs::cam::uin/100012345678:roleName/scanq-scanner', providerId: 'tke-oidc', webIdentityTokenFile: '/var/run/token' },
    ]) expect(issues(tencentCredentialsSchema.safeParse(block))).toEqual([]);
  });

  it('refuses naming the field and the rule', () => {
    expect(issues(tencentCredentialsSchema.safeParse({ source: 'cam-role', roleArn: 'arn:aws:iam::1:role/x' }))).toEqual(['roleArn: must be a CAM role ARN, qcs::cam::uin/<uin>:roleName/<name>']);
    expect(issues(tencentCredentialsSchema.safeParse({ source: 'cam-role', roleArn: 'qcs::cam::uin/1:roleName/x', durationSeconds: 60 }))).toEqual(['durationSeconds: must be at least 900 (15 minutes)']);
    expect(issues(tencentCredentialsSchema.safeParse({ source: 'cam-role', roleArn: 'qcs::cam::uin/1:roleName/x', stsEndpoint: 'ftp://sts' }))[0]).toMatch(/^stsEndpoint: /);
    expect(issues(tencentCredentialsSchema.safeParse({ source: 'oidc-role', roleArn: 'qcs::cam::uin/1:roleName/x', providerId: 'p', webIdentityTokenFile: 'token' }))).toEqual(['webIdentityTokenFile: must be an absolute path']);
    expect(issues(tencentCredentialsSchema.safeParse({ source: 'assume' }))).toEqual(["source: source must be one of 'static', 'cam-role', 'cvm-role', 'oidc-role'"]);
    // A secret in the block is refused: secrets belong under credentialRef.
    expect(issues(tencentCredentialsSchema.safeParse({ source: 'static', secretKey: 'x' }))[0]).toMatch(/secretKey/);
  });
});

describe('huawei credentials block', () => {
  it('accepts each source in its documented form', () => {
    for (const block of [
      { source: 'static' },
      { source: 'agency', domainName: 'prod', agencyName: 'scanq-scanner', durationSeconds: 900 },
      { source: 'agency', domainId: '0123456789abcdef0123456789abcdef', agencyName: 'scanq-scanner', iamEndpoint: 'https://iam.cn-north-4.myhuaweicloud.com' },
      { source: 'oidc', idpId: 'cce-oidc', idTokenFile: '/var/run/secrets/tokens/oidc-token' },
    ]) expect(issues(huaweiCredentialsSchema.safeParse(block))).toEqual([]);
  });

  it('refuses naming the field and the rule', () => {
    expect(issues(huaweiCredentialsSchema.safeParse({ source: 'agency', agencyName: 'a' }))).toEqual(['domainName: exactly one of domainName and domainId must be set (the account that owns the agency)']);
    expect(issues(huaweiCredentialsSchema.safeParse({ source: 'agency', domainName: 'd', domainId: '0123456789abcdef0123456789abcdef', agencyName: 'a' }))).toHaveLength(1);
    expect(issues(huaweiCredentialsSchema.safeParse({ source: 'agency', domainName: 'd', agencyName: 'a', durationSeconds: 90_000 }))).toEqual(['durationSeconds: must be at most 86400 (24 hours, the IAM maximum)']);
    expect(issues(huaweiCredentialsSchema.safeParse({ source: 'agency', domainId: 'xyz', agencyName: 'a' }))).toEqual(['domainId: must be a 32-character hex account (domain) id']);
    expect(issues(huaweiCredentialsSchema.safeParse({ source: 'metadata' }))).toEqual(["source: source must be one of 'static', 'agency', 'oidc'"]);
  });

  it("applies the server's endpoint policy to iamEndpoint", () => {
    const block = { source: 'agency', domainName: 'd', agencyName: 'a', iamEndpoint: 'https://10.0.0.5' };
    expect(issues(huaweiCredentialsSchemaFor({ allowHttp: false, allowPrivate: true }).safeParse(block))).toEqual([]);
    expect(issues(huaweiCredentialsSchemaFor({ allowHttp: false, allowPrivate: false }).safeParse(block))[0]).toMatch(/^iamEndpoint: /);
  });
});
