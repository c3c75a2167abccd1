import { createHmac, randomUUID } from 'node:crypto';
import OpenApi, * as $OpenApi from '@alicloud/openapi-client';
import OpenApiUtil from '@alicloud/openapi-util';
import * as $Util from '@alicloud/tea-util';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAlibabaSasFrontEnd } from '../src/alibaba/index.js';
import { type RunningSimulator, startSimulator } from '../src/core/server.js';

// The SDK packages are CommonJS with `exports.default`: TypeScript (NodeNext) sees the module
// object, vitest's interop hands over the class itself. Accept both.
type ClientClass = typeof OpenApi.default;
type OpenApiClient = InstanceType<ClientClass>;
const Client: ClientClass = (OpenApi as { default?: ClientClass }).default ?? (OpenApi as unknown as ClientClass);
type UtilClass = typeof OpenApiUtil.default;
const openApiUtil: UtilClass = (OpenApiUtil as { default?: UtilClass }).default ?? (OpenApiUtil as unknown as UtilClass);

const [ACCOUNT, ACCOUNT_2] = SIMULATOR_ACCOUNTS.alibaba;
const VERSION = '2018-12-03';

interface StateImage {
  uuid: string;
  digest: string;
  tag: string;
  repoId: string;
  repoName: string;
  repoNamespace: string;
  registryType: string;
  instanceId: string;
  regionId: string;
  supportedRegion: boolean;
  behaviour: 'normal' | 'scan-fail' | 'scan-timeout';
  previousScanAt?: number;
  findings: number;
  potentialFindings: number;
}
interface StateAccount {
  name: string;
  authorizationsRemaining: number;
  beyondQuataCount: number;
  runningTaskCount: number;
  images: StateImage[];
}
interface SdkError {
  code: string;
  statusCode: number;
  message: string;
  data: Record<string, unknown>;
}
type Body = Record<string, unknown>;

let sim: RunningSimulator;
let port: string;

beforeAll(async () => {
  sim = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    seed: 'test',
    frontEnds: [createAlibabaSasFrontEnd({ SIM_ALIBABA_SCAN_MS: '60000' })],
  });
  port = new URL(sim.url).port;
});
afterAll(() => sim.close());
beforeEach(async () => {
  await control('POST', '/_sim/reset', {});
});

async function control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Body> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Body;
}

async function accountState(name: string = ACCOUNT.name): Promise<StateAccount> {
  const state = (await control('GET', '/_sim/state/alibaba')) as { accounts: StateAccount[] };
  const account = state.accounts.find((a) => a.name === name);
  if (!account) throw new Error(`no account ${name}`);
  return account;
}

const advanceClock = (ms: number) => control('POST', '/_sim/clock', { advanceMs: ms });

function client(opts: { v2?: boolean; accessKeyId?: string; accessKeySecret?: string } = {}): OpenApiClient {
  return new Client(
    new $OpenApi.Config({
      accessKeyId: opts.accessKeyId ?? ACCOUNT.accessKeyId,
      accessKeySecret: opts.accessKeySecret ?? ACCOUNT.accessKeySecret,
      endpoint: `127.0.0.1:${port}`,
      protocol: 'http',
      ...(opts.v2 ? { signatureAlgorithm: 'v2' } : {}),
    }),
  );
}

