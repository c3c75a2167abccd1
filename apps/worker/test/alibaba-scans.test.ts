import { type AlibabaScanTarget, SIMULATOR_ACCOUNTS } from '@scanq/core';
import { type CloudAccount, QuotaLedgerRepository } from '@scanq/db';
import { AlibabaSasProvider, type ProviderAccount } from '@scanq/providers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlibabaScanTaskPolicy } from '../../../packages/scans/src/start-policies/alibaba-scan-task.policy.js';
import { waitFor } from '../../../test/support/wait.js';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';
import { SIM_DEPS } from '../../../test/support/provider-deps.js';

const SIM = SIMULATOR_ACCOUNTS.alibaba[0];

interface SimImage {
  uuid: string;
  digest: string;
  tag: string;
  repoName: string;
  repoNamespace: string;
  registryType: string;
  instanceId: string;
  regionId: string;
  supportedRegion: boolean;
  behaviour: 'normal' | 'scan-fail' | 'scan-timeout';
  previousScanAt?: number;
  potentialFindings: number;
}
interface SimAccount {
  name: string;
  beyondQuataCount: number;
  runningTaskCount: number;
  runningTasks: { taskId: string; uuids: string[] }[];
  finishedTasks: { taskId: string; uuids: string[] }[];
  images: SimImage[];
}

