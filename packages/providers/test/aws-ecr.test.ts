import { ProviderError, SIMULATOR_ACCOUNTS } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsEcrFrontEnd } from '../../../apps/simulator/src/aws/index.js';
import { type RunningSimulator, startSimulator } from '../../../apps/simulator/src/core/server.js';
import { AwsEcrProvider } from '../src/aws/index.js';
import type { ProviderAccount } from '../src/contract.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';

const SIM = SIMULATOR_ACCOUNTS.aws[0];
const benchTag = (i: number) => `b-${String(i).padStart(5, '0')}`;

/** Tag resolution through the real @aws-sdk/client-ecr against the simulator's ECR front end. */
describe('AWS ECR adapter: tag resolution shares DescribeImages calls', () => {
  let sim: RunningSimulator;
  let account: ProviderAccount;
  beforeAll(async () => {
    sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: [createAwsEcrFrontEnd({ SIM_AWS_BENCH_IMAGES: '300' })] });
    account = { id: 'aws-1', provider: 'aws', name: SIM.name, region: SIM.region, endpoint: sim.url, settings: { registryId: SIM.registryId }, credentials: { accessKeyId: SIM.accessKeyId, secretAccessKey: SIM.secretAccessKey } };
  });
  afterAll(() => sim?.close());
  beforeEach(async () => {
    await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
  });
  const describeImagesCalls = async () => (await simulatorCalls(sim.url)).totals['aws:DescribeImages'] ?? 0;

  it('resolves 250 concurrent tags of one repository in three calls (100 ids each), each to its own digest', async () => {
    const provider = new AwsEcrProvider(SIM_DEPS);
    const refs = await Promise.all(Array.from({ length: 250 }, (_, i) => provider.resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag: benchTag(i) } })));
    expect(await describeImagesCalls()).toBe(3);
    expect(refs.map((r) => r[0]!.tags)).toEqual(Array.from({ length: 250 }, (_, i) => [benchTag(i)]));
    expect(new Set(refs.map((r) => r[0]!.digest)).size).toBe(250);
    // The same answers one call at a time: batching changes the calls, never the result.
    const alone = await new AwsEcrProvider(SIM_DEPS).resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag: benchTag(7) } });
    expect(alone[0]!.digest).toBe(refs[7]![0]!.digest);
  });

  it('asks a repeated tag once and answers every scan asking for it', async () => {
    const provider = new AwsEcrProvider(SIM_DEPS);
    const refs = await Promise.all([0, 1, 0, 0].map((i) => provider.resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag: benchTag(i) } })));
    expect(await describeImagesCalls()).toBe(1);
    expect(refs[2]![0]!.digest).toBe(refs[0]![0]!.digest);
    expect(refs[1]![0]!.digest).not.toBe(refs[0]![0]!.digest);
  });

  it('gives a missing tag its own ImageNotFound while the other scans of the batch resolve', async () => {
    const provider = new AwsEcrProvider(SIM_DEPS);
    const results = await Promise.allSettled(
      [benchTag(1), 'no-such-tag', benchTag(2)].map((imageTag) => provider.resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag } })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'terminal', code: 'ImageNotFoundException', reason: 'image_not_found' });
    // The batch failed as a whole (as ECR fails it), then each id went alone: 1 + 3 calls.
    expect(await describeImagesCalls()).toBe(4);
  });

  it('keeps repositories apart and rejects a tag whose digest is not the one asked for', async () => {
    const provider = new AwsEcrProvider(SIM_DEPS);
    const [bench, other] = await Promise.all([
      provider.resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag: benchTag(3) } }),
      provider.resolveImages(account, { repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } }),
    ]);
    expect(bench[0]!.repository).toBe('bench/images');
    expect(other[0]!.repository).toBe('scanq/api');
    expect(await describeImagesCalls()).toBe(2);
    const wrongDigest = `sha256:${'f'.repeat(64)}`;
    const settled = await Promise.allSettled([
      provider.resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag: benchTag(4), imageDigest: wrongDigest } }),
      provider.resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag: benchTag(5) } }),
    ]);
    expect(settled[0]).toMatchObject({ status: 'rejected', reason: { code: 'ImageNotFoundException' } });
    expect(settled[1]!.status).toBe('fulfilled');
  });

  it('hands a throttled batch call to every scan in it as retryable, without asking again one by one', async () => {
    await fetch(`${sim.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cloud: 'aws', api: 'DescribeImages', kind: 'throttle', count: 1 }) });
    const provider = new AwsEcrProvider(SIM_DEPS);
    const results = await Promise.allSettled([1, 2, 3].map((i) => provider.resolveImages(account, { repositoryName: 'bench/images', imageId: { imageTag: benchTag(i) } })));
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { kind: 'retryable', code: 'ThrottlingException' } });
    expect(await describeImagesCalls()).toBe(1);
  });

  it('lists the named repositories that exist when others of the selection do not (ECR fails such a call whole)', async () => {
    const provider = new AwsEcrProvider(SIM_DEPS);
    const listed: string[] = [];
    for await (const page of provider.listImages(account, { repositories: ['scanq/web', 'scanq/typo', 'library/nginx'] })) listed.push(...page.map((i) => i.repository));
    expect(new Set(listed)).toEqual(new Set(['scanq/web', 'library/nginx']));
    // One call for the batch, then one per name once it failed.
    expect((await simulatorCalls(sim.url)).totals['aws:DescribeRepositories']).toBe(4);
    const none: unknown[] = [];
    for await (const page of provider.listImages(account, { repositories: ['scanq/typo'] })) none.push(...page);
    expect(none).toEqual([]);
  });
});
