import { createHash, createHmac } from 'node:crypto';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import type { HcClient } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { ClientRequestException } from '@huaweicloud/huaweicloud-sdk-core/exception/ClientRequestException.js';
import { ServerResponseException } from '@huaweicloud/huaweicloud-sdk-core/exception/ServerResponseException.js';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../src/core/server.js';
import { createHuaweiHssFrontEnd } from '../src/huawei/index.js';

// Drives the HSS front end through the real @huaweicloud/huaweicloud-sdk-core client (a bare
// HcClient, as the generated HssClient uses it); only the unsigned/forged-request tests are raw.

const [ACCOUNT, OTHER_ACCOUNT] = SIMULATOR_ACCOUNTS.huawei;
const SCAN_MS = 60_000;

interface RepoItem {
  id: number;
  namespace: string;
  image_name: string;
  image_id: string;
  image_digest: string;
  image_version: string;
  image_type: string;
  latest_version: boolean;
  scan_status: string;
  scan_failed_desc: string;
  image_size: number;
  latest_update_time: number;
  latest_scan_time: number;
  vul_num: number;
  instance_id: string;
}
interface RepoPage {
  total_num: number;
  data_list: RepoItem[];
}
interface VulPage {
  total_num: number;
  data_list: { vul_id: string; repair_necessity: string; app_name: string; position: string; url: string }[];
}
interface HuaweiState {
  accounts: { name: string; images: { total: number }; scanStatusCounts: Record<string, number>; scansStarted: number }[];
  batchScanCalls: { account: string; listed: number; matched: number; unmatched: number; started: number; operateAll: boolean }[];
}

let sim: RunningSimulator;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function client(account: { ak: string; sk: string; projectId: string } = ACCOUNT): HcClient {
  const hc = new ClientBuilder<HcClient>((c) => c)
    .withEndpoint(sim.url)
    .withCredential(new BasicCredentials().withAk(account.ak).withSk(account.sk).withProjectId(account.projectId))
    .build();
  // The SDK logs every error response (with full headers) at ERROR level, which cannot be
  // configured off; the expected 4xx/5xx answers of these tests would drown the output.
  const http = (hc as unknown as { httpClient?: { _logger?: unknown } }).httpClient;
  if (http && '_logger' in http) http._logger = silent;
  return hc;
}

interface Call {
  method?: 'GET' | 'POST';
  url: string;
  query?: Record<string, string | number | boolean>;
  data?: Record<string, unknown>;
  headers?: Record<string, string>;
  as?: { ak: string; sk: string; projectId: string; region: string };
  projectId?: string;
}

function call<T>({ method = 'GET', url, query = {}, data, headers, as = ACCOUNT, projectId }: Call): Promise<T> {
  return client(as).sendRequest<T & { httpStatusCode: number }>({
    method,
    url,
    contentType: 'application/json',
    pathParams: { project_id: projectId ?? as.projectId },
    queryParams: query,
    headers: headers ?? { region: as.region },
    ...(data ? { data } : {}),
  });
}

const batchScan = (data: Record<string, unknown>, extra: Partial<Call> = {}) =>
  call<{ httpStatusCode: number }>({ method: 'POST', url: '/v5/{project_id}/image/batch-scan', data, ...extra });

const listRepos = (query: Record<string, string | number | boolean>, extra: Partial<Call> = {}) =>
  call<RepoPage>({ url: '/v5/{project_id}/image/swr-repository', query: { limit: 200, ...query }, ...extra });

async function allRepos(query: Record<string, string | number | boolean>): Promise<RepoItem[]> {
  const items: RepoItem[] = [];
  for (let offset = 0; ; offset += 200) {
    const page = await listRepos({ ...query, offset });
    items.push(...page.data_list);
    if (items.length >= page.total_num || page.data_list.length === 0) return items;
  }
}

async function findImage(query: Record<string, string>): Promise<RepoItem> {
  const page = await listRepos(query);
  expect(page.total_num).toBe(1);
  return page.data_list[0] as RepoItem;
}