/** Calls a SAS action the way the generated SDK does (GoSAS `*WithOptions`). */
async function call(c: OpenApiClient, action: string, query: Record<string, unknown> = {}, version = VERSION): Promise<Body> {
  const params = new $OpenApi.Params({
    action,
    version,
    protocol: 'HTTPS',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  const request = new $OpenApi.OpenApiRequest({ query: openApiUtil.query(query) });
  const res = await c.callApi(params, request, new $Util.RuntimeOptions({}));
  expect(res.statusCode).toBe(200);
  return res.body as Body;
}

async function callError(c: OpenApiClient, action: string, query: Record<string, unknown> = {}, version = VERSION): Promise<SdkError> {
  try {
    await call(c, action, query, version);
  } catch (err) {
    return err as SdkError;
  }
  throw new Error(`${action} unexpectedly succeeded`);
}

type Instance = Record<string, unknown> & { Uuid: string; ScaStatus: string; ScaProgress: number; ScaResult: string };

async function instancesByUuid(c: OpenApiClient, uuids: readonly string[]): Promise<Map<string, Instance>> {
  const all = new Map<string, Instance>();
  for (let page = 1; ; page++) {
    const body = await call(c, 'DescribeImageInstances', { CurrentPage: page, PageSize: 100 });
    const list = body.ImageInstanceList as Instance[];
    for (const item of list) if (uuids.includes(item.Uuid)) all.set(item.Uuid, item);
    if (list.length < 100) return all;
  }
}

/** The home ACR instance's images in one namespace: a realistic, multi-image filter. */
function homeNamespaceImages(images: StateImage[]): { instanceId: string; namespace: string; matched: StateImage[] } {
  const home = images.find((i) => i.registryType === 'acr' && i.behaviour === 'normal' && i.supportedRegion);
  if (!home) throw new Error('no home ACR image');
  const matched = images.filter(
    (i) => i.instanceId === home.instanceId && i.repoNamespace === home.repoNamespace && i.behaviour === 'normal',
  );
  return { instanceId: home.instanceId, namespace: home.repoNamespace, matched };
}

describe.each([
  ['ACS3-HMAC-SHA256 (default)', false],
  ['HMAC-SHA1 (signatureAlgorithm v2)', true],
])('SAS image scans signed with %s', (_name, v2) => {
  it('pre-checks and creates a task over exactly the images the filters match', async () => {
    const c = client({ v2 });
    const { images } = await accountState();
    const { instanceId, namespace, matched } = homeNamespaceImages(images);
    expect(matched.length).toBeGreaterThan(1);
    const filters = { InstanceIds: instanceId, RepoNamespaces: `${namespace},no-such-namespace`, RegistryTypes: 'acr' };

    const pre = (await call(c, 'PublicPreCheckImageScanTask', filters)).Data as Body;
    expect(pre.NeedAuthCount).toBe(matched.length);
    // Pre-scanned digests were already paid for; the rest each need one authorization.
    expect(pre.ScanImageCount).toBe(matched.filter((i) => !i.previousScanAt).length);

    const created = await call(c, 'PublicCreateImageScanTask', filters);
    expect(created.RequestId).toMatch(/^[0-9A-F-]{36}$/);
    const data = created.Data as Body;
    expect(data).toMatchObject({ TotalCount: matched.length, FinishCount: 0, Status: 'INIT', Progress: 0, Result: 'SUCCESS', CanCreate: true });
    expect(data.TaskId).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof data.CollectTime).toBe('number');
    expect(typeof data.ExecTime).toBe('number');

    const uuids = matched.map((i) => i.uuid);
    const seen = await instancesByUuid(c, images.map((i) => i.uuid));
    for (const image of images) {
      const item = seen.get(image.uuid);
      expect(item).toBeDefined();
      if (uuids.includes(image.uuid)) expect(item?.ScaStatus).toBe('INIT');
      else expect(item?.ScaStatus).not.toBe('INIT');
    }
    expect((await accountState()).authorizationsRemaining).toBe(100_000 - (pre.ScanImageCount as number));
  });

  it('moves each image through the ScaStatus stages to SUCCESS, then lists its findings', async () => {
    const c = client({ v2 });
    const { images } = await accountState();
    const target = images.find((i) => i.behaviour === 'normal' && i.supportedRegion && !i.previousScanAt && i.potentialFindings > 0);
    if (!target) throw new Error('no unscanned image with findings');
    await call(c, 'PublicCreateImageScanTask', { Digests: `sha256:${target.digest}` });
    const criteria = JSON.stringify([{ name: 'digest', value: target.digest, logicalExp: 'AND' }]);
    const describe = async () => {
      const body = await call(c, 'DescribeImageInstances', { Criteria: criteria });
      expect((body.PageInfo as Body).TotalCount).toBe(1);
      return (body.ImageInstanceList as Instance[])[0] as Instance;
    };

    const first = await describe();
    expect(first).toMatchObject({ ScaStatus: 'INIT', ScaProgress: 0, VulCount: 0, VulStatus: 'NO', LastScanTime: 0 });
    await expect(call(c, 'DescribeImageVulList', { Type: 'cve', Uuids: target.uuid })).resolves.toMatchObject({ TotalCount: 0 });

    const stages: string[] = [first.ScaStatus];
    for (let i = 0; i < 14; i++) {
      await advanceClock(5_000);
      const item = await describe();
      stages.push(item.ScaStatus);
      expect(item.ScaProgress).toBeGreaterThanOrEqual(0);
      expect(item.ScaProgress).toBeLessThanOrEqual(100);
    }
    const order = ['INIT', 'START', 'MESSAGE_SEND', 'START_RUN', 'DOWNLOAD', 'PRE_ANALYZER', 'WEB_SHELL_ANALYZER', 'CVE_ANALYZER', 'BIN_ANALYZER', 'OTHER_ANALYZER', 'SUCCESS'];
    const ranks = stages.map((s) => order.indexOf(s));
    expect(ranks.every((r) => r >= 0)).toBe(true);
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks); // never goes backwards
    expect(new Set(stages).size).toBeGreaterThan(3);

    const done = await describe();
    expect(done).toMatchObject({ ScaStatus: 'SUCCESS', ScaProgress: 100, ScaResult: '', VulStatus: 'YES', VulCount: target.potentialFindings });
    expect(done.LastScanTime as number).toBeGreaterThan(0);
    // Strings in the real API, not numbers.
    expect(typeof done.ImageSize).toBe('string');
    expect(typeof done.ImageCreate).toBe('string');
    expect(typeof done.ImageUpdate).toBe('string');

    const vulns = await call(c, 'DescribeImageVulList', { Type: 'cve', Uuids: target.uuid, PageSize: 100 });
    expect(vulns.TotalCount).toBe(target.potentialFindings);
  });
});

