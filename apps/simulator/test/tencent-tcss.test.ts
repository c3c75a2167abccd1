import { createRequire } from 'node:module';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import * as tencentcloud from 'tencentcloud-sdk-nodejs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CloudFrontEnd } from '../src/core/frontend.js';
import { type RunningSimulator, startSimulator } from '../src/core/server.js';
import { createTencentTcssFrontEnd } from '../src/tencent/index.js';

// The SDK's own TC3 signer, to hand-craft raw requests (signed right or wrong) for the auth tests.
interface Sign3Input {
  method: string;
  url: string;
  payload: unknown;
  timestamp: number;
  service: string;
  secretId: string;
  secretKey: string;
  multipart: boolean;
  boundary: string;
  headers: Record<string, string>;
}
const require = createRequire(import.meta.url);
const { default: Sign } = require('tencentcloud-sdk-nodejs/tencentcloud/common/sign.js') as { default: { sign3(i: Sign3Input): string } };

type TcssClient = InstanceType<typeof tencentcloud.tcss.v20201101.Client>;
type TencentAccount = (typeof SIMULATOR_ACCOUNTS.tencent)[number];

interface ImageState {
  Id: number;
  ImageId: string;
  ImageDigest: string;
  InstanceName: string;
  Namespace: string;
  ImageName: string;
  ImageTag: string;
  IsAuthorized: number;
  special: string | null;
  expected: { VulCnt: number; VirusCnt: number; RiskCnt: number; SensitiveInfoCnt: number; levels: Record<string, number> };
  scanStatus: string;
}
interface TencentState {
  accounts: Array<{ name: string; images: ImageState[] }>;
  tasks: Array<{ TaskID: number; account: string; imageIds: number[] }>;
  rateLimit: { maxAcceptedPerSecond: Record<string, number>; rejected: Record<string, number>; rejectedTotal: number };
}

const [ACC1, ACC2] = SIMULATOR_ACCOUNTS.tencent as unknown as [TencentAccount, TencentAccount];
const SCAN_MS = 10_000;

/**
 * Every field of the DescribeAssetImageRegistryDetail seed's response (both spellings of the
 * sensitive-info count), but `Id`: the documented examples answer without it.
 */
const DETAIL_FIELDS = [
  'ImageDigest', 'ImageRepoAddress', 'RegistryType', 'ImageName', 'ImageTag', 'ScanTime', 'ScanStatus', 'VulCnt', 'VirusCnt',
  'RiskCnt', 'SentiveInfoCnt', 'SensitiveInfoCnt', 'OsName', 'ScanVirusError', 'ScanVulError', 'LayerInfo', 'InstanceId',
  'InstanceName', 'Namespace', 'ScanRiskError', 'ScanVirusProgress', 'ScanVulProgress', 'ScanRiskProgress', 'ScanRemainTime',
  'CveStatus', 'RiskStatus', 'VirusStatus', 'Progress', 'IsAuthorized', 'ImageSize', 'ImageId', 'RegistryRegion',
  'ImageCreateTime', 'Solution', 'Reason', 'RequestId',
];
const IMAGE_VUL_FIELDS = [
  'CVEID', 'POCID', 'Name', 'Components', 'Category', 'CategoryType', 'Level', 'Des', 'OfficialSolution', 'Reference',
  'DefenseSolution', 'SubmitTime', 'CvssScore', 'CvssVector', 'IsSuggest', 'FixedVersions', 'Tag', 'Component', 'Version',
  'AttackLevel', 'LayerInfos',
];

let sim: RunningSimulator;
let fe: CloudFrontEnd;
let endpoint: string;

function client(acc: TencentAccount = ACC1, keys: { secretId?: string; secretKey?: string } = {}): TcssClient {
  return new tencentcloud.tcss.v20201101.Client({
    credential: { secretId: keys.secretId ?? acc.secretId, secretKey: keys.secretKey ?? acc.secretKey },
    region: acc.region,
    profile: { httpProfile: { endpoint, protocol: 'http://', reqTimeout: 10 } },
  });
}

