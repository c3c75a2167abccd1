import { readFileSync } from 'node:fs';
import { alibabaScanTargetSchema } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../../apps/simulator/src/core/server.js';
import type { CannedReply } from '../../../apps/simulator/src/core/replies.js';
import { createFrontEnds } from '../../../apps/simulator/src/frontends.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';
import { AlibabaSasProvider } from '../src/alibaba/index.js';
import { AwsEcrProvider } from '../src/aws/index.js';
import type { ImageRef } from '../src/contract.js';
import { HuaweiHssProvider } from '../src/huawei/index.js';
import { TencentTcssProvider } from '../src/tencent/index.js';
import { simAccount } from './sim-clouds.js';

/**
 * Conformance to the clouds' own documents: every example response of
 * /work/shared/provider-docs (copied verbatim into ./docs-examples, sources in its README) is
 * served by the simulator as a canned reply to the adapter's real SDK, which signs, sends and
 * parses it as it would the cloud's; the test asserts what scanq makes of it and what the SDK
 * asked (the request the simulator recorded), and that the simulator counted exactly those calls.
 */
const example = (name: string) => readFileSync(new URL(`./docs-examples/${name}`, import.meta.url), 'utf8');

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'docs-conformance', frontEnds: createFrontEnds({}) });
});
afterAll(() => sim?.close());
beforeEach(async () => {
  await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
});

async function serve(cloud: string, api: string, body: string, opts: { count?: number; headers?: Record<string, string> } = {}): Promise<void> {
  const res = await fetch(`${sim.url}/_sim/replies`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ cloud, api, body, count: opts.count ?? 1, headers: opts.headers ?? { 'content-type': 'application/json' } }),
  });
  if (!res.ok) throw new Error(`arming ${cloud}:${api}: ${res.status} ${await res.text()}`);
}
const served = async (): Promise<CannedReply[]> => ((await (await fetch(`${sim.url}/_sim/replies`)).json()) as { replies: CannedReply[] }).replies;

describe('AWS ECR: StartImageScan sample response', () => {
  it('starts the scan the example answers IN_PROGRESS for, addressed by digest', async () => {
    const digest = 'sha256:74b2c688c700ec95a93e478cdb959737c148df3fbf5ea706abe0318726e885e6';
    await serve('aws', 'StartImageScan', example('aws-ecr-StartImageScan.response.json'), {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': '3081a92b-2066-41f8-8a47-0580288ada9e' },
    });
    const aws = new AwsEcrProvider(SIM_DEPS);
    const account = simAccount('aws', sim.url);
    const image: ImageRef = { registry: '012345678910', repository: 'sample-repo', tags: [], digest };
    const started = await aws.startScan(account, { repositoryName: 'sample-repo', imageId: { imageDigest: digest } }, [image]);
    expect(started).toEqual({ taskId: digest });
    const [reply] = await served();
    // The document's own sample request, as the SDK sent it (plus the registry scanq names).
    expect(JSON.parse(reply!.served[0]!.body)).toEqual({ repositoryName: 'sample-repo', registryId: '012345678910', imageId: { imageDigest: digest } });
    expect((await simulatorCalls(sim.url)).outcomes).toEqual({ 'aws:StartImageScan:canned': 1 });
  });
});