/** The 14 ScaStatus values DescribeImageInstances documents (provider-docs/alibaba-sas-DescribeImageInstances.txt). */
const SCA_STATUSES = [
  'INIT', 'START', 'MESSAGE_SEND', 'START_RUN', 'DOWNLOAD', 'PRE_ANALYZER', 'WEB_SHELL_ANALYZER', 'CVE_ANALYZER',
  'BIN_ANALYZER', 'OTHER_ANALYZER', 'SUCCESS', 'PRE_ANALYZER_SUCCESS', 'FAIL', 'TIMEOUT',
];

describe('DescribeImageInstances', () => {
  it('pages add up to TotalCount with every image exactly once and every field of the seed', async () => {
    const c = client();
    const { images } = await accountState();
    const uuids: string[] = [];
    let totalCount = -1;
    for (let page = 1; page < 100; page++) {
      const body = await call(c, 'DescribeImageInstances', { CurrentPage: page, PageSize: 7 });
      const info = body.PageInfo as Body;
      const list = body.ImageInstanceList as Instance[];
      expect(info).toMatchObject({ CurrentPage: page, PageSize: 7, Count: list.length });
      totalCount = info.TotalCount as number;
      uuids.push(...list.map((i) => i.Uuid));
      if (list.length === 0) break;
    }
    expect(totalCount).toBe(images.length);
    expect(uuids).toHaveLength(totalCount);
    expect(new Set(uuids).size).toBe(totalCount);

    const all = (await call(c, 'DescribeImageInstances', { PageSize: 100 })).ImageInstanceList as Instance[];
    // Only the 14 documented ScaStatus values; a never-scanned image leaves the field out (no "").
    for (const item of all) {
      if ('ScaStatus' in item) expect(SCA_STATUSES).toContain(item.ScaStatus);
      else expect(item).toMatchObject({ ScaResult: 'TASK_NOT_EXISTS', LastScanTime: 0 });
    }
    expect(all.some((i) => !('ScaStatus' in i))).toBe(true);
    const first = all.find((i) => 'ScaStatus' in i);
    expect(Object.keys(first ?? {}).sort()).toEqual(
      [
        'Status', 'Digest', 'RegistryType', 'Tag', 'ImageUpdate', 'RepoType', 'ImageSize', 'HcStatus', 'VulCount', 'ImageId',
        'Endpoints', 'RiskStatus', 'ImageCreate', 'VulStatus', 'AlarmStatus', 'ScaProgress', 'InstanceId', 'RegionId',
        'ScaStatus', 'Uuid', 'RepoId', 'HcCount', 'ScaResult', 'RepoName', 'AlarmCount', 'RepoNamespace', 'Deployed',
        'LastScanTime',
      ].sort(),
    );
    const defaults = (await call(c, 'DescribeImageInstances', {})).PageInfo as Body;
    expect(defaults).toMatchObject({ CurrentPage: 1, PageSize: 20, Count: 20 });
  });

  it('filters by Criteria (AND/OR) and Scanned', async () => {
    const c = client();
    const { images } = await accountState();
    const { instanceId, matched } = homeNamespaceImages(images);
    const onInstance = images.filter((i) => i.instanceId === instanceId);
    const harbor = images.filter((i) => i.registryType === 'harbor');
    const body = await call(c, 'DescribeImageInstances', {
      Criteria: JSON.stringify([{ name: 'instanceId', value: instanceId, logicalExp: 'AND' }]),
    });
    expect((body.PageInfo as Body).TotalCount).toBe(onInstance.length);

    const both = await call(c, 'DescribeImageInstances', {
      Criteria: JSON.stringify([
        { name: 'instanceId', value: instanceId },
        { name: 'registryType', value: 'harbor' },
      ]),
      LogicalExp: 'OR',
      PageSize: 200,
    });
    expect((both.PageInfo as Body).TotalCount).toBe(onInstance.length + harbor.length);

    const scanned = await call(c, 'DescribeImageInstances', { Scanned: true, PageSize: 200 });
    expect((scanned.PageInfo as Body).TotalCount).toBe(images.filter((i) => i.previousScanAt).length);
    expect(matched.length).toBeGreaterThan(0);

    const bad = await callError(c, 'DescribeImageInstances', { Criteria: 'not json' });
    expect(bad).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
  });
});