function state(): TencentState {
  return fe.state?.() as TencentState;
}

function images(account = ACC1.name): ImageState[] {
  return state().accounts.find((a) => a.name === account)?.images ?? [];
}

/** A regular, authorized, never-scanned image with at least one vulnerability once scanned. */
function freshImage(skip: number[] = []): ImageState {
  const img = images().find((i) => i.special === null && i.scanStatus === 'NOT_SCAN' && i.expected.VulCnt > 0 && !skip.includes(i.Id));
  if (!img) throw new Error('seed has no fresh image');
  return img;
}

function special(kind: string, account = ACC1.name): ImageState {
  const img = images(account).find((i) => i.special === kind);
  if (!img) throw new Error(`seed has no ${kind} image`);
  return img;
}

/** The SDK error's Tencent code (the SDK only fills `code` when the answer is HTTP 200). */
async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  fe = createTencentTcssFrontEnd({});
  sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: [fe] });
  endpoint = sim.url.replace(/^http:\/\//, '');
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
  fe.configure?.({ scanDurationMs: SCAN_MS });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('scan tasks and image detail', () => {
  it('creates a task, then the detail moves SCANNING → SCANNED with the seeded counts', async () => {
    const img = freshImage();
    const tc = client();
    const before = await tc.DescribeAssetImageRegistryDetail({ Id: img.Id });
    expect(before.ScanStatus).toBe('NOT_SCAN');

    const task = await tc.CreateAssetImageRegistryScanTask({ Id: [img.Id], ScanType: ['CVE', 'VIRUS', 'RISK'] });
    expect(task.TaskID).toBeTypeOf('number');

    const started = await tc.DescribeAssetImageRegistryDetail({ Id: img.Id });
    expect(started.ScanStatus).toBe('SCANNING');
    expect(started.Progress).toBeLessThan(100);
    expect(started.ScanRemainTime).toBeGreaterThan(0);

    sim.ctx.clock.advance(SCAN_MS / 2);
    const midway = await tc.DescribeAssetImageRegistryDetail({ Id: img.Id });
    expect(midway.ScanStatus).toBe('SCANNING');
    expect(midway.Progress).toBeGreaterThan(0);
    expect(midway.Progress).toBeLessThan(100);
    expect(midway.RiskStatus).toBe('SCANNED'); // the sensitive-info scan is the quickest

    sim.ctx.clock.advance(SCAN_MS);
    const done = await tc.DescribeAssetImageRegistryDetail({ Id: img.Id });
    for (const field of DETAIL_FIELDS) expect(done, field).toHaveProperty(field);
    expect(done).not.toHaveProperty('Id');
    expect(done).toMatchObject({
      ImageId: img.ImageId,
      ImageDigest: img.ImageDigest,
      ScanStatus: 'SCANNED',
      Progress: 100,
      CveStatus: 'SCANNED',
      VirusStatus: 'SCANNED',
      RiskStatus: 'SCANNED',
      ScanVulProgress: 100,
      ScanVulError: '',
      ScanRemainTime: 0,
      VulCnt: img.expected.VulCnt,
      VirusCnt: img.expected.VirusCnt,
      RiskCnt: img.expected.RiskCnt,
      SentiveInfoCnt: img.expected.SensitiveInfoCnt,
      SensitiveInfoCnt: img.expected.SensitiveInfoCnt,
      IsAuthorized: 1,
    });
    expect(done.ScanTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);

    const status = await tc.DescribeAssetImageRegistryScanStatusOneKey({ TaskID: task.TaskID as number });
    expect(status).toMatchObject({ ImageTotal: 1, ImageScanCnt: 1, Schedule: 100, Status: 'SCANNED', ScanRemainTime: 0, RiskCount: 1 });
    expect(status.ImageStatus?.[0]).toMatchObject({ ImageId: img.ImageId, ScanStatus: 'SCANNED', CveProgress: 100 });
  });

  it('scans only the requested types: the others stay NOT_SCAN and report no counts', async () => {
    const img = freshImage();
    const tc = client();
    await tc.CreateAssetImageRegistryScanTask({ Id: [img.Id], ScanType: ['CVE'] });
    sim.ctx.clock.advance(SCAN_MS + 1);
    const d = await tc.DescribeAssetImageRegistryDetail({ ImageId: img.ImageId });
    expect(d).toMatchObject({ ScanStatus: 'SCANNED', Progress: 100, CveStatus: 'SCANNED', VirusStatus: 'NOT_SCAN', RiskStatus: 'NOT_SCAN' });
    expect(d).toMatchObject({ ScanVirusProgress: 0, VulCnt: img.expected.VulCnt, RiskCnt: 0, SensitiveInfoCnt: 0 });
  });

  it('selects images by ImageInfo and by All + Filters, skipping the unauthorized image in bulk', async () => {
    const tc = client();
    const img = freshImage();
    const byInfo = await tc.CreateAssetImageRegistryScanTask({
      Images: [{ InstanceName: img.InstanceName, Namespace: img.Namespace, ImageName: img.ImageName, ImageTag: img.ImageTag, Force: 'true' }],
    });
    expect(state().tasks.find((t) => t.TaskID === byInfo.TaskID)?.imageIds).toEqual([img.Id]);

    const unauthorized = special('unauthorized');
    const bulk = await tc.CreateAssetImageRegistryScanTask({
      All: true,
      Filters: [{ Name: 'Namespace', Values: [unauthorized.Namespace], ExactMatch: true }],
    });
    const bulkIds = state().tasks.find((t) => t.TaskID === bulk.TaskID)?.imageIds ?? [];
    const expected = images().filter((i) => i.Namespace === unauthorized.Namespace && i.IsAuthorized === 1).map((i) => i.Id);
    expect(bulkIds.sort()).toEqual(expected.sort());
    expect(bulkIds).not.toContain(unauthorized.Id);
  });

  it('runs a one-key scan and reports its progress per image', async () => {
    const tc = client();
    const ns = freshImage().Namespace;
    const task = await tc.CreateAssetImageRegistryScanTaskOneKey({ ScanScope: 0, Namespace: [ns], ScanType: ['CVE', 'RISK'] });
    const inNs = images().filter((i) => i.Namespace === ns);
    const running = await tc.DescribeAssetImageRegistryScanStatusOneKey({ TaskID: task.TaskID as number });
    expect(running.Status).toBe('SCANNING');
    expect(running.ImageTotal).toBe(inNs.length);
    expect(running.ImageStatus).toHaveLength(inNs.length);

    sim.ctx.clock.advance(SCAN_MS + 1);
    const latest = await tc.DescribeAssetImageRegistryScanStatusOneKey({ All: true });
    expect(latest).toMatchObject({ ImageTotal: inNs.length, ImageScanCnt: inNs.length, Schedule: 100, Status: 'SCANNED' });
    expect((latest.SuccessCount ?? 0) + (latest.RiskCount ?? 0)).toBe(inNs.length);
  });

  it('ends the scan-error image in SCAN_ERR with its error fields filled', async () => {
    const broken = special('scan_error');
    const tc = client();
    const task = await tc.CreateAssetImageRegistryScanTask({ Id: [broken.Id] });
    sim.ctx.clock.advance(SCAN_MS + 1);
    const d = await tc.DescribeAssetImageRegistryDetail({ Id: broken.Id });
    expect(d.ScanStatus).toBe('SCAN_ERR');
    expect(d.CveStatus).toBe('SCAN_ERR');
    expect(d.ScanVulError).not.toBe('');
    expect(d.Reason).not.toBe('');
    expect(d.Progress).toBeLessThan(100);
    expect(d.VulCnt).toBe(0);
    const status = await tc.DescribeAssetImageRegistryScanStatusOneKey({ TaskID: task.TaskID as number });
    expect(status).toMatchObject({ ImageScanCnt: 1, SuccessCount: 0, RiskCount: 0, Status: 'SCANNED' });
  });

  it('fails images still scanning when the task Timeout passes (SCAN_TIMEOUT)', async () => {
    const img = freshImage();
    const tc = client();
    const task = await tc.CreateAssetImageRegistryScanTask({ Id: [img.Id], Timeout: 2 });
    sim.ctx.clock.advance(3000);
    const status = await tc.DescribeAssetImageRegistryScanStatusOneKey({ TaskID: task.TaskID as number });
    expect(status.Status).toBe('SCAN_TIMEOUT');
    expect((await tc.DescribeAssetImageRegistryDetail({ Id: img.Id })).ScanStatus).toBe('SCAN_ERR');
  });
});

describe('vulnerabilities and inventory', () => {
  it('pages the vulnerability list up to TotalCount, with every ImageVul field', async () => {
    const heavy = special('vuln_heavy');
    const tc = client();
    expect((await tc.DescribeAssetImageRegistryVulList({ Id: heavy.Id })).TotalCount).toBe(0);

    await tc.CreateAssetImageRegistryScanTask({ Id: [heavy.Id] });
    sim.ctx.clock.advance(SCAN_MS + 1);
    const seen = new Set<string>();
    let total = -1;
    for (let offset = 0; total < 0 || offset < total; offset += 100) {
      const page = await tc.DescribeAssetImageRegistryVulList({ Id: heavy.Id, Limit: 100, Offset: offset });
      total = page.TotalCount ?? 0;
      for (const v of page.List ?? []) seen.add(v.CVEID as string);
      if (offset === 0) for (const field of IMAGE_VUL_FIELDS) expect(page.List?.[0], field).toHaveProperty(field);
    }
    expect(total).toBe(heavy.expected.VulCnt);
    expect(seen.size).toBe(total);
    expect(total).toBeGreaterThan(200);

    const defaultPage = await tc.DescribeAssetImageRegistryVulList({ Id: heavy.Id });
    expect(defaultPage.List).toHaveLength(10);

    const critical = await tc.DescribeAssetImageRegistryVulList({ Id: heavy.Id, Limit: 100, Filters: [{ Name: 'Level', Values: ['4'] }] });
    expect(critical.TotalCount).toBe(heavy.expected.levels.critical);
    expect(critical.List?.every((v) => v.Level === '4')).toBe(true);
  });

  it('lists the whole inventory with paging and filters', async () => {
    const tc = client();
    const all = images();
    const ids = new Set<number>();
    let total = -1;
    for (let offset = 0; total < 0 || offset < total; offset += 100) {
      const page = await tc.DescribeAssetImageRegistryList({ Limit: 100, Offset: offset });
      total = page.TotalCount ?? 0;
      for (const item of page.List ?? []) ids.add(item.Id as number);
    }
    expect(total).toBe(all.length);
    expect(ids.size).toBe(all.length);
    expect(total).toBeGreaterThanOrEqual(300);

    const unauthorized = await tc.DescribeAssetImageRegistryList({ Filters: [{ Name: 'IsAuthorized', Values: ['0'] }] });
    expect(unauthorized.TotalCount).toBe(1);
    expect(unauthorized.List?.[0]?.Id).toBe(special('unauthorized').Id);

    const other = await client(ACC2).DescribeAssetImageRegistryList({ Limit: 1 });
    expect(other.TotalCount).toBe(images(ACC2.name).length);
    expect(ids.has(other.List?.[0]?.Id as number)).toBe(false);
  });
});

describe('errors', () => {
  it('answers bad input with InvalidParameter / ResourceNotFound / FailedOperation codes', async () => {
    const tc = client();
    expect(await errorCode(tc.CreateAssetImageRegistryScanTask({}))).toBe('InvalidParameter');
    expect(await errorCode(tc.CreateAssetImageRegistryScanTask({ Id: [freshImage().Id], ScanType: ['MALWARE'] }))).toBe('InvalidParameter');
    expect(await errorCode(tc.CreateAssetImageRegistryScanTask({ Id: [1] }))).toBe('ResourceNotFound');
    expect(await errorCode(tc.CreateAssetImageRegistryScanTask({ Id: [special('unauthorized').Id] }))).toBe('FailedOperation');
    expect(await errorCode(tc.DescribeAssetImageRegistryDetail({ Id: 1 }))).toBe('ResourceNotFound');
    expect(await errorCode(tc.DescribeAssetImageRegistryDetail({}))).toBe('InvalidParameter');
    expect(await errorCode(tc.DescribeAssetImageRegistryScanStatusOneKey({ TaskID: 987654 }))).toBe('ResourceNotFound');
    expect(await errorCode(tc.DescribeAssetImageRegistryVulList({ Id: freshImage().Id, Limit: 101 }))).toBe('InvalidParameterValue');
    // Another account's image does not exist for this one.
    expect(await errorCode(tc.DescribeAssetImageRegistryDetail({ Id: images(ACC2.name)[0]?.Id as number }))).toBe('ResourceNotFound');
  });

  it('throttles the 21st call to one API in one second, per account, leaving other APIs and accounts alone', async () => {
    // Pin the wall clock so all calls fall into one second however slow the machine is.
    const pinned = Math.floor(Date.now() / 1000) * 1000 + 500;
    vi.spyOn(Date, 'now').mockReturnValue(pinned);
    const tc = client();
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => tc.DescribeAssetImageRegistryList({ Limit: 1 })));
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(20);
    expect(codes.filter((c) => c === 'RequestLimitExceeded')).toHaveLength(5);

    await expect(tc.DescribeAssetImageRegistryDetail({ Id: freshImage().Id })).resolves.toHaveProperty('ImageDigest');
    await expect(client(ACC2).DescribeAssetImageRegistryList({ Limit: 1 })).resolves.toHaveProperty('TotalCount');
    expect(await errorCode(tc.DescribeAssetImageRegistryList({ Limit: 1 }))).toBe('RequestLimitExceeded');

    const rl = state().rateLimit;
    expect(rl.maxAcceptedPerSecond[`${ACC1.name}:DescribeAssetImageRegistryList`]).toBe(20);
    expect(rl.rejected[`${ACC1.name}:DescribeAssetImageRegistryList`]).toBe(6);
    expect(rl.rejectedTotal).toBe(6);

    // The next second starts a new window.
    vi.spyOn(Date, 'now').mockReturnValue(pinned + 1000);
    await expect(tc.DescribeAssetImageRegistryList({ Limit: 1 })).resolves.toHaveProperty('TotalCount');
  });

  it('renders injected faults as Tencent error envelopes (InternalError, RequestLimitExceeded)', async () => {
    const tc = client();
    sim.ctx.faults.add({ cloud: 'tencent', api: 'DescribeAssetImageRegistryDetail', kind: 'server_error', count: 1 });
    sim.ctx.faults.add({ cloud: 'tencent', api: 'DescribeAssetImageRegistryList', kind: 'throttle', count: 1 });
    expect(await errorCode(tc.DescribeAssetImageRegistryDetail({ Id: freshImage().Id }))).toBe('InternalError');
    expect(await errorCode(tc.DescribeAssetImageRegistryList({}))).toBe('RequestLimitExceeded');
    await expect(tc.DescribeAssetImageRegistryDetail({ Id: freshImage().Id })).resolves.toHaveProperty('ImageDigest');
  });
});

