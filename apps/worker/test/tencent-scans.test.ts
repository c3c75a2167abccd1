import { imageProgressFromDetail, mapTcssSeverity, normalizeImageVul, tencentErrorToProviderError, type TcssImageDetail } from '@scanq/providers';
import type { CloudAccount } from '@scanq/db';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';

interface SimImage {
  Id: number;
  ImageId: string;
  ImageDigest: string;
  InstanceName: string;
  Namespace: string;
  ImageName: string;
  ImageTag: string;
  ImageRepoAddress: string;
  IsAuthorized: number;
  special: string | null;
  expected: { VulCnt: number; VirusCnt: number; RiskCnt: number; SensitiveInfoCnt: number; levels: { low: number; medium: number; high: number; critical: number } };
  scanStatus: string;
}

/** Stored image raw: the Detail answer as received plus its fields read. */
interface StoredRaw {
  detail: Record<string, unknown>;
  status: {
    scanStatus: string;
    progress: number;
    scanRemainTime: number;
    vulnerability: { status: string; progress: number; error: string | null };
    virus: { status: string; progress: number; error: string | null };
    risk: { status: string; progress: number; error: string | null };
    vulCnt: number;
    virusCnt: number;
    riskCnt: number;
    sensitiveInfoCnt: number;
  };
}

const SCAN_MS = 1500;