describe('scan task rules', () => {
  it('allows 10 running tasks, answers the 11th with BeyondQuata, and frees a slot when a task completes', async () => {
    const c = client();
    const { images } = await accountState();
    const normal = images.filter((i) => i.behaviour === 'normal' && i.supportedRegion);
    const answers: Body[] = [];
    for (let i = 0; i < 10; i++) answers.push((await call(c, 'PublicCreateImageScanTask', { Digests: normal[i]?.digest })).Data as Body);
    expect(answers.slice(0, 9).every((d) => d.CanCreate === true)).toBe(true);
    expect(answers[9]?.CanCreate).toBe(false);

    const err = await callError(c, 'PublicCreateImageScanTask', { Digests: normal[10]?.digest });
    expect(err.code).toBe('BeyondQuata');
    expect(err.statusCode).toBe(400);
    expect(err.data).toMatchObject({ Code: 'BeyondQuata', Message: 'Please check the scan quota', statusCode: 400 });
    expect(err.data.RequestId).toEqual(expect.any(String));
    expect(err.message).toContain('Please check the scan quota');

    // The other account has its own ten slots.
    const other = client({ accessKeyId: ACCOUNT_2.accessKeyId, accessKeySecret: ACCOUNT_2.accessKeySecret });
    const otherImages = (await accountState(ACCOUNT_2.name)).images.filter((i) => i.behaviour === 'normal' && i.supportedRegion);
    await expect(call(other, 'PublicCreateImageScanTask', { Digests: otherImages[0]?.digest })).resolves.toMatchObject({
      Data: { CanCreate: true },
    });

    await advanceClock(61_000);
    const again = (await call(c, 'PublicCreateImageScanTask', { Digests: normal[10]?.digest })).Data as Body;
    expect(again.CanCreate).toBe(true);

    const state = await accountState();
    expect(state.beyondQuataCount).toBe(1);
    expect(state.runningTaskCount).toBe(1);
    const gauges = ((await control('GET', '/_sim/calls')) as { gauges: Record<string, { current: number; max: number }> }).gauges;
    expect(gauges[`alibaba:${ACCOUNT.name}:runningTasks`]).toEqual({ current: 1, max: 10 });
  });

  it('answers TaskNumEmpty when the filters match no image', async () => {
    const err = await callError(client(), 'PublicCreateImageScanTask', { RepoNames: 'no-such-repo' });
    expect(err).toMatchObject({ code: 'TaskNumEmpty', statusCode: 400 });
    expect(err.data.Message).toBe('Create task quantity is empty.');
  });

  it('reports unsupported regions, repeated scans and the seeded failing images per image', async () => {
    const c = client();
    const { images } = await accountState();
    const unsupported = images.find((i) => !i.supportedRegion);
    const fail = images.find((i) => i.behaviour === 'scan-fail');
    const timeout = images.find((i) => i.behaviour === 'scan-timeout');
    const normal = images.find((i) => i.behaviour === 'normal' && i.supportedRegion);
    if (!unsupported || !fail || !timeout || !normal) throw new Error('seed lacks special images');
    expect(unsupported.regionId).toBe('me-east-1');

    const onlyUnsupported = (await call(c, 'PublicCreateImageScanTask', { Digests: unsupported.digest })).Data as Body;
    expect(onlyUnsupported).toMatchObject({ Result: 'TASK_NOT_SUPPORT_REGION', FinishCount: 1, TotalCount: 1, Status: 'SUCCESS' });

    await call(c, 'PublicCreateImageScanTask', { Digests: [fail.digest, timeout.digest, normal.digest].join(',') });
    const repeat = (await call(c, 'PublicCreateImageScanTask', { Digests: normal.digest })).Data as Body;
    expect(repeat).toMatchObject({ TotalCount: 1, FinishCount: 1 });

    const uuids = [unsupported.uuid, fail.uuid, timeout.uuid, normal.uuid];
    let seen = await instancesByUuid(c, uuids);
    expect(seen.get(unsupported.uuid)).toMatchObject({ ScaResult: 'TASK_NOT_SUPPORT_REGION' });
    expect(seen.get(normal.uuid)).toMatchObject({ ScaStatus: 'INIT', ScaResult: 'forbid_create_repeat_task' });

    await advanceClock(30_000);
    seen = await instancesByUuid(c, uuids);
    expect(seen.get(fail.uuid)?.ScaStatus).toBe('PRE_ANALYZER');
    expect(seen.get(timeout.uuid)?.ScaStatus).toBe('DOWNLOAD');

    await advanceClock(31_000);
    seen = await instancesByUuid(c, uuids);
    expect(seen.get(fail.uuid)?.ScaStatus).toBe('FAIL');
    expect(seen.get(timeout.uuid)?.ScaStatus).toBe('TIMEOUT');
    expect(seen.get(normal.uuid)).toMatchObject({ ScaStatus: 'SUCCESS', ScaResult: '' });
    const failedVulns = await call(c, 'DescribeImageVulList', { Type: 'cve', Uuids: `${fail.uuid},${timeout.uuid}` });
    expect(failedVulns.TotalCount).toBe(0);
    expect((await accountState()).runningTaskCount).toBe(0);

    const latest = await call(c, 'DescribeImageLatestScanTask', { Digest: timeout.digest });
    expect(latest.Task).toEqual([expect.objectContaining({ Status: 'TIMOUT', TaskType: 'IMAGE_SCAN', Target: timeout.digest })]);
  });

  it('fails images beyond the remaining authorizations', async () => {
    const c = client();
    await control('POST', '/_sim/config/alibaba', { authorizations: { [ACCOUNT.name]: 1 } });
    const { images } = await accountState();
    const unscanned = images.filter((i) => i.behaviour === 'normal' && i.supportedRegion && !i.previousScanAt).slice(0, 3);
    const digests = unscanned.map((i) => i.digest).join(',');
    const pre = (await call(c, 'PublicPreCheckImageScanTask', { Digests: digests })).Data as Body;
    expect(pre).toEqual({ NeedAuthCount: 3, ScanImageCount: 3 });

    const data = (await call(c, 'PublicCreateImageScanTask', { Digests: digests })).Data as Body;
    expect(data).toMatchObject({ TotalCount: 3, FinishCount: 2 });
    const seen = await instancesByUuid(c, unscanned.map((i) => i.uuid));
    expect(unscanned.map((i) => seen.get(i.uuid)?.ScaStatus)).toEqual(['INIT', 'FAIL', 'FAIL']);
    expect((await accountState()).authorizationsRemaining).toBe(0);
  });

  it('reports authorizations used and left (DescribeImageScanAuthCount), which a task consumes', async () => {
    const c = client();
    await control('POST', '/_sim/config/alibaba', { authorizations: { [ACCOUNT.name]: 5 } });
    const before = (await call(c, 'DescribeImageScanAuthCount')).ImageScan as Body;
    expect(before).toMatchObject({ ScanCount: 0, ImageScanCapacity: 5 });
    expect(before.InstanceId).toEqual(expect.any(String));
    const { images } = await accountState();
    const unscanned = images.filter((i) => i.behaviour === 'normal' && i.supportedRegion && !i.previousScanAt).slice(0, 2);
    const digests = unscanned.map((i) => i.digest).join(',');
    expect(((await call(c, 'PublicPreCheckImageScanTask', { Digests: digests })).Data as Body).ScanImageCount).toBe(2);
    await call(c, 'PublicCreateImageScanTask', { Digests: digests });
    expect((await call(c, 'DescribeImageScanAuthCount')).ImageScan).toMatchObject({ ScanCount: 2, ImageScanCapacity: 5 });
  });

  it('scans every image in exactly the configured time when the spread is 0', async () => {
    const c = client();
    await control('POST', '/_sim/config/alibaba', { scanDurationMs: 10_000, scanSpreadPercent: 0 });
    const { images } = await accountState();
    const normal = images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).slice(0, 4);
    await call(c, 'PublicCreateImageScanTask', { Digests: normal.map((i) => i.digest).join(',') });
    // The simulator clock also runs in real time: margins of 1 s either side of 10 s.
    await advanceClock(9_000);
    let seen = await instancesByUuid(c, normal.map((i) => i.uuid));
    expect(normal.every((i) => seen.get(i.uuid)?.ScaStatus !== 'SUCCESS')).toBe(true);
    expect((await accountState()).runningTaskCount).toBe(1);
    expect(normal.every((i) => (seen.get(i.uuid)?.ScaProgress ?? 0) >= 85)).toBe(true); // all at the same point
    await advanceClock(2_000);
    seen = await instancesByUuid(c, normal.map((i) => i.uuid));
    expect(normal.map((i) => seen.get(i.uuid)?.ScaStatus)).toEqual(normal.map(() => 'SUCCESS'));
    expect((await accountState()).runningTaskCount).toBe(0);
  });

  it('answers NoPermission for a caller without RAM permission', async () => {
    await control('POST', '/_sim/config/alibaba', { noPermission: { [ACCOUNT_2.name]: ['PublicCreateImageScanTask'] } });
    const c = client({ accessKeyId: ACCOUNT_2.accessKeyId, accessKeySecret: ACCOUNT_2.accessKeySecret, v2: true });
    const err = await callError(c, 'PublicCreateImageScanTask', {});
    expect(err).toMatchObject({ code: 'NoPermission', statusCode: 403 });
    expect(err.data.Message).toBe('caller has no permission');
    await expect(call(c, 'DescribeImageInstances', {})).resolves.toHaveProperty('ImageInstanceList');
    // The first account is unaffected.
    await expect(call(client(), 'PublicPreCheckImageScanTask', {})).resolves.toHaveProperty('Data');
  });

  it('rejects bad runtime options', async () => {
    const res = await fetch(`${sim.url}/_sim/config/alibaba`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ taskLimit: 0 }),
    });
    expect(res.status).toBe(400);
  });
});

