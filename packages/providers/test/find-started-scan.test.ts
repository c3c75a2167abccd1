import { SIM_DEPS } from '../../../test/support/provider-deps.js';
import { type AlibabaScanTarget, type AwsScanTarget, type HuaweiScanTarget, SIMULATOR_ACCOUNTS, type TencentScanTarget } from '@scanq/core';
import { CALL_DEADLINE, CallDeadline } from '@scanq/core/call-deadline';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CallCounterSnapshot } from '../../../apps/simulator/src/core/call-counter.js';
import { type RunningSimulator, startSimulator } from '../../../apps/simulator/src/core/server.js';
import { createFrontEnds } from '../../../apps/simulator/src/frontends.js';
import { AlibabaSasProvider } from '../src/alibaba/index.js';
import { latestTaskVerdict } from '../src/alibaba/latest-task.js';
import { AwsEcrProvider } from '../src/aws/index.js';
import type { ImageRef, ProviderAccount, ScanProvider, StartedScan } from '../src/contract.js';
import { HuaweiHssProvider } from '../src/huawei/index.js';
import { TencentTcssProvider } from '../src/tencent/index.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';

/** Scans last this long on the simulator clock; tests move the clock past it instead of waiting. */
const SCAN_MS = 60_000;

/**
 * findStartedScan of each adapter against the simulator: after a start it finds that scan; for
 * an image never scanned, or scanned before `since`, it finds none; and after a create whose
 * answer was lost (`drop_response`: the cloud created the task, the client never heard) it
 * finds the task the cloud created, so a retry adopts it instead of creating a second.
 */
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({
    host: '127.0.0.1',
    port: 0,
    seed: 'find-started',
    frontEnds: createFrontEnds({ SIM_AWS_SCAN_MS: String(SCAN_MS), SIM_ALIBABA_SCAN_MS: String(SCAN_MS), SIM_TENCENT_SCAN_MS: String(SCAN_MS), SIM_HUAWEI_SCAN_MS: String(SCAN_MS) }),
  });
});
afterAll(() => sim?.close());
beforeEach(async () => {
  await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
});