async function control(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${sim.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json();
}

const state = () => control('/_sim/state/huawei') as Promise<HuaweiState>;

async function rejection(promise: Promise<unknown>): Promise<ClientRequestException> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientRequestException);
  return err as ClientRequestException;
}

beforeAll(async () => {
  sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: [createHuaweiHssFrontEnd({ SIM_HUAWEI_IMAGES: '200' })] });
});

afterAll(async () => {
  await sim?.close();
});

beforeEach(async () => {
  await control('/_sim/reset', {});
  await control('/_sim/config/huawei', { scanDurationMs: SCAN_MS, imagesPerAccount: 200, scanQuota: 0, rateLimitPerSecond: 0 });
});

describe('BatchScanSwrImage', () => {
  it('scans the listed images: scanning until the duration passes, then success with findings', async () => {
    const targets = (await listRepos({ image_type: 'private_image', scan_status: 'unscan', limit: 10 })).data_list.slice(0, 3);
    expect(targets).toHaveLength(3);
    const res = await batchScan({
      image_type: 'private_image',
      image_info_list: targets.map((t) => ({ namespace: t.namespace, image_name: t.image_name, image_version: t.image_version })),
    });
    expect(res.httpStatusCode).toBe(200);
    expect(Object.keys(res)).toEqual(['httpStatusCode']); // empty body: no task id

    for (const t of targets) {
      expect((await findImage({ image_type: 'private_image', namespace: t.namespace, image_name: t.image_name, image_version: t.image_version })).scan_status).toBe('scanning');
    }
    sim.ctx.clock.advance(SCAN_MS + 1);
    for (const t of targets) {
      const done = await findImage({ image_type: 'private_image', namespace: t.namespace, image_name: t.image_name, image_version: t.image_version });
      expect(done.scan_status).toBe('success');
      expect(done.scan_failed_desc).toBe('');
      expect(done.latest_scan_time).toBeGreaterThan(0);
    }
    const s = await state();
    expect(s.batchScanCalls).toEqual([expect.objectContaining({ account: ACCOUNT.name, listed: 3, matched: 3, unmatched: 0, started: 3, operateAll: false })]);
  });

  it('ends the special images in their documented failure states', async () => {
    await batchScan({
      image_type: 'private_image',
      image_info_list: ['scan-fails', 'download-fails', 'oversized'].map((n) => ({ namespace: 'scanq-special', image_name: n, image_version: '1.0.0' })),
    });
    await batchScan({ image_type: 'shared_image', image_info_list: [{ namespace: 'scanq-special', image_name: 'expired-share', image_version: '1.0.0' }] });
    sim.ctx.clock.advance(SCAN_MS + 1);
    const byName = async (name: string, type = 'private_image') =>
      findImage({ image_type: type, namespace: 'scanq-special', image_name: name, image_version: '1.0.0' });
    expect(await byName('scan-fails')).toMatchObject({ scan_status: 'failed', scan_failed_desc: 'unknown_error' });
    expect(await byName('download-fails')).toMatchObject({ scan_status: 'download_failed', scan_failed_desc: 'download_failed' });
    expect(await byName('oversized')).toMatchObject({ scan_status: 'image_oversized', scan_failed_desc: 'image_oversized' });
    expect(await byName('expired-share', 'shared_image')).toMatchObject({ scan_status: 'failed', scan_failed_desc: 'authentication_failed' });
  });

  it('scans exactly the images operate_all selects with its filters', async () => {
    const before = await allRepos({ image_type: 'private_image' });
    const namespace = (before[0] as RepoItem).namespace;
    const expected = before.filter((i) => i.namespace === namespace && i.latest_version && i.scan_status !== 'scanning');
    expect(expected.length).toBeGreaterThan(0);

    await batchScan({ image_type: 'private_image', operate_all: true, namespace, latest_version: true });

    const after = await allRepos({ image_type: 'private_image' });
    const scanning = after.filter((i) => i.scan_status === 'scanning').map((i) => i.id).sort();
    expect(scanning).toEqual(expected.map((i) => i.id).sort());
    // Shared and enterprise images are not private_image, so operate_all leaves them alone.
    expect((await listRepos({ image_type: 'shared_image', scan_status: 'scanning' })).total_num).toBe(0);
    expect((await state()).batchScanCalls[0]).toMatchObject({ operateAll: true, matched: expected.length, started: expected.length });
  });

  it('scans enterprise-instance images named by instance_id', async () => {
    const ee = (await listRepos({ image_type: 'instance_image', limit: 10 })).data_list[0] as RepoItem;
    expect(ee.instance_id).not.toBe('');
    await batchScan({
      image_type: 'private_image',
      image_info_list: [{ namespace: ee.namespace, image_name: ee.image_name, image_version: ee.image_version, instance_id: ee.instance_id }],
    });
    const again = await listRepos({ image_type: 'instance_image', instance_id: ee.instance_id, namespace: ee.namespace, image_name: ee.image_name, image_version: ee.image_version });
    expect(again.data_list.map((i) => i.scan_status)).toEqual(['scanning']);
  });

  it('ignores listed images that do not exist, reporting them only in state()', async () => {
    const res = await batchScan({
      image_type: 'private_image',
      image_info_list: [
        { namespace: 'nope', image_name: 'missing', image_version: '0.0.1' },
        { namespace: 'scanq-special', image_name: 'no-vulns', image_version: '1.0.0' },
      ],
    });
    expect(res.httpStatusCode).toBe(200);
    expect((await state()).batchScanCalls[0]).toMatchObject({ listed: 2, matched: 1, unmatched: 1, started: 1 });
  });

  const item = { namespace: 'ns', image_name: 'img', image_version: 'v1' };
  const invalid: [string, Record<string, unknown>, string][] = [
    ['image_info_list over 10241 entries', { image_type: 'private_image', image_info_list: Array.from({ length: 10242 }, () => item) }, 'image_info_list'],
    ['image_type missing', { image_info_list: [item] }, 'image_type'],
    ['image_type outside the enum', { image_type: 'local_image', image_info_list: [item] }, 'image_type'],
    ['neither an image list nor operate_all', { image_type: 'private_image' }, 'image_info_list'],
    ['operate_all false with an empty list', { image_type: 'private_image', operate_all: false, image_info_list: [] }, 'image_info_list'],
    ['list namespace over 64', { image_type: 'private_image', image_info_list: [{ ...item, namespace: 'n'.repeat(65) }] }, 'image_info_list[0].namespace'],
    ['list image_name empty', { image_type: 'private_image', image_info_list: [item, { ...item, image_name: '' }] }, 'image_info_list[1].image_name'],
    ['list image_version over 128', { image_type: 'private_image', image_info_list: [{ ...item, image_version: 'v'.repeat(129) }] }, 'image_info_list[0].image_version'],
    ['list instance_id over 128', { image_type: 'private_image', image_info_list: [{ ...item, instance_id: 'i'.repeat(129) }] }, 'image_info_list[0].instance_id'],
    ['list instance_url over 256', { image_type: 'private_image', image_info_list: [{ ...item, instance_url: 'u'.repeat(257) }] }, 'image_info_list[0].instance_url'],
    ['repo_type not SWR', { repo_type: 'harbor', image_type: 'private_image', operate_all: true }, 'repo_type'],
    ['operate_all not a boolean', { image_type: 'private_image', operate_all: 'true' }, 'operate_all'],
    ['filter namespace over 256', { image_type: 'private_image', operate_all: true, namespace: 'n'.repeat(257) }, 'namespace'],
    ['filter image_name empty', { image_type: 'private_image', operate_all: true, image_name: '' }, 'image_name'],
    ['filter scan_status outside the enum', { image_type: 'private_image', operate_all: true, scan_status: 'waiting_for_scan' }, 'scan_status'],
    ['image_size over 2147483547', { image_type: 'private_image', operate_all: true, image_size: 2147483548 }, 'image_size'],
    ['negative start_latest_update_time', { image_type: 'private_image', operate_all: true, start_latest_update_time: -1 }, 'start_latest_update_time'],
    ['end_latest_scan_time over 2147483547', { image_type: 'private_image', operate_all: true, end_latest_scan_time: 2147483548 }, 'end_latest_scan_time'],
  ];
  it.each(invalid)('rejects %s with HSS.0001 naming the field', async (_label, body, field) => {
    const err = await rejection(batchScan(body));
    expect(err.httpStatusCode).toBe(400);
    expect(err.errorCode).toBe('HSS.0001');
    expect(err.errorMsg).toContain(`${field}:`);
    expect(err.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect((await state()).batchScanCalls).toEqual([]);
  });

  it('requires the region header', async () => {
    const err = await rejection(batchScan({ image_type: 'private_image', operate_all: true }, { headers: {} }));
    expect([err.httpStatusCode, err.errorCode]).toEqual([400, 'HSS.0001']);
    expect(err.errorMsg).toContain('region:');
  });

  it('accepts a list of exactly 10241 images', async () => {
    const list = Array.from({ length: 10241 }, (_, i) => ({ namespace: 'ns', image_name: `img-${i}`, image_version: 'v1' }));
    expect((await batchScan({ image_type: 'private_image', image_info_list: list })).httpStatusCode).toBe(200);
    expect((await state()).batchScanCalls[0]).toMatchObject({ listed: 10241, unmatched: 10241 });
  });

  it('answers HSS.1002 once the scan quota would be exceeded', async () => {
    await control('/_sim/config/huawei', { scanQuota: 1 });
    const special = (name: string) => ({ namespace: 'scanq-special', image_name: name, image_version: '1.0.0' });
    await batchScan({ image_type: 'private_image', image_info_list: [special('no-vulns')] });
    const err = await rejection(batchScan({ image_type: 'private_image', image_info_list: [special('many-vulns')] }));
    expect([err.httpStatusCode, err.errorCode]).toEqual([400, 'HSS.1002']);
  });

  it('scans 20,000+ images of one account with a single operate_all call', async () => {
    await control('/_sim/config/huawei', { imagesPerAccount: 25_000 });
    expect((await batchScan({ image_type: 'private_image', operate_all: true })).httpStatusCode).toBe(200);
    const [acct] = (await state()).accounts;
    expect(acct?.images.total).toBe(25_006);
    expect(acct?.scanStatusCounts.scanning).toBeGreaterThan(20_000);
    const scanning = await listRepos({ image_type: 'private_image', scan_status: 'scanning', limit: 10 });
    expect(scanning.total_num).toBe(acct?.scanStatusCounts.scanning);
    expect(scanning.data_list).toHaveLength(10);
  });
});

describe('ListSwrImageRepository', () => {
  it('pages through the inventory with every documented field', async () => {
    const all = await allRepos({ image_type: 'private_image' });
    const first = await listRepos({ image_type: 'private_image' });
    expect(all).toHaveLength(first.total_num);
    expect(new Set(all.map((i) => i.id)).size).toBe(all.length);
    expect(first.data_list[0]).toEqual(
      expect.objectContaining({
        id: expect.any(Number),
        namespace: expect.any(String),
        image_name: expect.any(String),
        image_id: expect.stringMatching(/^[0-9a-f]{64}$/),
        image_digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        image_version: expect.any(String),
        image_type: 'private_image',
        latest_version: expect.any(Boolean),
        scan_status: expect.any(String),
        image_size: expect.any(Number),
        latest_update_time: expect.any(Number),
        vul_num: expect.any(Number),
        unsafe_setting_num: expect.any(Number),
        malicious_file_num: expect.any(Number),
        scannable: true,
      }),
    );
    expect((await listRepos({ image_type: 'private_image', limit: 10 })).data_list).toHaveLength(10);
  });

  it('selects by latest scan completion: start_latest_scan_time lists scans finished since then, failed ones included', async () => {
    const since = sim.ctx.clock.now();
    const regular = (await listRepos({ image_type: 'private_image', scan_status: 'unscan', limit: 10 })).data_list[0] as RepoItem;
    const names = [regular, { namespace: 'scanq-special', image_name: 'scan-fails', image_version: '1.0.0' }];
    await batchScan({ image_type: 'private_image', image_info_list: names.map((n) => ({ namespace: n.namespace, image_name: n.image_name, image_version: n.image_version })) });
    // Still running: their latest completed scan is older (or none), so the window lists neither.
    expect((await listRepos({ image_type: 'private_image', start_latest_scan_time: since })).total_num).toBe(0);
    sim.ctx.clock.advance(SCAN_MS + 1);
    const finished = await listRepos({ image_type: 'private_image', start_latest_scan_time: since });
    expect(finished.data_list.map((i) => [i.image_name, i.scan_status]).sort()).toEqual([
      [regular.image_name, 'success'],
      ['scan-fails', 'failed'],
    ].sort());
    for (const i of finished.data_list) expect(i.latest_scan_time).toBeGreaterThanOrEqual(since);
    // A window starting after both completions is empty again.
    expect((await listRepos({ image_type: 'private_image', start_latest_scan_time: sim.ctx.clock.now() + 1 })).total_num).toBe(0);
  });

  it('verifies signatures over query values that need percent-encoding', async () => {
    const page = await listRepos({ image_type: 'private_image', namespace: "team a+b/ü~*'()!", enterprise_project_id: 'all_granted_eps' });
    expect(page).toMatchObject({ total_num: 0, data_list: [] });
  });

  it('keeps each account to its own images', async () => {
    const mine = await listRepos({ image_type: 'private_image', limit: 10 });
    const theirs = await listRepos({ image_type: 'private_image', limit: 10 }, { as: OTHER_ACCOUNT });
    expect(theirs.data_list[0]?.image_digest).not.toBe(mine.data_list[0]?.image_digest);
  });

  it.each([
    [{ limit: 5 }, 'limit'],
    [{ limit: 201 }, 'limit'],
    [{ offset: -1 }, 'offset'],
    [{ image_version: 'v'.repeat(65) }, 'image_version'],
    [{ scan_status: 'done' }, 'scan_status'],
    [{ has_vul: 'yes' }, 'has_vul'],
  ] as [Record<string, string | number>, string][])('rejects %o with HSS.0001', async (query, field) => {
    const err = await rejection(listRepos({ image_type: 'private_image', ...query }));
    expect([err.httpStatusCode, err.errorCode]).toEqual([400, 'HSS.0001']);
    expect(err.errorMsg).toContain(`${field}:`);
  });

  it('requires image_type', async () => {
    const err = await rejection(call({ url: '/v5/{project_id}/image/swr-repository', query: {} }));
    expect(err.errorMsg).toContain('image_type:');
  });
});

describe('ListImageVulnerabilities', () => {
  const vulns = (img: RepoItem, query: Record<string, string | number> = {}) =>
    call<VulPage>({
      url: `/v5/{project_id}/image/${img.image_id}/vulnerabilities`,
      query: { image_type: img.image_type, namespace: img.namespace, image_name: img.image_name, tag_name: img.image_version, ...query },
    });

  it('pages findings that add up to total_num and vul_num', async () => {
    const img = await findImage({ image_type: 'private_image', namespace: 'scanq-special', image_name: 'many-vulns' });
    expect(img.vul_num).toBeGreaterThan(200);
    const seen: string[] = [];
    let total = -1;
    for (let offset = 0; total < 0 || offset < total; offset += 50) {
      const page = await vulns(img, { offset, limit: 50 });
      total = page.total_num;
      seen.push(...page.data_list.map((v) => `${v.vul_id}|${v.app_name}`));
    }
    expect(total).toBe(img.vul_num);
    expect(seen).toHaveLength(total);
    const big = await vulns(img, { limit: 200 });
    expect(big.data_list).toHaveLength(200);
    expect(big.data_list[0]).toEqual(
      expect.objectContaining({ vul_id: expect.stringMatching(/^CVE-/), repair_necessity: expect.stringMatching(/^(immediate|delay|not_needed)_repair$/) }),
    );
    // Deterministic from the digest.
    expect((await vulns(img, { limit: 200 })).data_list).toEqual(big.data_list);
    const urgent = await vulns(img, { repair_necessity: 'immediate_repair', limit: 200 });
    expect(urgent.total_num).toBeGreaterThan(0);
    expect(urgent.total_num).toBeLessThan(total);
    expect(urgent.data_list.every((v) => v.repair_necessity === 'immediate_repair')).toBe(true);
  });

  it('reports findings only after a successful scan', async () => {
    const [img] = (await listRepos({ image_type: 'private_image', scan_status: 'unscan', has_vul: false })).data_list.filter((i) => i.namespace !== 'scanq-special');
    expect(img).toBeDefined();
    const target = img as RepoItem;
    expect((await vulns(target)).total_num).toBe(0);
    await batchScan({ image_type: 'private_image', image_info_list: [{ namespace: target.namespace, image_name: target.image_name, image_version: target.image_version }] });
    sim.ctx.clock.advance(SCAN_MS + 1);
    const scanned = await findImage({ image_type: 'private_image', namespace: target.namespace, image_name: target.image_name, image_version: target.image_version });
    expect((await vulns(target, { limit: 200 })).total_num).toBe(scanned.vul_num);
  });

  it('enforces limit 10-200 and the required parameters', async () => {
    const img = await findImage({ image_type: 'private_image', namespace: 'scanq-special', image_name: 'many-vulns' });
    for (const [query, field] of [
      [{ limit: 9 }, 'limit'],
      [{ limit: 201 }, 'limit'],
      [{ offset: 2_000_001 }, 'offset'],
      [{ image_type: 'local_image' }, 'image_type'],
    ] as [Record<string, string | number>, string][]) {
      const err = await rejection(vulns(img, query));
      expect([err.httpStatusCode, err.errorCode, err.errorMsg?.includes(`${field}:`)]).toEqual([400, 'HSS.0001', true]);
    }
    const missing = await rejection(call({ url: `/v5/{project_id}/image/${img.image_id}/vulnerabilities`, query: { image_type: 'private_image', namespace: img.namespace, image_name: img.image_name } }));
    expect(missing.errorMsg).toContain('tag_name:');
  });
});

describe('CreateManualImageScanTask and ListImageScanTask', () => {
  interface TaskPage {
    total_num: number;
    data_list: { task_id: string; task_status: number; total_num: number; success_num: number; failed_num: number; is_all: boolean; end_time: number; failed_images: { failed_reason: string }[] }[];
  }
  const createTask = (data: Record<string, unknown>) =>
    call<{ httpStatusCode: number }>({ method: 'POST', url: '/v5/{project_id}/image/image-scan/tasks', query: { global_image_type: 'registry' }, data });
  const listTasks = (query: Record<string, string | number> = {}) => call<TaskPage>({ url: '/v5/{project_id}/image/tasks', query: { type: 'image_scan', ...query } });

  it('creates a task for listed images whose progress reaches 100 with per-image outcomes', async () => {
    const special = (name: string) => findImage({ image_type: 'private_image', namespace: 'scanq-special', image_name: name });
    const [ok, bad] = [await special('no-vulns'), await special('scan-fails')];
    const res = await createTask({
      scan_scope: 0x7fffffff,
      is_all: false,
      image_info: [ok, bad].map((i) => ({ id: i.id, image_digest: i.image_digest, namespace: i.namespace, image_name: i.image_name, image_version: i.image_version, registry_type: 'SwrPrivate' })),
    });
    expect(Object.keys(res)).toEqual(['httpStatusCode']);
    const running = (await listTasks()).data_list[0];
    expect(running).toMatchObject({ task_status: 0, total_num: 2, end_time: 0 });
    sim.ctx.clock.advance(SCAN_MS + 1);
    const done = await listTasks({ task_id: running?.task_id as string });
    expect(done.total_num).toBe(1);
    expect(done.data_list[0]).toMatchObject({ task_status: 100, total_num: 2, success_num: 1, failed_num: 1, failed_images: [{ failed_reason: 'unknown_error' }] });
    expect((await special('scan-fails')).scan_status).toBe('failed');
  });

  it('scans every image of a type with is_all and query_info', async () => {
    await createTask({ is_all: true, query_info: { image_type: 'shared_image' } });
    const shared = await listRepos({ image_type: 'shared_image' });
    const task = (await listTasks()).data_list[0];
    expect(task).toMatchObject({ is_all: true, total_num: shared.total_num });
    expect(shared.data_list.every((i) => i.scan_status === 'scanning')).toBe(true);
  });

  it('validates the request like the other HSS APIs', async () => {
    const noImages = await rejection(createTask({ is_all: false }));
    expect([noImages.errorCode, noImages.errorMsg?.includes('image_info:')]).toEqual(['HSS.0001', true]);
    const badRate = await rejection(createTask({ is_all: true, rate_limit: 1001 }));
    expect(badRate.errorMsg).toContain('rate_limit:');
    const noType = await rejection(call({ url: '/v5/{project_id}/image/tasks', query: {} }));
    expect(noType.errorMsg).toContain('type:');
  });
});

describe('authentication and faults', () => {
  const path = `/v5/${ACCOUNT.projectId}/image/swr-repository?image_type=private_image`;

  it('rejects an unsigned request with APIG.0301 (401)', async () => {
    const res = await fetch(`${sim.url}${path}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(await res.json()).toMatchObject({ error_code: 'APIG.0301', error_msg: expect.stringContaining('Incorrect IAM authentication information') });
  });

  it('rejects a wrong SK, an unknown AK and a stale X-Sdk-Date signed by the SDK', async () => {
    const wrongSk = await rejection(listRepos({ image_type: 'private_image' }, { as: { ...ACCOUNT, sk: 'not-the-secret' } }));
    expect([wrongSk.httpStatusCode, wrongSk.errorCode, wrongSk.errorMsg]).toEqual([401, 'APIG.0301', 'Incorrect IAM authentication information: verify aksk signature fail']);
    const unknownAk = await rejection(listRepos({ image_type: 'private_image' }, { as: { ...ACCOUNT, ak: 'HWUNKNOWNAK000000000' } }));
    expect([unknownAk.httpStatusCode, unknownAk.errorCode]).toEqual([401, 'APIG.0301']);
    expect(unknownAk.errorMsg).toContain('ak not exist');
    const stale = await rejection(listRepos({ image_type: 'private_image' }, { headers: { region: ACCOUNT.region, 'X-Sdk-Date': '20200101T000000Z' } }));
    expect([stale.httpStatusCode, stale.errorCode]).toEqual([401, 'APIG.0301']);
    expect(stale.errorMsg).toContain('signature expired');
  });

  /** Signs like the SDK (content-type;host;region;x-sdk-date) and sends `sentBody` instead of `signedBody`. */
  function signedPost(url: string, signedBody: string, sentBody = signedBody): Promise<Response> {
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const host = new URL(sim.url).host;
    const canonical = [
      'POST',
      `${url}/`,
      '',
      `content-type:application/json\nhost:${host}\nregion:${ACCOUNT.region}\nx-sdk-date:${date}\n`,
      'content-type;host;region;x-sdk-date',
      createHash('sha256').update(signedBody).digest('hex'),
    ].join('\n');
    const stringToSign = `SDK-HMAC-SHA256\n${date}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', ACCOUNT.sk).update(stringToSign).digest('hex');
    return fetch(`${sim.url}${url}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        region: ACCOUNT.region,
        'x-sdk-date': date,
        authorization: `SDK-HMAC-SHA256 Access=${ACCOUNT.ak}, SignedHeaders=content-type;host;region;x-sdk-date, Signature=${signature}`,
      },
      body: sentBody,
    });
  }

  it('rejects a correctly signed request whose body was altered in transit', async () => {
    const url = `/v5/${ACCOUNT.projectId}/image/batch-scan`;
    const body = JSON.stringify({ image_type: 'private_image', operate_all: true, namespace: 'web' });
    const tampered = await signedPost(url, body, body.replace('web', 'payments'));
    expect(tampered.status).toBe(401);
    expect(await tampered.json()).toMatchObject({ error_code: 'APIG.0301' });
    expect((await signedPost(url, body)).status).toBe(200); // the same signature over the real body is accepted
  });

  it('answers HSS.0002 for a signed body that is not JSON', async () => {
    const res = await signedPost(`/v5/${ACCOUNT.projectId}/image/batch-scan`, '{"image_type":');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error_code: 'HSS.0002' });
  });

  it('rejects token authentication, which the simulator does not issue', async () => {
    const res = await fetch(`${sim.url}${path}`, { headers: { 'x-auth-token': 'MIIPAgYJKoZIhvcNAQcCo' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error_code: 'APIG.0301', error_msg: expect.stringContaining('decrypt token fail') });
  });

  it("rejects a path project_id that is not the caller's project", async () => {
    const err = await rejection(listRepos({ image_type: 'private_image' }, { projectId: OTHER_ACCOUNT.projectId }));
    expect([err.httpStatusCode, err.errorCode]).toEqual([400, 'HSS.0010']);
  });

  it('answers unknown APIs with APIG.0101 (404)', async () => {
    const err = await rejection(call({ url: '/v5/{project_id}/image/no-such-api' }));
    expect([err.httpStatusCode, err.errorCode]).toEqual([404, 'APIG.0101']);
  });

  it('renders an injected server_error as a 5xx ServerResponseException', async () => {
    await control('/_sim/faults', { cloud: 'huawei', api: 'BatchScanSwrImage', kind: 'server_error', count: 1 });
    const err = await batchScan({ image_type: 'private_image', operate_all: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerResponseException);
    expect((err as ServerResponseException).httpStatusCode).toBe(500);
    expect((await state()).batchScanCalls).toEqual([]);
  });

  it('renders an injected throttle as APIG.0308 (429)', async () => {
    await control('/_sim/faults', { cloud: 'huawei', api: 'ListSwrImageRepository', kind: 'throttle', count: 1 });
    const err = await rejection(listRepos({ image_type: 'private_image' }));
    expect([err.httpStatusCode, err.errorCode]).toEqual([429, 'APIG.0308']);
    expect(err.errorMsg).toContain('The throttling threshold has been reached');
    expect((await listRepos({ image_type: 'private_image' })).total_num).toBeGreaterThan(0);
  });

  it('applies APIG flow control when a rate limit is configured', async () => {
    await control('/_sim/config/huawei', { rateLimitPerSecond: 1 });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => listRepos({ image_type: 'private_image', limit: 10 })));
    const throttledCalls = results.filter((r) => r.status === 'rejected' && (r.reason as ClientRequestException).errorCode === 'APIG.0308');
    expect(throttledCalls.length).toBeGreaterThan(0);
  });

  it('rejects invalid runtime options', async () => {
    const res = await fetch(`${sim.url}/_sim/config/huawei`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scanDurationMs: -1 }) });
    expect(res.status).toBe(400);
  });
});