describe('Alibaba SAS scans through the worker (real Redis, Postgres, openapi-client, simulator)', () => {
  let h: WorkerHarness;
  let account: CloudAccount;
  let outside: ProviderAccount;
  let policy: AlibabaScanTaskPolicy;
  const sas = new AlibabaSasProvider(SIM_DEPS);

  beforeAll(async () => {
    h = await startHarness(
      'alibabaflow',
      { SCANQ_WORKER_QUEUES: 'alibaba', SCANQ_ALIBABA_QUOTA_RETRY_MS: '200', SCANQ_ALIBABA_EXTERNAL_HOLD_MS: '3000', SCANQ_START_ATTEMPTS: '4' },
      { SIM_ALIBABA_SCAN_MS: '300' },
    );
    account = await h.addAccount('alibaba');
    // The same simulator account as another tool would use it (tasks scanq did not create).
    outside = { id: 'outside-tool', provider: 'alibaba', name: SIM.name, region: SIM.region, endpoint: h.sim.url, settings: {}, credentials: { accessKeyId: SIM.accessKeyId, accessKeySecret: SIM.accessKeySecret } };
    policy = AlibabaScanTaskPolicy.create({ config: h.worker.runtime.config, redis: h.worker.runtime.redis, ledger: new QuotaLedgerRepository(h.worker.runtime.sql) });
  });
  afterAll(async () => h?.close());
  beforeEach(async () => {
    await control('/_sim/reset', {});
    await control('/_sim/config/alibaba', { scanDurationMs: 300 });
  });

  async function control(path: string, body: unknown): Promise<void> {
    const res = await fetch(`${h.sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  }
  const simAccount = async (): Promise<SimAccount> => {
    const state = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: SimAccount[] };
    return state.accounts.find((a) => a.name === SIM.name) as SimAccount;
  };
  const calls = async (api: string) => (await h.calls()).totals[`alibaba:${api}`] ?? 0;
  const outcome = async (api: string, code: string) => (await h.calls()).outcomes[`alibaba:${api}:${code}`] ?? 0;
  const submit = async (target: AlibabaScanTarget) => (await h.worker.runtime.submit.submit({ provider: 'alibaba', account: SIM.name, ...target })).scan;
  const slots = () => policy.slots(account.id);

  /** The home ACR instance's images in one namespace (plus the namespace and instance). */
  async function homeNamespace() {
    const { images } = await simAccount();
    const home = images.find((i) => i.registryType === 'acr' && i.behaviour === 'normal' && i.supportedRegion && i.potentialFindings > 0) as SimImage;
    const matched = images.filter((i) => i.instanceId === home.instanceId && i.repoNamespace === home.repoNamespace);
    return { instanceId: home.instanceId, namespace: home.repoNamespace, matched, images };
  }

  it('scans exactly the images the filters match and stores normalized findings with the raw records', async () => {
    const { instanceId, namespace, matched } = await homeNamespace();
    const scan = await submit({ registryTypes: ['acr'], instanceIds: [instanceId], repoNamespaces: [namespace, 'no-such-namespace'] });
    const done = await h.waitForTerminal(scan.id);
    expect(done.status).toBe('succeeded');
    expect(done.providerTaskId).toMatch(/^[0-9a-f]{32}$/);
    expect(done.images.map((i) => i.providerImageId).sort()).toEqual(matched.map((i) => i.uuid).sort());
    // One task, over exactly those images.
    const sim = await simAccount();
    expect(sim.finishedTasks).toHaveLength(1);
    expect(sim.finishedTasks[0]!.uuids.sort()).toEqual(matched.map((i) => i.uuid).sort());
    expect(await calls('PublicPreCheckImageScanTask')).toBe(1);
    expect(await calls('DescribeImageScanAuthCount')).toBe(1);

    for (const image of done.images) {
      const seed = matched.find((m) => m.uuid === image.providerImageId) as SimImage;
      expect(image.digest).toBe(`sha256:${seed.digest}`);
      expect(image.repository).toBe(`${seed.repoNamespace}/${seed.repoName}`);
      expect(image.tags).toEqual([seed.tag]);
      expect(image.status).toBe('succeeded');
      const findings = await h.worker.runtime.db.finding.findMany({ where: { imageScanId: image.id } });
      expect(findings).toHaveLength(seed.potentialFindings);
      const counted = image.critical + image.high + image.medium + image.low + image.informational + image.unknown;
      expect(counted).toBe(seed.potentialFindings);
      for (const f of findings) {
        const raw = f.raw as { Necessity: string; Related: string; Uuid: string; ExtendContentJson: { RpmEntityList: { Name: string; FullVersion: string }[] } };
        expect(raw.Uuid).toBe(seed.uuid);
        expect(f.providerSeverity).toBe(raw.Necessity);
        expect(f.severity).toBe({ asap: 'HIGH', later: 'MEDIUM', nntf: 'LOW' }[raw.Necessity]);
        expect(f.vulnerabilityId).toBe(raw.Related);
        expect(f.packageName).toBe(raw.ExtendContentJson.RpmEntityList[0]!.Name);
        expect(f.installedVersion).toBe(raw.ExtendContentJson.RpmEntityList[0]!.FullVersion);
        expect(f.fixedVersion).toMatch(/^\d+\.\d+\.\d+-\d+$/);
      }
    }
    // The instance item is kept with its string numbers parsed.
    const raw = done.images[0]!.raw as { instance: { ImageSize: string; ImageCreate: string }; parsed: { imageSize: number; imageCreatedAt: string } };
    expect(raw.parsed.imageSize).toBe(Number(raw.instance.ImageSize));
    expect(new Date(raw.parsed.imageCreatedAt).getTime()).toBe(Number(raw.instance.ImageCreate));
    expect(await slots().inUse()).toBe(0);
  });

  it('reads every page of a listing larger than one page and maps each image outcome (ScaStatus + ScaResult)', async () => {
    const { images } = await simAccount();
    expect(images.length).toBeGreaterThan(100); // DescribeImageInstances pages hold 100
    const scan = await submit({});
    const done = await h.waitForTerminal(scan.id, 60_000);
    expect(done.status).toBe('succeeded');
    expect(done.images).toHaveLength(images.length);
    const byUuid = new Map(done.images.map((i) => [i.providerImageId, i]));
    for (const seed of images) {
      const image = byUuid.get(seed.uuid)!;
      if (!seed.supportedRegion) expect([image.status, image.reason]).toEqual(['failed', 'unsupported_region']);
      else if (seed.behaviour === 'scan-fail') expect([image.status, image.reason]).toEqual(['failed', 'scan_failed']);
      else if (seed.behaviour === 'scan-timeout') expect([image.status, image.reason]).toEqual(['failed', 'timed_out']);
      else expect(image.status).toBe('succeeded');
    }
    // Every listing read two pages: one in resolveImages and one per poll.
    const listings = await calls('DescribeImageInstances');
    expect(listings % 2).toBe(0);
    expect(listings).toBeGreaterThanOrEqual(4);
  });

  it('fails without creating a task when the authorizations would not cover the images', async () => {
    const { instanceId, namespace, matched } = await homeNamespace();
    const unpaid = matched.filter((i) => !i.previousScanAt && i.supportedRegion).length;
    await control('/_sim/config/alibaba', { authorizations: { [SIM.name]: 0 } });
    const done = await h.waitForTerminal((await submit({ instanceIds: [instanceId], repoNamespaces: [namespace] })).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('insufficient_authorization');
    expect(done.error).toContain(`${matched.length} image(s)`);
    expect(done.error).toContain(`consume ${unpaid} image-scan authorization(s); 0 remain`);
    expect(await calls('PublicCreateImageScanTask')).toBe(0);
    const sim = await simAccount();
    expect(sim.runningTasks.length + sim.finishedTasks.length).toBe(0);
    expect(await slots().inUse()).toBe(0);
  });

  it('ends a scan whose filters match nothing with no_images_matched, before any task', async () => {
    const done = await h.waitForTerminal((await submit({ repoNames: ['no-such-repository'] })).id);
    expect([done.status, done.reason]).toEqual(['failed', 'no_images_matched']);
    expect(await calls('PublicCreateImageScanTask')).toBe(0);
    // The cloud's own TaskNumEmpty maps to the same terminal reason.
    await expect(sas.startScan(outside, { repoNames: ['no-such-repository'] })).rejects.toMatchObject({ kind: 'terminal', code: 'TaskNumEmpty', reason: 'no_images_matched' });
  });

  it('fails with no_permission when the caller may not create tasks, and gives the slot back', async () => {
    const { instanceId, namespace } = await homeNamespace();
    await control('/_sim/config/alibaba', { noPermission: { [SIM.name]: ['PublicCreateImageScanTask'] } });
    const done = await h.waitForTerminal((await submit({ instanceIds: [instanceId], repoNamespaces: [namespace] })).id);
    expect([done.status, done.reason]).toEqual(['failed', 'no_permission']);
    expect(done.error).toContain('NoPermission');
    expect(await outcome('PublicCreateImageScanTask', 'NoPermission')).toBe(1);
    expect(await slots().inUse()).toBe(0);
  });

  it('retries ServerError and dropped connections (create and polls) and still creates one task', async () => {
    const { instanceId, namespace } = await homeNamespace();
    await injectFault(h.sim, { cloud: 'alibaba', api: 'PublicCreateImageScanTask', kind: 'server_error', count: 1 });
    await injectFault(h.sim, { cloud: 'alibaba', api: 'PublicPreCheckImageScanTask', kind: 'disconnect', count: 1 });
    const scan = await submit({ instanceIds: [instanceId], repoNamespaces: [namespace] });
    await waitFor(async () => ((await calls('PublicCreateImageScanTask')) >= 1 ? true : undefined), { what: 'the first create' });
    await injectFault(h.sim, { cloud: 'alibaba', api: 'DescribeImageInstances', kind: 'server_error', count: 1 });
    const done = await h.waitForTerminal(scan.id);
    expect(done.status).toBe('succeeded');
    expect(await outcome('PublicCreateImageScanTask', 'fault:server_error')).toBe(1);
    expect(await outcome('PublicPreCheckImageScanTask', 'fault:disconnect')).toBe(1);
    expect(await outcome('DescribeImageInstances', 'fault:server_error')).toBe(1);
    // The injected 500 answered before the simulator created anything: exactly one task.
    const sim = await simAccount();
    expect(sim.runningTasks.length + sim.finishedTasks.length).toBe(1);
    expect(await slots().inUse()).toBe(0);
  });

  it('waits in quota_wait on BeyondQuata from tasks created outside scanq, then succeeds when room returns', async () => {
    await control('/_sim/config/alibaba', { scanDurationMs: 60_000 });
    const { images, instanceId, namespace } = await homeNamespace();
    const others = images.filter((i) => i.behaviour === 'normal' && i.supportedRegion && !(i.instanceId === instanceId && i.repoNamespace === namespace));
    for (let i = 0; i < 10; i++) await sas.startScan(outside, { digests: [others[i]!.digest] });
    expect((await simAccount()).runningTaskCount).toBe(10);

    const scan = await submit({ instanceIds: [instanceId], repoNamespaces: [namespace] });
    const waiting = await waitFor(async () => {
      const s = await h.worker.runtime.scans.get(scan.id);
      return s?.status === 'quota_wait' ? s : undefined;
    }, { what: 'the scan to wait for quota' });
    expect(waiting.reason).toBe('quota_wait');
    expect(waiting.error).toContain('BeyondQuata');
    expect(await outcome('PublicCreateImageScanTask', 'BeyondQuata')).toBe(1);
    // scanq now counts the outside tasks: its retries wait on its own view, not on the cloud.
    const state = await slots().state();
    expect(state).toMatchObject({ inUse: 0, external: 10 });

    // The outside tasks end; the reduction lapses; the scan starts and finishes.
    await control('/_sim/config/alibaba', { scanDurationMs: 300 });
    await control('/_sim/clock', { advanceMs: 61_000 });
    const done = await h.waitForTerminal(scan.id);
    expect(done.status).toBe('succeeded');
    expect(await outcome('PublicCreateImageScanTask', 'BeyondQuata')).toBeLessThanOrEqual(2);
  });

  it('takes CanCreate false as the cloud being full: the next scan waits without calling the cloud', async () => {
    await control('/_sim/config/alibaba', { scanDurationMs: 60_000 });
    const { images } = await simAccount();
    const normal = images.filter((i) => i.behaviour === 'normal' && i.supportedRegion);
    for (let i = 0; i < 9; i++) await sas.startScan(outside, { digests: [normal[i]!.digest] });

    const first = await submit({ digests: [normal[20]!.digest] });
    await waitFor(async () => ((await h.worker.runtime.scans.get(first.id))?.status === 'running' ? true : undefined), { what: 'the first scan to run' });
    expect(await slots().state()).toMatchObject({ inUse: 1, external: 9, free: 0 });

    const second = await submit({ digests: [normal[21]!.digest] });
    await waitFor(async () => ((await h.worker.runtime.scans.get(second.id))?.status === 'quota_wait' ? true : undefined), { what: 'the second scan to wait' });
    expect(await calls('PublicCreateImageScanTask')).toBe(10); // 9 outside + the first scan's
    expect((await simAccount()).beyondQuataCount).toBe(0);

    await control('/_sim/config/alibaba', { scanDurationMs: 300 });
    await control('/_sim/clock', { advanceMs: 61_000 });
    const done = await Promise.all([h.waitForTerminal(first.id), h.waitForTerminal(second.id)]);
    expect(done.map((d) => d.status)).toEqual(['succeeded', 'succeeded']);
    expect((await simAccount()).beyondQuataCount).toBe(0);
    expect(await slots().inUse()).toBe(0);
  });
});

describe('Alibaba polls paced by ScaProgress', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    // Backoff alone would look every 100 ms (factor 1) for the whole scan.
    h = await startHarness('alibabapace', { SCANQ_WORKER_QUEUES: 'alibaba', SCANQ_POLL_INITIAL_MS: '100', SCANQ_POLL_FACTOR: '1', SCANQ_POLL_MAX_MS: '10000' }, { SIM_ALIBABA_SCAN_MS: '2000' });
    await h.addAccount('alibaba');
  });
  afterAll(async () => h?.close());

  it('looks again where the slowest image pace says it ends, not at every backoff step', async () => {
    const state = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: SimAccount[] };
    const image = state.accounts.find((a) => a.name === SIM.name)!.images.find((i) => i.behaviour === 'normal' && i.supportedRegion)!;
    const listings = async () => (await h.calls()).totals['alibaba:DescribeImageInstances'] ?? 0;
    const before = await listings();
    const scan = (await h.worker.runtime.submit.submit({ provider: 'alibaba', account: SIM.name, digests: [image.digest] })).scan;
    const done = await h.waitForTerminal(scan.id);
    expect(done.status).toBe('succeeded');
    // One listing resolves the digest; then a first look at 100 ms gives the pace, and one or two
    // more finish the scan. Every 100 ms for up to 2 s would be about 20 looks.
    expect((await listings()) - before).toBeLessThanOrEqual(6);
  });
});