describe('DescribeImageVulList', () => {
  it('pages through one image\'s findings and requires Type', async () => {
    const c = client({ v2: true });
    const { images } = await accountState();
    const image = images.find((i) => i.previousScanAt && i.findings > 10);
    if (!image) throw new Error('no pre-scanned image with more than 10 findings');
    const first = await call(c, 'DescribeImageVulList', { Type: 'cve', Uuids: image.uuid });
    expect(first).toMatchObject({ CurrentPage: 1, PageSize: 10, TotalCount: image.findings });

    const names: string[] = [];
    for (let page = 1; page <= Math.ceil(image.findings / 4); page++) {
      const body = await call(c, 'DescribeImageVulList', { Type: 'cve', Uuids: image.uuid, CurrentPage: page, PageSize: 4 });
      for (const r of body.VulRecords as Body[]) {
        expect(['asap', 'later', 'nntf']).toContain(r.Necessity);
        expect(r).toMatchObject({ Type: 'cve', Uuid: image.uuid, ImageDigest: image.digest, RepoName: image.repoName });
        const rpm = (r.ExtendContentJson as { RpmEntityList: Body[] }).RpmEntityList[0];
        expect(rpm).toMatchObject({ Name: expect.any(String), Version: expect.any(String), UpdateCmd: expect.any(String) });
        names.push(r.Name as string);
      }
    }
    expect(names).toHaveLength(image.findings);
    expect(new Set(names).size).toBe(image.findings);

    const asap = await call(c, 'DescribeImageVulList', { Type: 'cve', Uuids: image.uuid, Necessity: 'asap', PageSize: 100 });
    expect((asap.VulRecords as Body[]).every((r) => r.Necessity === 'asap')).toBe(true);

    const err = await callError(c, 'DescribeImageVulList', { Uuids: image.uuid });
    expect(err).toMatchObject({ code: 'MissingType', statusCode: 400 });
  });
});