describe('Tencent TCSS scans through the worker (real Redis, Postgres, tencentcloud-sdk-nodejs, simulator)', { timeout: 90_000 }, () => {
  let h: WorkerHarness;
  let account: CloudAccount;
  let images: SimImage[] = [];
  const used = new Set<number>();

  beforeAll(async () => {
    // A long poll ceiling so TCSS's ScanRemainTime, not the backoff cap, decides when to look again.
    h = await startHarness('tencentflow', { SCANQ_POLL_MAX_MS: '20000', SCANQ_POLL_INITIAL_MS: '100', SCANQ_WORKER_QUEUES: 'tencent' }, { SIM_TENCENT_SCAN_MS: String(SCAN_MS), SIM_TENCENT_IMAGES: '60' });
    account = await h.addAccount('tencent');
    const state = (await (await fetch(`${h.sim.url}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: SimImage[] }[] };
    images = state.accounts.find((a) => a.name === 'sim-tencent')!.images;
  });
  afterAll(async () => h?.close());
  beforeEach(async () => {
    await configure({ scanDurationMs: SCAN_MS, rateLimitPerSecond: 20 });
  });

  const configure = async (options: Record<string, unknown>) => {
    const res = await fetch(`${h.sim.url}/_sim/config/tencent`, { method: 'POST', body: JSON.stringify(options), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(await res.text());
  };
  const calls = async (api: string) => (await h.calls()).totals[`tencent:${api}`] ?? 0;
  const outcome = async (api: string, code: string) => (await h.calls()).outcomes[`tencent:${api}:${code}`] ?? 0;
  /** A regular, authorized image no other test uses, with findings (> `minVulns`). */
  const fresh = (minVulns = 1, maxVulns = 100): SimImage => {
    const img = images.find((i) => i.special === null && !used.has(i.Id) && i.expected.VulCnt >= minVulns && i.expected.VulCnt <= maxVulns);
    if (!img) throw new Error('the seed has no unused image like that');
    used.add(img.Id);
    return img;
  };
  const special = (kind: string) => images.find((i) => i.special === kind)!;
  /** Generous: a loaded 2-core machine runs several test files at once. */
  const waitForEnd = (scanId: string, timeoutMs = 75_000) => h.waitForTerminal(scanId, timeoutMs);
  const submit = (target: Record<string, unknown>) => h.worker.runtime.submit.submit({ provider: 'tencent', account: 'sim-tencent', ...target } as never).then((r) => r.scan);

  it('scans by repository id: stores every progress field and count, and all findings normalized with the raw record', async () => {
    const img = fresh();
    const done = await waitForEnd((await submit({ repositoryIds: [img.Id] })).id);
    expect(done.status).toBe('succeeded');
    const [image] = done.images;
    expect(image).toMatchObject({ status: 'succeeded', providerImageId: String(img.Id), digest: img.ImageDigest, tags: [img.ImageTag], repository: `${img.Namespace}/${img.ImageName}`, progress: 100 });
    expect(image!.registry).toBe(img.ImageRepoAddress.split('/')[0]);
    const raw = image!.raw as unknown as StoredRaw;
    expect(raw.status).toMatchObject({
      scanStatus: 'SCANNED',
      progress: 100,
      scanRemainTime: 0,
      vulnerability: { status: 'SCANNED', progress: 100 },
      virus: { status: 'SCANNED', progress: 100 },
      risk: { status: 'SCANNED', progress: 100 },
      vulCnt: img.expected.VulCnt,
      virusCnt: img.expected.VirusCnt,
      riskCnt: img.expected.RiskCnt,
      sensitiveInfoCnt: img.expected.SensitiveInfoCnt,
    });
    // Stored as TCSS sent it: the documented Detail answer carries no Id (the image is the one asked for).
    expect(raw.detail).toMatchObject({ ImageId: img.ImageId, ScanStatus: 'SCANNED', CveStatus: 'SCANNED', VulCnt: img.expected.VulCnt });
    expect(raw.detail.Id).toBeUndefined();
    expect(raw.detail.RequestId).toBeUndefined();

    const findings = await h.worker.runtime.db.finding.findMany({ where: { scanId: done.id } });
    expect(findings).toHaveLength(img.expected.VulCnt);
    const levels = img.expected.levels;
    expect({ critical: image!.critical, high: image!.high, medium: image!.medium, low: image!.low }).toEqual({ critical: levels.critical, high: levels.high, medium: levels.medium, low: levels.low });
    for (const f of findings) {
      const raw = f.raw as { CVEID: string; Level: string; Component: string; CvssScore: string; Reference: string };
      expect(f.vulnerabilityId).toBe(raw.CVEID);
      expect(f.link).toBe((JSON.parse(raw.Reference) as string[])[0]); // Reference is a JSON-encoded URL list
      expect(f.providerSeverity).toBe(raw.Level);
      expect(f.packageName).toBe(raw.Component);
      expect(f.score).toBeCloseTo(Number(raw.CvssScore), 5);
      expect(f.severity).toBe({ '1': 'LOW', '2': 'MEDIUM', '3': 'HIGH', '4': 'CRITICAL' }[raw.Level]);
    }
  });

  it('pages the vulnerability list (Limit 100 / Offset) and stores every finding exactly once', async () => {
    const heavy = special('vuln_heavy');
    const before = await calls('DescribeAssetImageRegistryVulList');
    const done = await waitForEnd((await submit({ repositoryIds: [heavy.Id] })).id);
    expect(done.status).toBe('succeeded');
    expect(heavy.expected.VulCnt).toBeGreaterThan(200);
    expect((await calls('DescribeAssetImageRegistryVulList')) - before).toBe(Math.ceil(heavy.expected.VulCnt / 100));
    const findings = await h.worker.runtime.db.finding.findMany({ where: { scanId: done.id }, select: { vulnerabilityId: true } });
    expect(findings).toHaveLength(heavy.expected.VulCnt);
    expect(new Set(findings.map((f) => f.vulnerabilityId)).size).toBe(heavy.expected.VulCnt);
  });

  it('scans by image id and by registry/namespace/name/tag, several images in one TCSS task', async () => {
    const [a, b, c] = [fresh(), fresh(), fresh()];
    const creates = await calls('CreateAssetImageRegistryScanTask');
    const byImageId = await submit({ imageIds: [a.ImageId], repositoryIds: [b.Id] });
    const byName = await submit({ images: [{ registry: c.InstanceName, namespace: c.Namespace, name: c.ImageName, tag: c.ImageTag }], scanTypes: ['CVE'] });
    const [one, two] = await Promise.all([waitForEnd(byImageId.id), waitForEnd(byName.id)]);
    expect(one.status).toBe('succeeded');
    expect(one.images.map((i) => Number(i.providerImageId)).sort()).toEqual([a.Id, b.Id].sort());
    expect(two.status).toBe('succeeded');
    expect(two.images[0]).toMatchObject({ providerImageId: String(c.Id), tags: [c.ImageTag] });
    // CVE only: the virus and risk sub-scans did not run and their counts stay 0.
    expect((two.images[0]!.raw as unknown as StoredRaw).status).toMatchObject({ vulnerability: { status: 'SCANNED' }, virus: { status: 'NOT_SCAN' }, risk: { status: 'NOT_SCAN' }, virusCnt: 0, vulCnt: c.expected.VulCnt });
    expect((await calls('CreateAssetImageRegistryScanTask')) - creates).toBe(2);
  });

  it('times the next poll by ScanRemainTime instead of the backoff', async () => {
    const img = fresh();
    await configure({ scanDurationMs: 4000 });
    const before = await calls('DescribeAssetImageRegistryDetail');
    const scan = await submit({ repositoryIds: [img.Id] });
    // After the first poll (100 ms in) the scan row carries the next poll time TCSS's estimate set.
    const running = await waitForRow(h, scan.id, (s) => s.status === 'running' && s.images[0]?.status === 'scanning' && (s.images[0]?.raw as unknown as StoredRaw | null)?.status?.scanStatus === 'SCANNING');
    const remain = (running.images[0]!.raw as unknown as StoredRaw).status.scanRemainTime;
    expect(remain).toBeGreaterThanOrEqual(2);
    const done = await waitForEnd(scan.id);
    expect(done.status).toBe('succeeded');
    // One Detail to resolve, one poll that saw SCANNING (remaining ≈ 4 s), one after that time.
    // Backoff alone (100 ms × 1.5ⁿ) would have needed 8 polls for a 4 s scan.
    expect((await calls('DescribeAssetImageRegistryDetail')) - before).toBeLessThanOrEqual(4);
  });

  it('keeps a scan going through RequestLimitExceeded: the call waits and is made again, never a retry of the job', async () => {
    const img = fresh();
    await injectFault(h.sim, { cloud: 'tencent', api: 'DescribeAssetImageRegistryDetail', kind: 'throttle', count: 2 });
    await injectFault(h.sim, { cloud: 'tencent', api: 'CreateAssetImageRegistryScanTask', kind: 'throttle', count: 1 });
    const before = await outcome('DescribeAssetImageRegistryDetail', 'RequestLimitExceeded');
    const done = await waitForEnd((await submit({ repositoryIds: [img.Id] })).id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(1);
    expect(done.error).toBeNull();
    expect((await outcome('DescribeAssetImageRegistryDetail', 'RequestLimitExceeded')) - before).toBe(2);
  });

  it('waits out the rate limit of the cloud itself when it is lower than ours (simulator at 2 requests/s)', async () => {
    await configure({ rateLimitPerSecond: 2 });
    const batch = [fresh(), fresh(), fresh(), fresh()];
    const before = await outcome('DescribeAssetImageRegistryDetail', 'RequestLimitExceeded');
    const done = await waitForEnd((await submit({ repositoryIds: batch.map((i) => i.Id) })).id);
    expect(done.status).toBe('succeeded');
    expect(done.images.every((i) => i.status === 'succeeded')).toBe(true);
    expect(done.attempts).toBe(1);
    expect((await outcome('DescribeAssetImageRegistryDetail', 'RequestLimitExceeded')) - before).toBeGreaterThan(0);
  });

  it('retries InternalError and a dropped connection with backoff, then succeeds', async () => {
    const img = fresh();
    await injectFault(h.sim, { cloud: 'tencent', api: 'CreateAssetImageRegistryScanTask', kind: 'server_error', count: 1 });
    await injectFault(h.sim, { cloud: 'tencent', api: 'DescribeAssetImageRegistryDetail', kind: 'disconnect', count: 1 });
    const done = await waitForEnd((await submit({ repositoryIds: [img.Id] })).id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(await outcome('CreateAssetImageRegistryScanTask', 'InternalError')).toBeGreaterThanOrEqual(1);
  });

  it('fails after the configured attempts when InternalError persists', async () => {
    const img = fresh();
    await injectFault(h.sim, { cloud: 'tencent', api: 'CreateAssetImageRegistryScanTask', kind: 'server_error', count: 3 });
    const done = await waitForEnd((await submit({ repositoryIds: [img.Id] })).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('attempts_exhausted');
    expect(done.error).toContain('InternalError');
  });

  it.each([
    ['an unknown repository id', 'not_found', 'ResourceNotFound', () => ({ repositoryIds: [999_999_999] })],
    ['an unknown image id', 'not_found', 'ResourceNotFound', () => ({ imageIds: [`sha256:${'0'.repeat(64)}`] })],
    ['an unknown image name', 'not_found', 'ResourceNotFound', () => ({ images: [{ registry: 'ccr-default', namespace: 'nobody', name: 'nothing', tag: 'v0' }] })],
    ['a scan type TCSS rejects', 'invalid', 'InvalidParameter', () => ({ repositoryIds: [fresh().Id], scanTypes: ['CVE', 'MALWARE'] })],
    ['an image TCSS is not authorized to scan', 'insufficient_authorization', 'AuthorizedNotEnough', () => ({ repositoryIds: [special('unauthorized').Id] })],
  ])('fails %s with reason %s (%s)', async (_what, reason, code, target) => {
    const creates = await calls('CreateAssetImageRegistryScanTask');
    const done = await waitForEnd((await submit(target())).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe(reason);
    expect(done.error).toContain(code);
    expect(done.attempts).toBeLessThanOrEqual(1);
    if (reason !== 'invalid') expect((await calls('CreateAssetImageRegistryScanTask')) - creates).toBe(0);
  });

  it('fails an image whose TCSS scan ends SCAN_ERR with scan_failed, keeping the reason TCSS gave', async () => {
    const done = await waitForEnd((await submit({ repositoryIds: [special('scan_error').Id] })).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('scan_failed');
    const [image] = done.images;
    expect(image!.status).toBe('failed');
    const raw = image!.raw as unknown as StoredRaw;
    expect(raw.status.scanStatus).toBe('SCAN_ERR');
    expect(raw.status.vulnerability.error).toBeTruthy();
  });
});

describe('TCSS Detail → image progress', () => {
  const base: TcssImageDetail = {
    ScanStatus: 'SCANNED',
    Progress: 100,
    CveStatus: 'SCANNED',
    VirusStatus: 'NOT_SCAN',
    RiskStatus: 'SCANNED',
    ScanVulProgress: 100,
    ScanVirusProgress: 0,
    ScanRiskProgress: 100,
    ScanVulError: 'MessageRegistryScan',
    ScanVirusError: 'MessageRegistryScan',
    ScanRiskError: 'MessageRegistryScan',
    ScanRemainTime: 0,
    VulCnt: 172,
    VirusCnt: 0,
    RiskCnt: 1,
    Id: 5427,
    RequestId: 'acc92f01-ee14-4eec-a1b6-e78d3ea0b7e9',
  };
  const counts = (d: TcssImageDetail) => (imageProgressFromDetail(0, d).raw as { status: { sensitiveInfoCnt: number | null } }).status.sensitiveInfoCnt;

  it('reads the sensitive-info count under either spelling (the seed example says SentiveInfoCnt, its table SensitiveInfoCnt)', () => {
    expect(counts({ ...base, SentiveInfoCnt: 3 })).toBe(3);
    expect(counts({ ...base, SensitiveInfoCnt: 4 })).toBe(4);
    expect(counts({ ...base })).toBeNull();
  });

  it('reads the seed example as succeeded, keeps the sub-scan statuses and errors, and drops only the RequestId', () => {
    const p = imageProgressFromDetail(2, { ...base, SentiveInfoCnt: 1 });
    expect(p).toMatchObject({ index: 2, state: 'succeeded', progress: 100 });
    const raw = p.raw as { detail: Record<string, unknown>; status: Record<string, unknown> };
    expect(raw.detail.RequestId).toBeUndefined();
    expect(raw.detail.SentiveInfoCnt).toBe(1);
    expect(raw.status).toMatchObject({ vulCnt: 172, virusCnt: 0, riskCnt: 1, sensitiveInfoCnt: 1, virus: { status: 'NOT_SCAN', progress: 0, error: 'MessageRegistryScan' } });
  });

  it('maps scanning, a failed vulnerability sub-scan and the failure statuses', () => {
    expect(imageProgressFromDetail(0, { ...base, ScanStatus: 'SCANNING', Progress: 40, ScanRemainTime: 12 })).toMatchObject({ state: 'scanning', progress: 40 });
    expect(imageProgressFromDetail(0, { ...base, ScanStatus: 'NOT_SCAN', Progress: 0 })).toMatchObject({ state: 'scanning', progress: 0 });
    expect(imageProgressFromDetail(0, { ...base, CveStatus: 'SCAN_ERR', ScanVulError: 'pull failed' })).toMatchObject({ state: 'failed', reason: 'scan_failed' });
    expect(imageProgressFromDetail(0, { ...base, ScanStatus: 'SCAN_ERR', Reason: 'image pull failed' })).toMatchObject({ state: 'failed', reason: 'scan_failed', message: expect.stringContaining('image pull failed') });
    expect(imageProgressFromDetail(0, { ...base, ScanStatus: 'CANCELED' })).toMatchObject({ state: 'failed', reason: 'cancelled' });
  });
});

describe('TCSS errors and severities', () => {
  /** What the SDK throws for a `Response.Error` (HTTP 200), or without a code for anything else. */
  const sdkError = (code: string | undefined, httpCode?: number) => Object.assign(new Error(`${code ?? 'socket hang up'}`), { code, httpCode, requestId: 'r-1' });

  it.each([
    ['RequestLimitExceeded', 'quota', 'quota_wait'],
    ['InvalidParameter', 'terminal', 'invalid'],
    ['InvalidParameter.MissingParameter', 'terminal', 'invalid'],
    ['InvalidParameterValue', 'terminal', 'invalid'],
    ['ResourceNotFound', 'terminal', 'not_found'],
    ['ResourceNotFound.ImageNotFound', 'terminal', 'not_found'],
    ['AuthFailure.SignatureFailure', 'terminal', 'no_permission'],
    ['UnauthorizedOperation', 'terminal', 'no_permission'],
    ['FailedOperation.AuthorizedNotEnough', 'terminal', 'insufficient_authorization'],
    ['LimitExceeded', 'quota', 'quota_wait'],
    ['InternalError', 'retryable', 'provider_error'],
    ['ResourceUnavailable', 'retryable', 'provider_error'],
    ['FailedOperation.ErrAlreadyScanning', 'retryable', 'provider_error'],
  ])('maps %s to %s (%s)', (code, kind, reason) => {
    expect(tencentErrorToProviderError(sdkError(code))).toMatchObject({ kind, reason, code });
  });

  it('treats a network failure and a non-200 answer (no code) as retryable', () => {
    expect(tencentErrorToProviderError(sdkError(undefined))).toMatchObject({ kind: 'retryable', code: 'NetworkError' });
    expect(tencentErrorToProviderError(sdkError(undefined, 502))).toMatchObject({ kind: 'retryable', code: 'HTTP502' });
  });

  it('maps numeric, Chinese and English levels, and falls back to CVSS only when the level is unknown', () => {
    expect(['4', '3', '2', '1'].map((l) => mapTcssSeverity(l))).toEqual(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW']);
    expect(['严重', '高危', '中危', '低危', '提示'].map((l) => mapTcssSeverity(l))).toEqual(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL']);
    expect(['critical', 'HIGH', 'Medium', 'low'].map((l) => mapTcssSeverity(l))).toEqual(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW']);
    expect(mapTcssSeverity('3', 9.8)).toBe('HIGH');
    expect(mapTcssSeverity(undefined, 9.8)).toBe('CRITICAL');
    expect(mapTcssSeverity('?', null)).toBe('UNKNOWN');
  });

  it('normalizes the API example vulnerability, its fixed version and first reference', () => {
    const v = {
      CVEID: 'CVE-2019-5827',
      Level: '3',
      CvssScore: '8.8',
      Name: 'Google Chrome 输入验证错误漏洞',
      Component: 'sqlite-libs',
      Version: '3.26.0-13.el8',
      FixedVersions: '0:3.26.0-15.el8',
      Components: [{ FixedVersion: '0:3.26.0-15.el8', Name: 'sqlite-libs', Path: '/var/sqlite/', Type: 'SYSTEM', Version: '3.26.0-13.el8' }],
      Reference: '["http://lists.opensuse.org/a.html", "https://crbug.com/952406"]',
    };
    expect(normalizeImageVul(v)).toEqual({
      vulnerabilityId: 'CVE-2019-5827',
      severity: 'HIGH',
      providerSeverity: '3',
      packageName: 'sqlite-libs',
      installedVersion: '3.26.0-13.el8',
      fixedVersion: '0:3.26.0-15.el8',
      title: 'Google Chrome 输入验证错误漏洞',
      link: 'http://lists.opensuse.org/a.html',
      links: ['http://lists.opensuse.org/a.html', 'https://crbug.com/952406'],
      score: 8.8,
      cvssVector: null,
      providerVulnerabilityId: null,
      raw: v,
    });
  });
});

async function waitForRow(h: WorkerHarness, scanId: string, ok: (s: NonNullable<Awaited<ReturnType<WorkerHarness['worker']['runtime']['scans']['get']>>>) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await h.worker.runtime.scans.get(scanId);
    if (s && ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`scan ${scanId} never matched`);
    await new Promise((r) => setTimeout(r, 30));
  }
}