describe('Alibaba SAS: DescribeImageInstances and PublicCreateImageScanTask examples', () => {
  const body = example('alibaba-sas-DescribeImageInstances.response.json');
  const item = (JSON.parse(body) as { ImageInstanceList: Record<string, unknown>[] }).ImageInstanceList[0]!;

  it('lists the example image as inventory; its TotalCount (69, one item a page) is paged to the end and the item kept once', async () => {
    // PageInfo says 69 images, 20 a page, Count 4, and lists one: the adapter reads pages until
    // TotalCount is covered (4 pages of 20) and deduplicates by Uuid.
    await serve('alibaba', 'DescribeImageInstances', body, { count: 4 });
    const sas = new AlibabaSasProvider(SIM_DEPS, { instancesPageSize: 20 });
    const pages = [];
    for await (const page of sas.listImages(simAccount('alibaba', sim.url), {})) pages.push(...page);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({
      registry: 'acr:cn-hangzhou:39010****',
      repository: 'N/A/sas-script-test',
      tags: ['mysql_5.7'],
      digest: 'sha256:a5ccdd9b166b67e02954aa9b618fe19b7968bd56a15463d2ad7f2643ba5b****',
      providerImageId: '12f80307-60aa-4efa-863a-56d72fb****',
      namespace: 'N/A',
      region: 'cn-hangzhou',
      pushedAt: new Date(1600069948849),
    });
    expect(pages[0]!.unscannable).toBeUndefined();
    const [reply] = await served();
    expect(reply!.served.map((r) => new URLSearchParams(r.query).get('CurrentPage'))).toEqual(['1', '2', '3', '4']);
    expect((await simulatorCalls(sim.url)).outcomes).toEqual({ 'alibaba:DescribeImageInstances:canned': 4 });
  });

  it('reads the example (ScaStatus SUCCESS with ScaResult TASK_NOT_SUPPORT_REGION) as a failed image: unsupported region, no findings call', async () => {
    await serve('alibaba', 'DescribeImageInstances', body, { count: 4 });
    const sas = new AlibabaSasProvider(SIM_DEPS, { instancesPageSize: 20 });
    const account = simAccount('alibaba', sim.url);
    const images = await sas.resolveImages(account, {});
    expect(images.map((i) => i.providerImageId)).toEqual([item.Uuid]);
    await serve('alibaba', 'DescribeImageInstances', body, { count: 4 });
    const progress = await sas.pollScan(account, { taskId: 'a410bb3e68c217a3368bc0238c66886d', target: {}, images });
    expect(progress.images).toEqual([expect.objectContaining({ index: 0, state: 'failed', reason: 'unsupported_region' })]);
    const calls = await simulatorCalls(sim.url);
    expect(calls.outcomes).toEqual({ 'alibaba:DescribeImageInstances:canned': 8 });
  });

  it('creates the task the example answers for, by a documented CI/CD registry type, and keeps its TaskId and CanCreate', async () => {
    // Every documented RegistryType is a valid request value, CI/CD included.
    const target = alibabaScanTargetSchema.parse({ registryTypes: ['CI/CD'] });
    await serve('alibaba', 'PublicCreateImageScanTask', example('alibaba-sas-PublicCreateImageScanTask.response.json'));
    const sas = new AlibabaSasProvider(SIM_DEPS);
    // The pre-check runs against the simulated cloud (which accepts CI/CD), the create is the example.
    const started = await sas.startScan(simAccount('alibaba', sim.url), target);
    expect(started).toEqual({ taskId: 'a410bb3e68c217a3368bc0238c66886d', canCreate: true });
    const [reply] = await served();
    expect(new URLSearchParams(reply!.served[0]!.query).get('RegistryTypes')).toBe('CI/CD');
    const calls = await simulatorCalls(sim.url);
    expect(calls.outcomes['alibaba:PublicPreCheckImageScanTask:ok']).toBe(1);
    expect(calls.outcomes['alibaba:PublicCreateImageScanTask:canned']).toBe(1);
  });
});