describe('authentication and faults', () => {
  it('rejects a wrong secret (both signing styles), an unknown key and a wrong Version', async () => {
    for (const v2 of [false, true]) {
      const err = await callError(client({ v2, accessKeySecret: 'not-the-secret' }), 'DescribeImageInstances');
      expect(err).toMatchObject({ code: 'SignatureDoesNotMatch', statusCode: 400 });
    }
    const unknown = await callError(client({ accessKeyId: 'LTAIunknownKey000001' }), 'DescribeImageInstances');
    expect(unknown).toMatchObject({ code: 'InvalidAccessKeyId.NotFound', statusCode: 404 });
    const version = await callError(client(), 'DescribeImageInstances', {}, '2017-01-01');
    expect(version).toMatchObject({ code: 'InvalidVersion', statusCode: 400 });
    const action = await callError(client(), 'DescribeNoSuchThing');
    expect(action).toMatchObject({ code: 'InvalidAction.NotFound', statusCode: 404 });
  });

  it('rejects unsigned, tampered and replayed requests', async () => {
    const post = async (query: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${sim.url}/?${query}`, { method: 'POST', headers });
      return { status: res.status, body: (await res.json()) as Body };
    };
    const unsigned = await post('Action=DescribeImageInstances&Version=2018-12-03');
    expect(unsigned.status).toBe(400);
    expect(unsigned.body).toMatchObject({ Code: 'MissingAccessKeyId', RequestId: expect.any(String), HostId: expect.any(String) });

    const unsignedAcs3 = await post('PageSize=5', {
      'x-acs-action': 'DescribeImageInstances',
      'x-acs-version': VERSION,
      authorization: `ACS3-HMAC-SHA256 Credential=${ACCOUNT.accessKeyId},SignedHeaders=host,Signature=`,
    });
    expect(unsignedAcs3.status).toBe(400);
    expect(unsignedAcs3.body.Code).toBe('IncompleteSignature');

    // A v2 request signed here by hand: accepted once, rejected when replayed or altered.
    const params: Record<string, string> = {
      AccessKeyId: ACCOUNT.accessKeyId,
      Action: 'DescribeImageInstances',
      Format: 'json',
      PageSize: '5',
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: randomUUID(),
      SignatureVersion: '1.0',
      Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      Version: VERSION,
    };
    const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
    const canonical = Object.keys(params).sort().map((k) => `${enc(k)}=${enc(params[k] as string)}`).join('&');
    const signature = createHmac('sha1', `${ACCOUNT.accessKeySecret}&`).update(`POST&%2F&${enc(canonical)}`).digest('base64');
    const signed = `${canonical}&Signature=${enc(signature)}`;
    const ok = await post(signed);
    expect(ok.status).toBe(200);
    expect((ok.body.PageInfo as Body).PageSize).toBe(5);
    const replay = await post(signed);
    expect(replay).toMatchObject({ status: 400, body: { Code: 'SignatureNonceUsed' } });
    const tampered = await post(signed.replace('PageSize=5', 'PageSize=6'));
    expect(tampered).toMatchObject({ status: 400, body: { Code: 'SignatureDoesNotMatch' } });
  });

  it('renders an injected server_error fault as the SDK surfaces ServerError, and throttling as Throttling.User', async () => {
    await control('POST', '/_sim/faults', { cloud: 'alibaba', api: 'PublicCreateImageScanTask', kind: 'server_error', count: 1 });
    const err = await callError(client(), 'PublicCreateImageScanTask', {});
    expect(err.code).toBe('ServerError');
    expect(err.statusCode).toBe(500);
    expect(err.data).toMatchObject({ Code: 'ServerError', Message: 'ServerError', statusCode: 500 });
    expect(err.message).toMatch(/^ServerError: code: 500, ServerError request id: /);
    await expect(call(client(), 'PublicCreateImageScanTask', {})).resolves.toHaveProperty('Data.TaskId');

    await control('POST', '/_sim/faults', { cloud: 'alibaba', api: 'DescribeImageInstances', kind: 'throttle', count: 1 });
    const throttled = await callError(client({ v2: true }), 'DescribeImageInstances', {});
    expect(throttled).toMatchObject({ code: 'Throttling.User', statusCode: 400 });

    const calls = (await control('GET', '/_sim/calls')) as { outcomes: Record<string, number> };
    expect(calls.outcomes['alibaba:PublicCreateImageScanTask:fault:server_error']).toBe(1);
    expect(calls.outcomes['alibaba:PublicCreateImageScanTask:ok']).toBe(1);
  });
});