const json = async <T>(path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${sim.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};
/** Now on the simulator clock: the cloud's own time, which `since` is compared with. */
const simNow = async () => new Date((await json<{ now: number }>('/_sim/clock')).now);
const advance = (ms: number) => json('/_sim/clock', { advanceMs: ms });
const fault = (cloud: string, api: string, kind: string) => json('/_sim/faults', { cloud, api, kind, count: 1 });
const tasks = async (cloud: string): Promise<CallCounterSnapshot['tasks'][string]> => (await simulatorCalls(sim.url)).tasks[cloud] ?? { created: 0, perImage: {} };

interface Case<T> {
  cloud: 'aws' | 'alibaba' | 'tencent' | 'huawei';
  createApi: string;
  provider: ScanProvider<T>;
  account(): ProviderAccount;
  /** A scan of `n` images that have never been scanned. */
  scan(n: number): Promise<{ target: T; images: ImageRef[] }>;
  /** What findStartedScan answers for a scan startScan started as `started`. */
  expected(started: StartedScan, images: ImageRef[]): (found: StartedScan | null) => void;
}

function cases(): Case<any>[] {
  const aws: Case<AwsScanTarget> = {
    cloud: 'aws',
    createApi: 'StartImageScan',
    provider: new AwsEcrProvider(SIM_DEPS),
    account: () => {
      const a = SIMULATOR_ACCOUNTS.aws[0];
      return { id: 'aws-1', provider: 'aws', name: a.name, region: a.region, endpoint: sim.url, settings: { registryId: a.registryId }, credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey } };
    },
    async scan() {
      const state = await json<{ accounts: { repositories: { name: string; images: { digest: string; kind: string; lastScanAt: number | null }[] }[] }[] }>('/_sim/state/aws');
      const repository = state.accounts[0]!.repositories.find((r) => r.images.some((i) => i.kind === 'normal' && i.lastScanAt === null))!;
      const image = repository.images.find((i) => i.kind === 'normal' && i.lastScanAt === null)!;
      const target: AwsScanTarget = { repositoryName: repository.name, imageId: { imageDigest: image.digest } };
      return { target, images: await aws.provider.resolveImages(aws.account(), target) };
    },
    expected: (started, images) => (found) => {
      expect(started.taskId).toBe(images[0]!.digest);
      expect(found).toEqual({ taskId: started.taskId });
    },
  };

  const alibaba: Case<AlibabaScanTarget> = {
    cloud: 'alibaba',
    createApi: 'PublicCreateImageScanTask',
    provider: new AlibabaSasProvider(SIM_DEPS),
    account: () => {
      const a = SIMULATOR_ACCOUNTS.alibaba[0];
      return { id: 'ali-1', provider: 'alibaba', name: a.name, region: a.region, endpoint: sim.url, settings: {}, credentials: { accessKeyId: a.accessKeyId, accessKeySecret: a.accessKeySecret } };
    },
    async scan(n) {
      const state = await json<{ accounts: { images: { digest: string; behaviour: string; supportedRegion: boolean; lastScanTime: number; scanning: boolean }[] }[] }>('/_sim/state/alibaba');
      const all = state.accounts[0]!.images;
      // Digests none of whose tags was ever scanned, in a region with image scanning.
      const fresh = [...new Set(all.map((i) => i.digest))].filter((d) =>
        all.filter((i) => i.digest === d).every((i) => i.behaviour === 'normal' && i.supportedRegion && i.lastScanTime === 0 && !i.scanning),
      );
      const target: AlibabaScanTarget = { digests: fresh.slice(0, n).map((d) => `sha256:${d}`) };
      return { target, images: await alibaba.provider.resolveImages(alibaba.account(), target) };
    },
    expected: (started) => (found) => expect(found).toEqual({ taskId: started.taskId }),
  };

  const tencent: Case<TencentScanTarget> = {
    cloud: 'tencent',
    createApi: 'CreateAssetImageRegistryScanTask',
    provider: new TencentTcssProvider(SIM_DEPS),
    account: () => {
      const a = SIMULATOR_ACCOUNTS.tencent[0];
      return { id: 'tc-1', provider: 'tencent', name: a.name, region: a.region, endpoint: sim.url, settings: {}, credentials: { secretId: a.secretId, secretKey: a.secretKey } };
    },
    async scan(n) {
      const state = await json<{ accounts: { images: { Id: number; IsAuthorized: number; special: string | null; scanStatus: string }[] }[] }>('/_sim/state/tencent');
      const ids = state.accounts[0]!.images.filter((i) => i.IsAuthorized === 1 && i.special === null && i.scanStatus === 'NOT_SCAN').map((i) => i.Id);
      const target: TencentScanTarget = { repositoryIds: ids.slice(0, n) };
      return { target, images: await tencent.provider.resolveImages(tencent.account(), target) };
    },
    // TCSS lists no task by image: the found scan carries startScan's other id shape, the image ids.
    expected: (_started, images) => (found) => expect(found).toEqual({ taskId: `Id:${images.map((i) => i.providerImageId).join(',')}` }),
  };

  const hss = new HuaweiHssProvider(SIM_DEPS);
  const huawei: Case<HuaweiScanTarget> = {
    cloud: 'huawei',
    createApi: 'BatchScanSwrImage',
    provider: hss,
    account: () => {
      const a = SIMULATOR_ACCOUNTS.huawei[0];
      return { id: 'hw-1', provider: 'huawei', name: a.name, region: a.region, endpoint: sim.url, settings: { projectId: a.projectId }, credentials: { ak: a.ak, sk: a.sk } };
    },
    async scan(n) {
      const unscanned: ImageRef[] = [];
      for await (const page of hss.listImages(huawei.account(), {})) {
        for (const image of page) {
          const raw = image.raw as { scan_status?: string; image_type?: string; namespace?: string };
          if (raw.scan_status === 'unscan' && raw.image_type === 'private_image' && raw.namespace !== 'scanq-special') unscanned.push(image);
        }
        if (unscanned.length >= n) break;
      }
      const picked = unscanned.slice(0, n);
      const target: HuaweiScanTarget = {
        image_type: 'private_image',
        image_info_list: picked.map((i) => ({ namespace: i.repository.split('/')[0]!, image_name: i.repository.split('/').slice(1).join('/'), image_version: i.tags[0]! })),
      };
      return { target, images: await huawei.provider.resolveImages(huawei.account(), target) };
    },
    // BatchScanSwrImage has no task id: the found scan's id counts the images' scans from `since`.
    expected: (started, images) => (found) => {
      expect(started.taskId).toMatch(new RegExp(`^hss-batch-scan@\\d+/${images.length}$`));
      expect(found?.taskId).toMatch(new RegExp(`^hss-batch-scan@\\d+/${images.length}$`));
    },
  };
  return [aws, alibaba, tencent, huawei];
}

