import { type CreateScanRequest, jobIds, type Provider, queueForProvider, SIMULATOR_ACCOUNTS } from '@scanq/core';
import type { ScanWithImages } from '@scanq/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallCounterSnapshot } from '../../simulator/src/core/call-counter.js';
import { waitFor } from '../../../test/support/wait.js';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';

type Cloud = Extract<Provider, 'aws' | 'alibaba' | 'huawei' | 'tencent'>;
const CREATE_API: Record<Cloud, string> = {
  aws: 'StartImageScan',
  alibaba: 'PublicCreateImageScanTask',
  huawei: 'BatchScanSwrImage',
  tencent: 'CreateAssetImageRegistryScanTask',
};
/** Fault kinds the simulator injects before the cloud's logic runs (nothing created). */
const BEFORE_LOGIC = ['server_error', 'throttle', 'timeout', 'disconnect'];
const reachedLogic = (snap: CallCounterSnapshot, key: string) => (snap.totals[key] ?? 0) - BEFORE_LOGIC.reduce((sum, kind) => sum + (snap.faults[`${key}:${kind}`] ?? 0), 0);
const bare = (digest: string) => digest.replace(/^sha256:/i, '').toLowerCase();

/**
 * The edges of exactly-once creates: a look-up that fails after an ambiguous create, two start
 * jobs of one scan at once (what the reconciler adds when a scan's job looks lost), and a cancel
 * while a create may have reached the cloud. Judged by the simulator's counters and Postgres.
 */
