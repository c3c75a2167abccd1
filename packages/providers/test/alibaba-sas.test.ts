import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlibabaSasFrontEnd } from '../../../apps/simulator/src/alibaba/index.js';
import { type RunningSimulator, startSimulator } from '../../../apps/simulator/src/core/server.js';
import {
  alibabaErrorToProviderError,
  AlibabaSasProvider,
  imageOutcome,
  instanceCriteria,
  mapSasNecessity,
  matchesTarget,
  normalizeVulRecord,
  parseCount,
  parseInstance,
  parseMillis,
  SCA_STATUSES,
  taskParams,
} from '../src/alibaba/index.js';
import type { ProviderAccount } from '../src/contract.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';

const SIM = SIMULATOR_ACCOUNTS.alibaba[0];
const DIGEST = 'a'.repeat(64);

describe('Alibaba SAS adapter: request building and mapping', () => {
  it('joins every filter the way the task APIs expect, digests as bare hex', () => {
    expect(
      taskParams({
        registryTypes: ['acr', 'harbor'],
        regionIds: ['cn-hangzhou', 'cn-shanghai'],
        instanceIds: ['cri-1', 'cri-2'],
        repoNamespaces: ['ns1'],
        repoIds: ['crr-1'],
        repoNames: ['nginx', 'redis'],
        digests: [`sha256:${DIGEST}`, 'B'.repeat(64)],
        tags: ['latest', '1.0'],
      }),
    ).toEqual({
      RegistryTypes: 'acr,harbor',
      RegionIds: 'cn-hangzhou,cn-shanghai',
      InstanceIds: 'cri-1,cri-2',
      RepoNamespaces: 'ns1',
      RepoIds: 'crr-1',
      RepoNames: 'nginx,redis',
      Digests: `${DIGEST},${'b'.repeat(64)}`,
      Tags: 'latest,1.0',
    });
    expect(taskParams({})).toEqual({});
  });

  it('builds Criteria from single-valued filters with documented names, AND-joined; the rest is matched exactly', () => {
    const target = { registryTypes: ['acr' as const], instanceIds: ['cri-1'], repoNames: ['nginx'], tags: ['latest', 'stable'], digests: [`sha256:${DIGEST}`] };
    const { Criteria, LogicalExp } = instanceCriteria(target);
    expect(LogicalExp).toBe('AND');
    expect(JSON.parse(Criteria!)).toEqual([
      { name: 'registryType', value: 'acr', logicalExp: 'AND' },
      { name: 'instanceId', value: 'cri-1', logicalExp: 'AND' },
      { name: 'digest', value: DIGEST, logicalExp: 'AND' },
    ]);
    expect(instanceCriteria({})).toEqual({ LogicalExp: 'AND' });
    const item = { RegistryType: 'acr', InstanceId: 'cri-1', RepoName: 'nginx', Tag: 'stable', Digest: DIGEST };
    expect(matchesTarget(target, item)).toBe(true);
    // Criteria match loosely (substring); the exact match rejects near misses.
    expect(matchesTarget(target, { ...item, RepoName: 'nginx-proxy' })).toBe(false);
    expect(matchesTarget(target, { ...item, Tag: 'latest-rc' })).toBe(false);
    expect(matchesTarget(target, { ...item, Tag: 'latest' })).toBe(true);
  });

  it('maps all 14 ScaStatus values and the ScaResult codes', () => {
    expect(SCA_STATUSES).toHaveLength(14);
    const running = SCA_STATUSES.filter((s) => !['SUCCESS', 'FAIL', 'TIMEOUT'].includes(s));
    for (const s of running) expect(imageOutcome(s, '')).toEqual({ state: 'scanning' });
    expect(imageOutcome('SUCCESS', '')).toEqual({ state: 'succeeded' });
    expect(imageOutcome('FAIL', '')).toMatchObject({ state: 'failed', reason: 'scan_failed' });
    expect(imageOutcome('TIMEOUT', '')).toMatchObject({ state: 'failed', reason: 'timed_out' });
    expect(imageOutcome('SUCCESS', 'TASK_NOT_SUPPORT_REGION')).toMatchObject({ state: 'failed', reason: 'unsupported_region' });
    expect(imageOutcome('', 'TASK_NOT_EXISTS')).toMatchObject({ state: 'failed', reason: 'scan_not_found' });
    expect(imageOutcome('START', 'TASK_NOT_EXISTS')).toMatchObject({ state: 'scanning' });
    expect(imageOutcome('DOWNLOAD', 'forbid_create_repeat_task')).toMatchObject({ state: 'scanning' });
    expect(imageOutcome('SUCCESS', 'forbid_create_repeat_task')).toMatchObject({ state: 'succeeded' });
    expect(imageOutcome('SOME_NEW_STAGE', '')).toMatchObject({ state: 'scanning' });
  });

  it('parses the numbers SAS sends as strings instead of trusting them', () => {
    expect(parseCount('1604487690')).toBe(1_604_487_690);
    expect(parseCount(42)).toBe(42);
    for (const bad of ['12abc', '', ' ', '-5', '1e3', '0x10', '99999999999999999', 1.5, -1, null, undefined, {}]) expect(parseCount(bad)).toBeNull();
    expect(parseMillis('1600069948849')?.toISOString()).toBe('2020-09-14T07:52:28.849Z');
    expect(parseMillis('0')).toBeNull();
    expect(parseMillis('1600069948')).toBeNull(); // seconds, not milliseconds
    const parsed = parseInstance({ Uuid: 'u', Digest: DIGEST, ImageSize: 'n/a', ImageCreate: '1600069948849', ImageUpdate: 'soon', ScaProgress: 250 });
    expect(parsed).toMatchObject({ imageSize: null, imageUpdatedAt: null, scaProgress: 100 });
    expect(parsed.imageCreatedAt?.getTime()).toBe(1_600_069_948_849);
  });

  it('normalizes a DescribeImageVulList record (Necessity → severity) and keeps it raw', () => {
    expect([mapSasNecessity('asap'), mapSasNecessity('later'), mapSasNecessity('nntf'), mapSasNecessity('ASAP'), mapSasNecessity(undefined)]).toEqual(['HIGH', 'MEDIUM', 'LOW', 'HIGH', 'UNKNOWN']);
    const record = {
      Name: 'debian:10:CVE-2019-9893',
      AliasName: 'CVE-2019-9893: libseccomp2 incorrect handling',
      Related: 'CVE-2019-9893',
      Necessity: 'asap',
      ExtendContentJson: JSON.stringify({ RpmEntityList: [{ Name: 'libseccomp2', Version: '2.3.3-4', FullVersion: '2.3.3-4', MatchDetail: 'libseccomp2 version less than 2.4.1-1' }] }),
    };
    expect(normalizeVulRecord(record)).toEqual({
      vulnerabilityId: 'CVE-2019-9893',
      severity: 'HIGH',
      providerSeverity: 'asap',
      packageName: 'libseccomp2',
      installedVersion: '2.3.3-4',
      fixedVersion: '2.4.1-1',
      title: 'CVE-2019-9893: libseccomp2 incorrect handling',
      link: 'https://nvd.nist.gov/vuln/detail/CVE-2019-9893',
      links: ['https://nvd.nist.gov/vuln/detail/CVE-2019-9893'],
      score: null,
      cvssVector: null,
      providerVulnerabilityId: 'debian:10:CVE-2019-9893',
      raw: record,
    });
    expect(normalizeVulRecord({ Name: 'app:lodash:sca-1', Necessity: 'odd' })).toMatchObject({ vulnerabilityId: 'app:lodash:sca-1', severity: 'UNKNOWN', fixedVersion: null });
  });

  it('classifies the seed\'s error codes and transport failures', () => {
    const sdk = (code: string, statusCode: number) => ({ code, data: { Code: code, Message: 'm', RequestId: 'r', statusCode } });
    expect(alibabaErrorToProviderError(sdk('BeyondQuata', 400))).toMatchObject({ kind: 'quota', code: 'BeyondQuata' });
    expect(alibabaErrorToProviderError(sdk('TaskNumEmpty', 400))).toMatchObject({ kind: 'terminal', reason: 'no_images_matched' });
    expect(alibabaErrorToProviderError(sdk('NoPermission', 403))).toMatchObject({ kind: 'terminal', reason: 'no_permission' });
    expect(alibabaErrorToProviderError(sdk('ServerError', 500))).toMatchObject({ kind: 'retryable' });
    expect(alibabaErrorToProviderError(sdk('Throttling.User', 400))).toMatchObject({ kind: 'retryable' });
    expect(alibabaErrorToProviderError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toMatchObject({ kind: 'retryable' });
  });
});

describe('Alibaba SAS adapter against the simulator (openapi-client)', () => {
  let sim: RunningSimulator;
  let account: ProviderAccount;
  beforeAll(async () => {
    sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: [createAlibabaSasFrontEnd({ SIM_ALIBABA_SCAN_MS: '60000' })] });
    account = { id: 'a1', provider: 'alibaba', name: SIM.name, region: SIM.region, endpoint: sim.url, settings: {}, credentials: { accessKeyId: SIM.accessKeyId, accessKeySecret: SIM.accessKeySecret } };
  });
  afterAll(() => sim?.close());
  const listings = async () => (await simulatorCalls(sim.url)).totals['alibaba:DescribeImageInstances'] ?? 0;

  it('reads every page (PageSize, CurrentPage, TotalCount) and returns each matching image once', async () => {
    const all = await new AlibabaSasProvider(SIM_DEPS, { instancesPageSize: 100 }).resolveImages(account, {});
    const before = await listings();
    const paged = await new AlibabaSasProvider(SIM_DEPS, { instancesPageSize: 7 }).resolveImages(account, {});
    expect(await listings()).toBe(before + Math.ceil(all.length / 7));
    expect(paged.map((i) => i.providerImageId)).toEqual(all.map((i) => i.providerImageId));
    expect(new Set(paged.map((i) => i.providerImageId)).size).toBe(paged.length);

    // Filters narrow the same listing to exactly the images they name.
    const acr = all.filter((i) => i.registry.startsWith('acr:'));
    const oneInstance = acr[0]!.registry.split(':')[2]!;
    const filtered = await new AlibabaSasProvider(SIM_DEPS, { instancesPageSize: 7 }).resolveImages(account, { registryTypes: ['acr'], instanceIds: [oneInstance] });
    expect(filtered.map((i) => i.providerImageId).sort()).toEqual(acr.filter((i) => i.registry.endsWith(`:${oneInstance}`)).map((i) => i.providerImageId).sort());
  });

  it('looks up a task of 100 images by digest in one DescribeImageInstances call: the OR-joined Criteria rides in the signed form body', async () => {
    const all = await new AlibabaSasProvider(SIM_DEPS).resolveImages(account, {});
    const digests = [...new Set(all.map((i) => i.digest).filter((d): d is string => !!d))].slice(0, 100);
    expect(digests).toHaveLength(100);
    const wanted = new Set(digests);
    const images = all.filter((i) => i.digest && wanted.has(i.digest));
    const before = await listings();
    // A 100-digest Criteria is about 13 KB URL-encoded: in the query it would make a URL past
    // common gateway limits; in the body it is signed through ACS3's payload hash.
    const progress = await new AlibabaSasProvider(SIM_DEPS).pollScan(account, { taskId: 't-1', target: { digests }, images });
    expect(progress.images).toHaveLength(images.length);
    expect(progress.images.filter((p) => p.reason === 'image_not_found')).toHaveLength(0);
    expect((await listings()) - before).toBe(Math.ceil(images.length / 100));
    // An account that keeps Criteria in the query: 50 digests a call, so two calls.
    const inQuery = await listings();
    await new AlibabaSasProvider(SIM_DEPS).pollScan({ ...account, settings: { criteriaInQuery: true } }, { taskId: 't-1', target: { digests }, images });
    expect((await listings()) - inQuery).toBe(2);
  });

  it('turns TaskNumEmpty from the cloud into a terminal no_images_matched without creating a task', async () => {
    await expect(new AlibabaSasProvider(SIM_DEPS).startScan(account, { tags: ['no-such-tag'] })).rejects.toMatchObject({ kind: 'terminal', code: 'TaskNumEmpty', reason: 'no_images_matched' });
  });
});