describe.each(cases().map((c) => [c.cloud, c] as const))('%s findStartedScan', (_cloud, c) => {
  const size = c.cloud === 'aws' ? 1 : 3;

  it('finds the scan startScan started, follows it with pollScan, and finds none for images never scanned or scanned before `since`', async () => {
    const account = c.account();
    const { target, images } = await c.scan(size);
    expect(images.length).toBeGreaterThanOrEqual(size);
    const since = await simNow();
    expect(await c.provider.findStartedScan(account, target, images, since)).toBeNull();

    const started = await c.provider.startScan(account, target, images);
    const found = await c.provider.findStartedScan(account, target, images, since);
    c.expected(started, images)(found);
    // The found task id polls like the started one: every image is being scanned.
    const progress = await c.provider.pollScan(account, { taskId: found!.taskId, target, images });
    expect(progress.images.map((p) => p.state)).toEqual(images.map(() => 'scanning'));

    // Once the scan is over, a start asked for after it has no scan at the cloud.
    await advance(2 * SCAN_MS);
    expect(await c.provider.findStartedScan(account, target, images, since)).not.toBeNull();
    expect(await c.provider.findStartedScan(account, target, images, await simNow())).toBeNull();
    expect((await tasks(c.cloud)).created).toBe(1);
  });

  it('finds the task a create whose answer was lost created, and none after a create that never reached the cloud', async () => {
    const account = c.account();
    const lost = await c.scan(size);
    const since = await simNow();
    await fault(c.cloud, c.createApi, 'drop_response');
    await expect(c.provider.startScan(account, lost.target, lost.images)).rejects.toThrow();
    expect((await tasks(c.cloud)).created).toBe(1);
    const found = await c.provider.findStartedScan(account, lost.target, lost.images, since);
    expect(found).not.toBeNull();
    if (c.cloud === 'alibaba') {
      const state = await json<{ accounts: { runningTasks: { taskId: string }[] }[] }>('/_sim/state/alibaba');
      expect(found).toEqual({ taskId: state.accounts[0]!.runningTasks[0]!.taskId });
    } else {
      c.expected({ taskId: c.cloud === 'aws' ? lost.images[0]!.digest! : `hss-batch-scan@0/${lost.images.length}` }, lost.images)(found);
    }

    // A connection dropped before the cloud saw the call: nothing to find, and the start that
    // follows is the only task of these images.
    await advance(2 * SCAN_MS);
    const { target, images } = await c.scan(size);
    const later = await simNow();
    await fault(c.cloud, c.createApi, 'disconnect');
    await expect(c.provider.startScan(account, target, images)).rejects.toThrow();
    expect(await c.provider.findStartedScan(account, target, images, later)).toBeNull();
    await c.provider.startScan(account, target, images);
    const counts = await tasks(c.cloud);
    expect(counts.created).toBe(2);
    expect(Object.values(counts.perImage).every((n) => n === 1)).toBe(true);
    expect((await simulatorCalls(sim.url)).faults).toEqual({ [`${c.cloud}:${c.createApi}:drop_response`]: 1, [`${c.cloud}:${c.createApi}:disconnect`]: 1 });
  });

  it('cuts a create hung at the cloud at its CallDeadline, and sends none once the deadline has passed', async () => {
    const account = c.account();
    const { target, images } = await c.scan(size);
    const key = `${c.cloud}:${c.createApi}`;
    // The simulator holds the create unanswered (5 minutes); the provider timeout would wait 30 s.
    await fault(c.cloud, c.createApi, 'timeout');
    const deadline = new CallDeadline(Date.now() + 1_500, 'the test create');
    const err = await deadline.run(() => c.provider.startScan(account, target, images)).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'retryable', code: CALL_DEADLINE, answered: false });
    // It went through the transport's admission (the cloud took it: the fault counted it).
    expect(deadline.sentNothing).toBe(false);
    expect((await simulatorCalls(sim.url)).outcomes[`${key}:fault:timeout`]).toBe(1);

    // A create whose deadline passed while it waited (a rate gate, a slow fence) reaches nothing.
    const before = (await simulatorCalls(sim.url)).totals[key] ?? 0;
    const passed = new CallDeadline(Date.now() + 200, 'the late create');
    const late = await passed.run(async () => {
      await new Promise((r) => setTimeout(r, 400));
      return c.provider.startScan(account, target, images);
    }).then(() => undefined, (e: unknown) => e);
    expect(late).toMatchObject({ code: CALL_DEADLINE });
    await new Promise((r) => setTimeout(r, 600));
    expect(passed.sentNothing).toBe(true);
    expect((await simulatorCalls(sim.url)).totals[key] ?? 0).toBe(before);
    expect((await tasks(c.cloud)).created).toBe(0);
  });
});

