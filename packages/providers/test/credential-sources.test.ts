import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { type CredentialSource, ProviderError, SIMULATOR_ACCOUNTS, SIMULATOR_ROLES } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAlibabaSasFrontEnd } from '../../../apps/simulator/src/alibaba/index.js';
import { createAwsEcrFrontEnd } from '../../../apps/simulator/src/aws/index.js';
import { type RunningSimulator, startSimulator } from '../../../apps/simulator/src/core/server.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';
import { waitFor } from '../../../test/support/wait.js';
import { AlibabaCredentials } from '../src/alibaba/credentials.js';
import { AlibabaSasProvider } from '../src/alibaba/index.js';
import { AwsEcrProvider } from '../src/aws/index.js';
import { DEFAULT_TIMEOUTS, type ProviderAccount } from '../src/contract.js';
import { ProviderTransport } from '../src/transport.js';

/**
 * Credential sources through the real SDKs (@aws-sdk/credential-providers, @alicloud/credentials)
 * against the simulator's STS front ends, which issue sessions and check every call's token.
 */
const AWS = SIMULATOR_ACCOUNTS.aws[0];
const AWS_ROLE = SIMULATOR_ROLES.aws[1]; // cross-account: sim-aws's keys assume sim-aws-2's role
const ALI = SIMULATOR_ACCOUNTS.alibaba[0];
const ALI_ROLE = SIMULATOR_ROLES.alibaba[0];

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: [createAlibabaSasFrontEnd({ SIM_ALIBABA_IMAGES: '10' }), createAwsEcrFrontEnd({})] });
});
afterAll(() => sim?.close());
beforeEach(async () => {
  await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
});
const configure = (cloud: string, body: object) => fetch(`${sim.url}/_sim/config/${cloud}`, { method: 'POST', body: JSON.stringify(body) });
const calls = async () => simulatorCalls(sim.url);
const failure = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
};

const awsAccount = (credentialSource: CredentialSource | null, credentials: Record<string, string> = { accessKeyId: AWS.accessKeyId, secretAccessKey: AWS.secretAccessKey }): ProviderAccount => ({
  id: 'aws-role',
  provider: 'aws',
  name: 'aws-role',
  // The role's account (sim-aws-2) and its region; the static cases sign as sim-aws there too.
  region: SIMULATOR_ACCOUNTS.aws[1].region,
  endpoint: sim.url,
  settings: {},
  credentials,
  credentialSource,
});
const assumeAws = (externalId: string = AWS_ROLE.externalId): CredentialSource => ({ source: 'assume-role', roleArn: AWS_ROLE.roleArn, externalId, stsEndpoint: sim.url });
const ecrRepositories = (p: AwsEcrProvider, a: ProviderAccount) => p.listImages(a, { repositories: ['scanq/api'] })[Symbol.asyncIterator]().next();

describe('AWS assume-role (fromTemporaryCredentials) against the simulator STS', () => {
  it('assumes the role once and lists the role account’s images with the session', async () => {
    await configure('aws', { stsTokenMs: 600_000 });
    const provider = new AwsEcrProvider(SIM_DEPS);
    const account = awsAccount(assumeAws());
    const first = await ecrRepositories(provider, account);
    await ecrRepositories(provider, account);
    // The session acts in the role's account (sim-aws-2), not the caller's.
    expect((first.value as { registry: string }[])[0]!.registry).toBe(SIMULATOR_ACCOUNTS.aws[1].registryId);
    const snap = await calls();
    expect(snap.totals['aws:AssumeRole']).toBe(1);
    expect(snap.outcomes['aws:AssumeRole:ok']).toBe(1);
    expect(snap.outcomes['aws:DescribeRepositories:ok']).toBe(2);
  });

  it('assumes the role again before its short session expires, no call ever refused as expired', async () => {
    // 8 s sessions, refreshed from 4 s before their end: a loaded machine's stalls stay well inside that.
    await configure('aws', { stsTokenMs: 8_000 });
    const provider = new AwsEcrProvider(SIM_DEPS);
    const account = awsAccount(assumeAws());
    await waitFor(async () => {
      await ecrRepositories(provider, account);
      return ((await calls()).totals['aws:AssumeRole'] ?? 0) >= 3;
    }, { timeoutMs: 90_000, intervalMs: 250, what: 'three AssumeRole calls' });
    const snap = await calls();
    expect(snap.outcomes['aws:DescribeRepositories:ExpiredTokenException'] ?? 0).toBe(0);
    expect(snap.outcomes['aws:DescribeRepositories:ok']).toBeGreaterThanOrEqual(3);
  });

  it('fails no_permission, terminal, naming AccessDenied, when the ExternalId is wrong', async () => {
    const err = await failure(ecrRepositories(new AwsEcrProvider(SIM_DEPS), awsAccount(assumeAws('not-the-external-id'))));
    expect(err.kind).toBe('terminal');
    expect(err.reason).toBe('no_permission');
    expect(err.code).toBe('AccessDenied');
    expect(err.message).toContain(`is not authorized to perform: sts:AssumeRole on resource: ${AWS_ROLE.roleArn}`);
    expect((await calls()).outcomes['aws:AssumeRole:AccessDenied']).toBe(1);
  });

  it('fails no_permission, retryable, when STS cannot be reached', async () => {
    const closed = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: [] });
    const url = closed.url;
    await closed.close();
    const err = await failure(ecrRepositories(new AwsEcrProvider(SIM_DEPS), awsAccount({ ...assumeAws(), stsEndpoint: url } as CredentialSource)));
    expect(err.kind).toBe('retryable');
    expect(err.reason).toBe('no_permission');
  });

  it('refuses an expired session token with ExpiredTokenException and a forged one as unrecognized', async () => {
    // 5 s: the first call surely arrives while the session is good, even on a loaded machine.
    await configure('aws', { stsTokenMs: 5_000 });
    const session = await fromTemporaryCredentials({
      masterCredentials: { accessKeyId: AWS.accessKeyId, secretAccessKey: AWS.secretAccessKey },
      params: { RoleArn: AWS_ROLE.roleArn, ExternalId: AWS_ROLE.externalId, RoleSessionName: 'pasted' },
      clientConfig: { region: AWS.region, endpoint: sim.url },
    })();
    // A session pasted as a static set (the `static` source with a sessionToken).
    const pasted = awsAccount(null, { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken! });
    const provider = new AwsEcrProvider(SIM_DEPS);
    await ecrRepositories(provider, pasted);
    const forged = await failure(ecrRepositories(new AwsEcrProvider(SIM_DEPS), awsAccount(null, { ...pasted.credentials, sessionToken: `${session.sessionToken}x` })));
    expect(forged.code).toBe('UnrecognizedClientException');
    expect(forged.reason).toBe('no_permission');
    await waitFor(() => Date.now() > session.expiration!.getTime() + 1_000, { timeoutMs: 30_000, what: 'the session to expire' });
    const expired = await failure(ecrRepositories(provider, pasted));
    expect(expired.code).toBe('ExpiredTokenException');
    expect(expired.kind).toBe('retryable');
    expect((await calls()).outcomes['aws:DescribeRepositories:ExpiredTokenException']).toBe(1);
  });

  it('builds a new client when the secret set changes (a rotated key is not signed with the old one)', async () => {
    const provider = new AwsEcrProvider(SIM_DEPS);
    const wrong = await failure(ecrRepositories(provider, awsAccount(null, { accessKeyId: AWS.accessKeyId, secretAccessKey: 'rotated-away' })));
    expect(wrong.code).toBe('InvalidSignatureException');
    await ecrRepositories(provider, awsAccount(null));
    // The second call signed with the new secret: no second signature refusal.
    expect((await calls()).outcomes['aws:DescribeRepositories:InvalidSignatureException']).toBe(1);
  });
});