describe('Tencent TCSS: DescribeAssetImageRegistryDetail examples (no Id in the answer)', () => {
  const cases = [
    { n: 1, id: 5427, registry: 'ccr.ccs.tencentyun.com', repository: 'yunding/person1', tag: 'v1', digest: 'sha256:615475135bb705517e749767a28f6bd57199008d3e9b688efa0f73a8befccc97', at: '2022-01-14T13:03:19.000Z' },
    { n: 2, id: 3421599, registry: 'hkccr.ccs.tencentyun.com', repository: 'mhzou/mhccrxg', tag: 'mhccrxg1', digest: 'sha256:8d8faaa36c253a8745c392fc71640757d29a5f026fc0e44bb9c98d56544f5175', at: '2022-01-19T14:58:23.000Z' },
  ];
  for (const c of cases) {
    it(`example ${c.n}: resolves the image under the Id it asked with, reads it scanned at ${c.at}, and polls it succeeded`, async () => {
      const body = example(`tencent-tcss-DescribeAssetImageRegistryDetail.${c.n}.response.json`);
      expect(JSON.parse(body).Response.Id).toBeUndefined();
      // The document's request names the image by Id (a string in example 1, a number in 2).
      const requested = Number((JSON.parse(example(`tencent-tcss-DescribeAssetImageRegistryDetail.${c.n}.request.json`)) as { Id: string | number }).Id);
      expect(requested).toBe(c.id);
      await serve('tencent', 'DescribeAssetImageRegistryDetail', body, { count: 3 });
      const tc = new TencentTcssProvider(SIM_DEPS);
      const account = simAccount('tencent', sim.url);
      const [image] = await tc.resolveImages(account, { repositoryIds: [c.id] });
      expect(image).toEqual({ registry: c.registry, repository: c.repository, tags: [c.tag], digest: c.digest, providerImageId: String(c.id) });
      expect(await tc.latestScan(account, image!)).toEqual({ state: 'complete', at: new Date(c.at) });
      const progress = await tc.pollScan(account, { target: { repositoryIds: [c.id] }, images: [image!] });
      expect(progress.progress).toBe(100);
      expect(progress.images).toEqual([expect.objectContaining({ index: 0, state: 'succeeded' })]);
      const [reply] = await served();
      expect(reply!.served.map((r) => JSON.parse(r.body))).toEqual([{ Id: c.id }, { Id: c.id }, { Id: c.id }]);
      expect((await simulatorCalls(sim.url)).outcomes).toEqual({ 'tencent:DescribeAssetImageRegistryDetail:canned': 3 });
    });
  }

  it('the simulator takes the documented request forms (Id as a string and as a number) and answers without Id', async () => {
    const tc = new TencentTcssProvider(SIM_DEPS);
    const account = simAccount('tencent', sim.url);
    const [listed] = await collect(tc.listImages(account, {}));
    const id = Number(listed!.providerImageId);
    for (const Id of [String(id), id]) {
      const res = await signedTencent(account, 'DescribeAssetImageRegistryDetail', { Id });
      expect(res.Response.Error).toBeUndefined();
      expect(res.Response.Id).toBeUndefined();
      expect(res.Response.ImageDigest).toBe(listed!.digest);
    }
    // By ImageId the answer has no Id either: the adapter finds it in the list.
    const raw = listed!.raw as { ImageId: string };
    const byImageId = await tc.resolveImages(account, { imageIds: [raw.ImageId] });
    expect(byImageId.map((i) => i.providerImageId)).toContain(String(id));
  });
});

describe('Huawei HSS: BatchScanSwrImage (documented answer: 200, no body)', () => {
  it('sends the documented example request and takes the empty answer as a started scan', async () => {
    await serve('huawei', 'BatchScanSwrImage', '', { headers: {} });
    const hss = new HuaweiHssProvider(SIM_DEPS);
    const account = simAccount('huawei', sim.url);
    const target = {
      image_type: 'private_image' as const,
      image_info_list: [
        { image_name: 'openjdk', image_version: 'v8.8', namespace: 'test' },
        { image_name: 'openjdk1', image_version: 'v1.0', namespace: 'test1' },
      ],
    };
    // As resolveImages hands them over: listed by HSS (an image id), keyed by type/namespace/name/tag.
    const images: ImageRef[] = [
      { registry: 'private_image', repository: 'test/openjdk', tags: ['v8.8'], providerImageId: 'img-openjdk' },
      { registry: 'private_image', repository: 'test1/openjdk1', tags: ['v1.0'], providerImageId: 'img-openjdk1' },
    ];
    const started = await hss.startScan(account, target, images);
    expect(started.taskId).toMatch(/\S/);
    const [reply] = await served();
    // The body the document's first example request shows.
    expect(JSON.parse(reply!.served[0]!.body)).toEqual({
      image_type: 'private_image',
      image_info_list: [
        { image_name: 'openjdk', image_version: 'v8.8', namespace: 'test' },
        { image_name: 'openjdk1', image_version: 'v1.0', namespace: 'test1' },
      ],
    });
    expect((await simulatorCalls(sim.url)).outcomes).toEqual({ 'huawei:BatchScanSwrImage:canned': 1 });
  });
});

async function collect<T>(it: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of it) out.push(...page);
  return out;
}