describe('TC3 authentication', () => {
  const action = 'DescribeAssetImageRegistryList';

  /** A raw request signed by the SDK's own signer (with whatever key/timestamp the test wants). */
  async function rawCall(opts: { secretId?: string; secretKey?: string; timestamp?: number; body?: string; sign?: boolean } = {}) {
    const payload = { Limit: 1 };
    const url = `${sim.url}/`;
    const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'X-TC-Action': action,
      'X-TC-Version': '2020-11-01',
      'X-TC-Timestamp': String(timestamp),
      'X-TC-Region': ACC1.region,
    };
    if (opts.sign !== false) {
      headers.Authorization = Sign.sign3({
        method: 'POST',
        url,
        payload,
        timestamp,
        service: endpoint.split('.')[0] as string,
        secretId: opts.secretId ?? ACC1.secretId,
        secretKey: opts.secretKey ?? ACC1.secretKey,
        multipart: false,
        boundary: '',
        headers,
      });
    }
    const res = await fetch(url, { method: 'POST', headers, body: opts.body ?? JSON.stringify(payload) });
    const json = (await res.json()) as { Response: { Error?: { Code: string; Message: string }; RequestId: string; TotalCount?: number } };
    return { status: res.status, response: json.Response };
  }

  it('accepts a correctly signed raw request', async () => {
    const { status, response } = await rawCall();
    expect(status).toBe(200);
    expect(response.Error).toBeUndefined();
    expect(response.TotalCount).toBeGreaterThan(0);
  });

  it('rejects unsigned, wrongly signed, tampered, expired and unknown-key requests with HTTP 200 error envelopes', async () => {
    const cases: Array<[string, Parameters<typeof rawCall>[0]]> = [
      ['AuthFailure.InvalidAuthorization', { sign: false }],
      ['AuthFailure.SignatureFailure', { secretKey: 'not-the-secret' }],
      ['AuthFailure.SignatureFailure', { body: JSON.stringify({ Limit: 2 }) }],
      ['AuthFailure.SignatureExpire', { timestamp: Math.floor(Date.now() / 1000) - 600 }],
      ['AuthFailure.SecretIdNotFound', { secretId: 'AKIDunknownKey000000' }],
    ];
    for (const [code, opts] of cases) {
      const { status, response } = await rawCall(opts);
      expect(status, code).toBe(200);
      expect(response.Error?.Code, JSON.stringify(opts)).toBe(code);
      expect(response.RequestId).toBeTypeOf('string');
    }
  });

  it('rejects the SDK itself when its secret is wrong or its clock is off by more than 5 minutes', async () => {
    expect(await errorCode(client(ACC1, { secretKey: ACC2.secretKey }).DescribeAssetImageRegistryList({}))).toBe('AuthFailure.SignatureFailure');
    sim.ctx.clock.advance(6 * 60_000);
    expect(await errorCode(client().DescribeAssetImageRegistryList({}))).toBe('AuthFailure.SignatureExpire');
  });
});