const aliAccount = (credentialSource: CredentialSource | null, credentials: Record<string, string> = { accessKeyId: ALI.accessKeyId, accessKeySecret: ALI.accessKeySecret }): ProviderAccount => ({
  id: 'ali-role',
  provider: 'alibaba',
  name: 'ali-role',
  region: ALI.region,
  endpoint: sim.url,
  settings: {},
  credentials,
  credentialSource,
});
const assumeAli = (externalId: string = ALI_ROLE.externalId): CredentialSource => ({ source: 'ram-role-arn', roleArn: ALI_ROLE.roleArn, externalId, stsEndpoint: sim.url });
const aliImages = (p: AlibabaSasProvider, a: ProviderAccount) => p.listImages(a, {})[Symbol.asyncIterator]().next();

describe('Alibaba ram-role-arn (@alicloud/credentials) against the simulator STS', () => {
  it('assumes the role and lists images with the session, again before its short session expires', async () => {
    await configure('alibaba', { stsTokenMs: 8_000 });
    const provider = new AlibabaSasProvider(SIM_DEPS);
    const account = aliAccount(assumeAli());
    await waitFor(async () => {
      const page = await aliImages(provider, account);
      expect((page.value as unknown[]).length).toBeGreaterThan(0);
      return ((await calls()).totals['alibaba:AssumeRole'] ?? 0) >= 3;
    }, { timeoutMs: 90_000, intervalMs: 250, what: 'three AssumeRole calls' });
    const snap = await calls();
    expect(snap.outcomes['alibaba:DescribeImageInstances:InvalidSecurityToken.Expired'] ?? 0).toBe(0);
    expect(snap.outcomes['alibaba:DescribeImageInstances:ok']).toBeGreaterThanOrEqual(3);
  });

  it('fails no_permission, terminal, naming NoPermission, when the ExternalId is wrong', async () => {
    const err = await failure(aliImages(new AlibabaSasProvider(SIM_DEPS), aliAccount(assumeAli('not-the-external-id'))));
    expect(err.kind).toBe('terminal');
    expect(err.reason).toBe('no_permission');
    expect(err.code).toBe('NoPermission');
    expect(err.message).toContain(ALI_ROLE.roleArn);
    expect((await calls()).outcomes['alibaba:AssumeRole:NoPermission']).toBe(1);
  });

  it('refuses an expired security token with InvalidSecurityToken.Expired', async () => {
    await configure('alibaba', { stsTokenMs: 5_000 });
    const session = await new AlibabaCredentials(DEFAULT_TIMEOUTS, new ProviderTransport(SIM_DEPS)).for(aliAccount(assumeAli())).get();
    const pasted = aliAccount(null, { accessKeyId: session.accessKeyId, accessKeySecret: session.accessKeySecret, securityToken: session.securityToken! });
    const provider = new AlibabaSasProvider(SIM_DEPS);
    await aliImages(provider, pasted);
    await waitFor(() => Date.now() > session.expiration!.getTime() + 1_000, { timeoutMs: 30_000, what: 'the session to expire' });
    const expired = await failure(aliImages(provider, pasted));
    expect(expired.code).toBe('InvalidSecurityToken.Expired');
    expect(expired.kind).toBe('retryable');
    expect(expired.reason).toBe('no_permission');
  });
});