describe('alibaba findStartedScan with an image another task is scanning', () => {
  it('passes over a digest whose older task still runs (the new task left it alone) and finds the new task by the next', async () => {
    const provider = new AlibabaSasProvider(SIM_DEPS);
    const alibaba = cases().find((c) => c.cloud === 'alibaba')! as Case<AlibabaScanTarget>;
    const account = alibaba.account();
    const { target: both, images } = await alibaba.scan(2);
    const [first] = both.digests!;
    const older = await provider.startScan(account, { digests: [first!] });
    await advance(1000);
    const since = await simNow();
    // The second scan covers the digest the first still scans: its lost create left that one to the first task.
    await fault('alibaba', 'PublicCreateImageScanTask', 'drop_response');
    await expect(provider.startScan(account, both)).rejects.toThrow();
    const ordered = [...images.filter((i) => i.digest === first), ...images.filter((i) => i.digest !== first)];
    const found = await provider.findStartedScan(account, both, ordered, since);
    const state = await json<{ accounts: { runningTasks: { taskId: string; repeated: string[] }[] }[] }>('/_sim/state/alibaba');
    const newer = state.accounts[0]!.runningTasks.find((t) => t.taskId !== older.taskId)!;
    expect(newer.repeated.length).toBeGreaterThan(0);
    expect(found).toEqual({ taskId: newer.taskId });
    // Asked only about the first digest, which cannot tell, the answer is none.
    expect(await provider.findStartedScan(account, both, images.filter((i) => i.digest === first), since)).toBeNull();
  });

  it('reads DescribeImageLatestScanTask: a console task since `since` cannot tell, the earliest API task since then is the create\'s', () => {
    const since = new Date(1_767_225_600_000);
    const at = (ms: number) => String(since.getTime() + ms);
    const task = (fields: Record<string, unknown>) => ({ TaskType: 'IMAGE_SCAN', Status: 'PROCESSING', ...fields });
    expect(latestTaskVerdict({ Task: [task({ TaskId: 'c', Source: 'console_batch', StartTime: at(5) })] }, since)).toEqual({ kind: 'undecided' });
    expect(latestTaskVerdict({ Task: [task({ TaskId: 'old', Source: 'openapi', StartTime: at(-5), Status: 'SUCCESS', FinishTime: at(-1) })] }, since)).toEqual({ kind: 'none' });
    expect(latestTaskVerdict({ Task: [] }, since)).toEqual({ kind: 'none' });
    expect(
      latestTaskVerdict({ Task: [task({ TaskId: 'b', Source: 'openapi', StartTime: at(9) }), task({ TaskId: 'a', Source: 'openapi', StartTime: at(3) }), task({ TaskId: 'x', TaskType: 'ASSETS_COLLECTION', StartTime: at(1) })] }, since),
    ).toEqual({ kind: 'started', taskId: 'a', startedAt: since.getTime() + 3 });
  });
});
