import { describe, expect, it } from 'vitest';
import { parseCredentialSource, storedCredentialSource } from '../src/credentials.js';
import { createAccountSchema } from '../src/schemas.js';

const issues = (provider: 'aws' | 'alibaba' | 'tencent' | 'huawei', raw: unknown) => {
  const parsed = parseCredentialSource(provider, raw);
  return parsed.success ? [] : parsed.issues.map((i) => ({ path: i.path.join('.'), code: i.code, message: i.message }));
};

describe('credentials blocks, per cloud', () => {
  it('accepts each cloud’s documented sources', () => {
    for (const [provider, block] of [
      ['aws', { source: 'static' }],
      ['aws', { source: 'default-chain', profile: 'scanner' }],
      ['aws', { source: 'assume-role', roleArn: 'arn:aws:iam::123456789012:role/scanq', externalId: 'ext-1', sessionName: 'scanq', durationSeconds: 900, base: 'default-chain', stsEndpoint: 'https://sts.eu-west-1.amazonaws.com', stsRegion: 'eu-west-1' }],
      ['aws', { source: 'assume-role', roleArn: 'arn:aws-cn:iam::123456789012:role/path/scanq' }],
      ['alibaba', { source: 'ram-role-arn', roleArn: 'acs:ram::1234567890123456:role/scanq', externalId: 'abc', policy: '{"Version":"1"}', durationSeconds: 3600 }],
      ['alibaba', { source: 'ecs-ram-role' }],
      ['alibaba', { source: 'oidc-role-arn', roleArn: 'acs:ram::1234567890123456:role/scanq', oidcProviderArn: 'acs:ram::1234567890123456:oidc-provider/ack-rrsa', oidcTokenFile: '/var/run/secrets/tokens/oidc-token' }],
      ['tencent', { source: 'static' }],
      ['huawei', { source: 'static' }],
    ] as const) {
      expect(issues(provider, block), `${provider} ${block.source}`).toEqual([]);
    }
  });

  it('names the field and the rule of what it refuses', () => {
    expect(issues('aws', { source: 'ram-role-arn', roleArn: 'x' })).toEqual([{ path: 'source', code: 'invalid_value', message: 'must be one of static, default-chain, assume-role for aws' }]);
    expect(issues('aws', {})).toEqual([{ path: 'source', code: 'invalid_type', message: 'is required: one of static, default-chain, assume-role' }]);
    expect(issues('aws', { source: 'assume-role', roleArn: 'acs:ram::1:role/x' })[0]).toMatchObject({ path: 'roleArn', code: 'invalid_format' });
    expect(issues('aws', { source: 'assume-role', roleArn: 'arn:aws:iam::123456789012:role/x', durationSeconds: 60 })[0]).toMatchObject({ path: 'durationSeconds', code: 'too_small', message: 'must be 900–43200' });
    expect(issues('aws', { source: 'assume-role', roleArn: 'arn:aws:iam::123456789012:role/x', stsEndpoint: 'https://user:pass@sts.example.com' })[0]).toMatchObject({ path: 'stsEndpoint' });
    expect(parseCredentialSource('aws', { source: 'assume-role', roleArn: 'arn:aws:iam::123456789012:role/x', stsEndpoint: 'http://sts.example.com' }, { allowHttp: false, allowPrivate: false }).success).toBe(false);
    expect(issues('alibaba', { source: 'ram-role-arn', roleArn: 'acs:ram::1:role/x', policy: 'not json' })[0]).toMatchObject({ path: 'policy', code: 'custom' });
    expect(issues('tencent', { source: 'assume-role' })[0]).toMatchObject({ path: 'source', code: 'invalid_value' });
  });

  it('refuses a secret pasted into the block as an unknown field', () => {
    expect(issues('aws', { source: 'static', secretAccessKey: 'x' })).toEqual([expect.objectContaining({ code: 'unrecognized_keys' })]);
    expect(issues('alibaba', { source: 'ram-role-arn', roleArn: 'acs:ram::1:role/x', accessKeySecret: 'x' })).toEqual([expect.objectContaining({ code: 'unrecognized_keys' })]);
  });

  it('puts the block’s issues under `credentials` in an account request', () => {
    const parsed = createAccountSchema.safeParse({ provider: 'aws', name: 'a', region: 'us-east-1', credentialRef: 'x', credentials: { source: 'assume-role' } });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(['credentials.roleArn']);
  });

  it('reads a stored block: none or static is null, others parsed', () => {
    expect(storedCredentialSource('aws', null)).toBeNull();
    expect(storedCredentialSource('aws', { source: 'static' })).toBeNull();
    expect(storedCredentialSource('aws', { source: 'default-chain' })).toEqual({ source: 'default-chain' });
    expect(() => storedCredentialSource('aws', { source: 'nope' })).toThrow(/credentials.source/);
  });
});