describe('seed, reset and options', () => {
  it('seeds the same inventory for the same seed, and reset forgets tasks', async () => {
    const again = createTencentTcssFrontEnd({});
    again.reset({ ...sim.ctx });
    const a = (again.state?.() as TencentState).accounts.map((acc) => acc.images.map((i) => `${i.Id}:${i.ImageDigest}`));
    expect(a).toEqual(state().accounts.map((acc) => acc.images.map((i) => `${i.Id}:${i.ImageDigest}`)));

    await client().CreateAssetImageRegistryScanTask({ Id: [freshImage().Id] });
    expect(state().tasks).toHaveLength(1);
    await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
    expect(state().tasks).toHaveLength(0);
  });

  it('reads SIM_TENCENT_* options and validates runtime options', () => {
    const small = createTencentTcssFrontEnd({ SIM_TENCENT_IMAGES: '12', SIM_TENCENT_RPS: '5', SIM_TENCENT_SCAN_MS: '100' });
    small.reset({ ...sim.ctx });
    const s = small.state?.() as TencentState & { options: Record<string, number> };
    expect(s.options).toMatchObject({ imagesPerAccount: 12, rateLimitPerSecond: 5, scanDurationMs: 100 });
    expect(s.accounts[0]?.images).toHaveLength(12 + 4);
    expect(() => createTencentTcssFrontEnd({ SIM_TENCENT_RPS: 'fast' })).toThrow(/SIM_TENCENT_RPS/);
    expect(() => fe.configure?.({ scanDurationMs: -1 })).toThrow();
    expect(() => fe.configure?.({ bogus: 1 })).toThrow(/bogus/);
  });
});