describe('exactly one cloud task per scan: look-up failures, two jobs for one scan, cancels (real worker, simulator)', { timeout: 120_000 }, () => {
  let h: WorkerHarness;
  let alibabaImages: { digest: string; uuid: string }[] = [];
  let huaweiImages: { namespace: string; image_name: string; image_version: string }[] = [];
  let tencentImages: { Id: number }[] = [];

  beforeAll(async () => {
    h = await startHarness(
      'onceholes',
      // Retries 1 s apart (exponential): long enough to cancel a scan while its job waits.
      { SCANQ_WORKER_QUEUES: 'aws,alibaba,huawei,tencent', SCANQ_CREATE_SETTLE_MS: '2500', SCANQ_POLL_INITIAL_MS: '100', SCANQ_RETRY_BACKOFF_MS: '1000', SCANQ_START_ATTEMPTS: '4' },
      { SIM_AWS_SCAN_MS: '800', SIM_ALIBABA_SCAN_MS: '1500', SIM_HUAWEI_SCAN_MS: '800', SIM_TENCENT_SCAN_MS: '800', SIM_TENCENT_IMAGES: '12' },
    );
    await Promise.all((['alibaba', 'huawei', 'tencent'] as const).map((p) => h.addAccount(p)));
    const ali = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: { name: string; images: { digest: string; uuid: string; behaviour: string; supportedRegion: boolean }[] }[] };
    alibabaImages = ali.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.images.filter((i) => i.behaviour === 'normal' && i.supportedRegion);
    const hw = (await (await fetch(`${h.sim.url}/_sim/state/huawei`)).json()) as { accounts: { sample: { namespace: string; image_name: string; image_version: string; image_type: string }[] }[] };
    huaweiImages = hw.accounts[0]!.sample.filter((i) => i.image_type === 'private_image');
    const tc = (await (await fetch(`${h.sim.url}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: { Id: number }[] }[] };
    tencentImages = tc.accounts.find((a) => a.name === 'sim-tencent')!.images;
  });
  afterAll(async () => h?.close());

  const request = (cloud: Cloud, n: number): CreateScanRequest => {
    switch (cloud) {
      case 'aws':
        return { provider: 'aws', account: 'sim-aws', repositoryName: 'bench/images', imageId: { imageTag: `b-${String(40 + n).padStart(5, '0')}` } };
      case 'alibaba':
        return { provider: 'alibaba', account: SIMULATOR_ACCOUNTS.alibaba[0].name, digests: [alibabaImages[10 + n]!.digest] };
      case 'huawei': {
        const i = huaweiImages[4 + n]!;
        return { provider: 'huawei', account: SIMULATOR_ACCOUNTS.huawei[0].name, image_type: 'private_image', image_info_list: [{ namespace: i.namespace, image_name: i.image_name, image_version: i.image_version }] };
      }
      case 'tencent':
        return { provider: 'tencent', account: 'sim-tencent', repositoryIds: [tencentImages[6 + n]!.Id] } as CreateScanRequest;
    }
  };
  const submit = async (req: CreateScanRequest) => (await h.worker.runtime.submit.submit(req)).scan;

  async function figures(cloud: Cloud) {
    const snap = await h.calls();
    const key = `${cloud}:${CREATE_API[cloud]}`;
    return { reached: reachedLogic(snap, key), total: snap.totals[key] ?? 0, perImage: snap.tasks?.[cloud]?.perImage ?? {}, outcomes: snap.outcomes };
  }
  const tasksFor = (perImage: Record<string, number>, scan: ScanWithImages) =>
    scan.images.map((img) => Object.entries(perImage).filter(([k]) => img.digest && k.endsWith(`@sha256:${bare(img.digest)}`)).reduce((s, [, n]) => s + n, 0));

  async function slotHolders(): Promise<string[]> {
    const [view] = await h.worker.runtime.quotas.all('alibaba');
    return (view!.quota as { holders: { scanId: string }[] }).holders.map((x) => x.scanId);
  }

  it('Alibaba: the look-up after a lost create answer fails (5xx): the intent stays, the attempt is spent, the slot stays with the scan; the next attempt adopts the task', async () => {
    const before = await figures('alibaba');
    await injectFault(h.sim, { cloud: 'alibaba', api: 'PublicCreateImageScanTask', kind: 'drop_response', count: 1 });
    await injectFault(h.sim, { cloud: 'alibaba', api: 'DescribeImageLatestScanTask', kind: 'server_error', count: 1 });
    const image = alibabaImages[10]!;
    const scan = await submit(request('alibaba', 0));
    // Whenever a task for the image runs at the cloud, the scan holds its slot.
    const held: boolean[] = [];
    const ended = await waitFor(
      async () => {
        const row = await h.worker.runtime.scans.get(scan.id);
        if (row?.finishedAt) return row;
        const holders = await slotHolders();
        const state = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: { name: string; runningTasks: { uuids: string[] }[] }[] };
        if (state.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.runningTasks.some((t) => t.uuids.includes(image.uuid))) held.push(holders.includes(scan.id));
        return undefined;
      },
      { timeoutMs: 45_000, intervalMs: 25, what: 'the scan to end' },
    );
    const after = await figures('alibaba');
    expect(ended.status).toBe('succeeded');
    expect(after.reached - before.reached).toBe(1);
    expect(after.total - before.total).toBe(1);
    expect(tasksFor(after.perImage, ended)).toEqual([1]);
    // Attempt 1: the create whose answer was lost; attempt 2: the look-up that failed; attempt 3 adopted.
    expect(ended.attempts).toBe(3);
    expect((after.outcomes['alibaba:DescribeImageLatestScanTask:fault:server_error'] ?? 0) - (before.outcomes['alibaba:DescribeImageLatestScanTask:fault:server_error'] ?? 0)).toBe(1);
    expect(held.length).toBeGreaterThan(0);
    expect(held.every(Boolean)).toBe(true);
    expect(await slotHolders()).not.toContain(scan.id);
  });

  describe.each((['aws', 'alibaba', 'huawei', 'tencent'] as const).map((c) => [c] as const))('%s', (cloud) => {
    it('two start jobs of one scan at once (the reconciler re-added one): one create call, one task, each image once in Postgres', async () => {
      const queue = h.worker.runtime.queues.queue(queueForProvider(cloud));
      const before = await figures(cloud);
      await queue.pause();
      let scan: ScanWithImages;
      try {
        scan = await submit(request(cloud, 1));
        // What the reconciler adds for a scan whose job it takes for lost.
        await h.worker.runtime.queues.add(queueForProvider(cloud), 'scan.start', { scanId: scan.id }, { jobId: `${jobIds.start(scan.id)}-rtest` });
      } finally {
        await queue.resume();
      }
      const ended = await h.waitForTerminal(scan.id, 45_000);
      const after = await figures(cloud);
      expect(ended.status).toBe('succeeded');
      expect(after.reached - before.reached).toBe(1);
      expect(after.total - before.total).toBe(1);
      // Postgres: the images resolved once (not once per job), each with one task at the cloud.
      expect(ended.images).toHaveLength(1);
      expect(tasksFor(after.perImage, ended)).toEqual(ended.images.map(() => 1));
      // Both jobs are over: neither waits to create later.
      await waitFor(async () => {
        const states = await Promise.all([jobIds.start(ended.id), `${jobIds.start(ended.id)}-rtest`].map(async (id) => (await queue.getJob(id))?.getState() ?? 'gone'));
        return states.every((s) => s === 'completed' || s === 'gone') ? true : undefined;
      }, { timeoutMs: 15_000, what: 'both start jobs to finish' });
      expect((await figures(cloud)).total - before.total).toBe(1);
    });
  });

  it('Huawei: a cancel while a create may have reached the cloud (its answer lost, the retry waiting) leaves the scan to end in its real result', async () => {
    const before = await figures('huawei');
    await injectFault(h.sim, { cloud: 'huawei', api: 'BatchScanSwrImage', kind: 'drop_response', count: 1 });
    const scan = await submit(request('huawei', 2));
    // The create ran at the cloud, its answer was lost; the retry waits for its backoff.
    const retrying = await waitFor(async () => {
      const row = await h.worker.runtime.scans.get(scan.id);
      return row?.status === 'retrying' && row.createIntentAt ? row : undefined;
    }, { timeoutMs: 15_000, intervalMs: 10, what: 'the scan to retry after the lost answer' });
    expect(retrying.providerTaskId).toBeNull();
    const afterCancel = await h.worker.runtime.submit.cancel(scan.id);
    expect(afterCancel?.status).not.toBe('cancelled');
    const ended = await h.waitForTerminal(scan.id, 45_000);
    const after = await figures('huawei');
    expect(ended.status).toBe('succeeded');
    expect(after.reached - before.reached).toBe(1);
    expect(tasksFor(after.perImage, ended)).toEqual([1]);
  });
});