/** One TCSS call through the real SDK's common client, with the params exactly as given (Id a string or a number). */
async function signedTencent(account: ReturnType<typeof simAccount>, action: string, params: Record<string, unknown>): Promise<{ Response: Record<string, any> }> {
  const { CommonClient } = await import('tencentcloud-sdk-nodejs/tencentcloud/common/common_client.js');
  const url = new URL(account.endpoint!);
  const client = new CommonClient('tcss.tencentcloudapi.com', '2020-11-01', {
    credential: { secretId: account.credentials.secretId, secretKey: account.credentials.secretKey },
    region: account.region,
    profile: { httpProfile: { endpoint: url.host, protocol: `${url.protocol}//` } },
  });
  try {
    return { Response: (await client.request(action, params)) as Record<string, any> };
  } catch (err) {
    return { Response: { Error: { Code: (err as { code?: string }).code, Message: (err as Error).message } } };
  }
}

describe("the simulator takes the documents' example requests", () => {
  it('Huawei BatchScanSwrImage: both example bodies (an image list; operate_all) answer 200 with no body', async () => {
    const { HssClients } = await import('../src/huawei/client.js');
    const { ProviderTransport } = await import('../src/transport.js');
    const { DEFAULT_TIMEOUTS } = await import('../src/contract.js');
    const account = simAccount('huawei', sim.url);
    const api = new HssClients(DEFAULT_TIMEOUTS, new ProviderTransport(SIM_DEPS)).for(account);
    const send = (body: Record<string, unknown>) =>
      api.send<{ httpStatusCode: number }>({ api: 'BatchScanSwrImage', method: 'POST', url: '/v5/{project_id}/image/batch-scan', region: account.region, query: { enterprise_project_id: 'all_granted_eps' }, body });
    for (const body of [
      { image_type: 'private_image', image_info_list: [{ image_name: 'openjdk', image_version: 'v8.8', namespace: 'test' }, { image_name: 'openjdk1', image_version: 'v1.0', namespace: 'test1' }] },
      { image_type: 'private_image', operate_all: true },
    ]) {
      expect((await send(body)).httpStatusCode).toBe(200);
    }
    expect((await simulatorCalls(sim.url)).outcomes).toEqual({ 'huawei:BatchScanSwrImage:ok': 2 });
  });

  it("Alibaba DescribeImageInstances: the example's Criteria (instanceId, AND) and every documented RegistryType as a criterion", async () => {
    const { SasClient } = await import('../src/alibaba/sas-client.js');
    const sas = new SasClient(undefined, undefined, undefined, new (await import('../src/transport.js')).ProviderTransport(SIM_DEPS));
    const account = simAccount('alibaba', sim.url);
    const byInstance = await sas.call(account, 'DescribeImageInstances', { Criteria: '[{"name":"instanceId","value":"390100182","logicalExp":"AND"}]', PageSize: 20, CurrentPage: 1, Scanned: true });
    expect(byInstance.PageInfo).toMatchObject({ CurrentPage: 1, PageSize: 20 });
    for (const type of ['acr', 'harbor', 'quay', 'CI/CD']) {
      const body = await sas.call(account, 'DescribeImageInstances', { Criteria: JSON.stringify([{ name: 'registryType', value: type }]), LogicalExp: 'OR' });
      for (const item of body.ImageInstanceList as { RegistryType: string }[]) expect(item.RegistryType).toBe(type);
    }
    expect((await simulatorCalls(sim.url)).outcomes).toEqual({ 'alibaba:DescribeImageInstances:ok': 5 });
  });
});

describe('canned replies (POST /_sim/replies)', () => {
  it('refuses a bad rule naming each field and its rule, arming nothing', async () => {
    const res = await fetch(`${sim.url}/_sim/replies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ cloud: 'aws', api: 'StartImageScan', body: '{}' }, { cloud: 'gcp', api: '', body: 1, count: 0, extra: true }]),
    });
    expect(res.status).toBe(400);
    const issues = ((await res.json()) as { issues: { field: string; rule: string }[] }).issues.map((i) => `${i.field} ${i.rule}`);
    expect(issues).toEqual(['[1].extra unknown_field', '[1].cloud one_of', '[1].api type', '[1].body type', '[1].count minimum']);
    expect(await served()).toEqual([]);
  });
});
