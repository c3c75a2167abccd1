import { type CreateScanRequest, type Provider, queueForProvider, SIMULATOR_ACCOUNTS } from '@scanq/core';
import { CreateIntentRepository, QuotaLedgerRepository, type ScanWithImages } from '@scanq/db';
import type { AlibabaSasProvider, ImageRef, ProviderAccount, ScanProvider } from '@scanq/providers';
import { AccountResolver } from '@scanq/scans';
import { AlibabaScanTaskPolicy } from '../../../packages/scans/src/start-policies/alibaba-scan-task.policy.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallCounterSnapshot } from '../../simulator/src/core/call-counter.js';
import { waitFor } from '../../../test/support/wait.js';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';

const ACTIVE = ['queued', 'quota_wait', 'running', 'retrying'] as const;
/** Fault kinds the simulator injects before the cloud's logic runs (nothing created). */
const BEFORE_LOGIC = ['server_error', 'throttle', 'timeout', 'disconnect'];

type Cloud = Extract<Provider, 'aws' | 'alibaba' | 'huawei'>;

interface CloudCase {
  cloud: Cloud;
  /** The create API, as the simulator's counters name it. */
  api: string;
  /** A scan request for the case's own image (`n`: which image; each case uses its own). */
  request(n: number): CreateScanRequest;
  /** What an earlier attempt sent: the adapter's own create call. */
  create(provider: ScanProvider, account: ProviderAccount, target: Record<string, unknown>, images: ImageRef[]): Promise<unknown>;
}

/**
 * Calls to `<cloud>:<api>` that reached the cloud's logic (answered, or run and then lost): all
 * calls less the faults injected before the logic (counted by kind; outcome codes of injected
 * faults differ by cloud).
 */
const reachedLogic = (snap: CallCounterSnapshot, key: string) => (snap.totals[key] ?? 0) - BEFORE_LOGIC.reduce((sum, kind) => sum + (snap.faults[`${key}:${kind}`] ?? 0), 0);
const bare = (digest: string) => digest.replace(/^sha256:/i, '').toLowerCase();

/**
 * Exactly one cloud task per scan on AWS (StartImageScan), Alibaba (PublicCreateImageScanTask,
 * under its task slot) and Huawei (BatchScanSwrImage), through the real worker: a create whose
 * answer was lost, an attempt that vanished after its create, and a create the cloud refused
 * with a 5xx. Judged by the simulator's counters (create calls that reached the cloud's logic,
 * tasks per image) and Postgres.
 */
describe('exactly one cloud task per scan on AWS, Alibaba and Huawei (real worker, Redis, Postgres, SDKs, simulator)', { timeout: 120_000 }, () => {
  let h: WorkerHarness;
  let intents: CreateIntentRepository;
  let resolver: AccountResolver;
  let alibabaImages: { digest: string; uuid: string }[] = [];
  let huaweiImages: { namespace: string; image_name: string; image_version: string }[] = [];

  beforeAll(async () => {
    h = await startHarness(
      'oncecloud',
      { SCANQ_WORKER_QUEUES: 'aws,alibaba,huawei', SCANQ_CREATE_SETTLE_MS: '2500', SCANQ_POLL_INITIAL_MS: '100', SCANQ_RETRY_BACKOFF_MS: '200', SCANQ_START_ATTEMPTS: '4' },
      // Long enough that a scan is seen running (and its Alibaba slot held) before it ends.
      { SIM_AWS_SCAN_MS: '800', SIM_ALIBABA_SCAN_MS: '1500', SIM_HUAWEI_SCAN_MS: '800' },
    );
    await h.addAccount('alibaba');
    await h.addAccount('huawei');
    intents = new CreateIntentRepository(h.worker.runtime.sql);
    resolver = new AccountResolver(h.worker.runtime.config.credentials);
    const ali = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: { name: string; images: { digest: string; uuid: string; behaviour: string; supportedRegion: boolean }[] }[] };
    alibabaImages = ali.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.images.filter((i) => i.behaviour === 'normal' && i.supportedRegion);
    const hw = (await (await fetch(`${h.sim.url}/_sim/state/huawei`)).json()) as { accounts: { sample: { namespace: string; image_name: string; image_version: string; image_type: string }[] }[] };
    huaweiImages = hw.accounts[0]!.sample.filter((i) => i.image_type === 'private_image');
  });
  afterAll(async () => h?.close());

  const cases: CloudCase[] = [
    {
      cloud: 'aws',
      api: 'StartImageScan',
      // bench/images: never scanned, no scan-on-push, so the 24 h window is open for each.
      request: (n) => ({ provider: 'aws', account: 'sim-aws', repositoryName: 'bench/images', imageId: { imageTag: `b-${String(20 + n).padStart(5, '0')}` } }),
      create: (provider, account, target, images) => provider.startScan(account, target, images),
    },
    {
      cloud: 'alibaba',
      api: 'PublicCreateImageScanTask',
      request: (n) => ({ provider: 'alibaba', account: SIMULATOR_ACCOUNTS.alibaba[0].name, digests: [alibabaImages[n]!.digest] }),
      // The policy's create step alone (the pre-check needs no slot and creates nothing).
      create: (provider, account, target) => (provider as AlibabaSasProvider).createTask(account, target),
    },
    {
      cloud: 'huawei',
      api: 'BatchScanSwrImage',
      request: (n) => {
        const i = huaweiImages[n]!;
        return { provider: 'huawei', account: SIMULATOR_ACCOUNTS.huawei[0].name, image_type: 'private_image', image_info_list: [{ namespace: i.namespace, image_name: i.image_name, image_version: i.image_version }] };
      },
      create: (provider, account, target, images) => provider.startScan(account, target, images),
    },
  ];

  /** The account's task slots, under the key the worker's Alibaba policy uses. */
  const alibabaSlots = (accountId: string) =>
    AlibabaScanTaskPolicy.create({ config: h.worker.runtime.config, redis: h.worker.runtime.redis, ledger: new QuotaLedgerRepository(h.worker.runtime.sql) }).slots(accountId);
  const submit = async (request: CreateScanRequest) => (await h.worker.runtime.submit.submit(request)).scan;
  const account = async (cloud: Cloud, name: string) => resolver.resolve((await h.worker.runtime.accounts.findByRef(cloud, name))!);

  /** The create figures of one cloud now: calls that reached its logic, faults, LimitExceeded answers, tasks per image. */
  async function figures(c: CloudCase) {
    const snap = await h.calls();
    const key = `${c.cloud}:${c.api}`;
    return {
      reached: reachedLogic(snap, key),
      total: snap.totals[key] ?? 0,
      limitExceeded: Object.entries(snap.outcomes).filter(([k]) => k.startsWith(`${key}:`) && k.includes('LimitExceeded')).reduce((s, [, n]) => s + n, 0),
      perImage: snap.tasks?.[c.cloud]?.perImage ?? {},
    };
  }

  /** Tasks the simulator created that name each of the scan's images. */
  const tasksFor = (perImage: Record<string, number>, scan: ScanWithImages) =>
    scan.images.map((img) => Object.entries(perImage).filter(([k]) => img.digest && k.endsWith(`@sha256:${bare(img.digest)}`)).reduce((s, [, n]) => s + n, 0));

  /** Alibaba: the scan holds its task slot while it runs, and gives it back when it ends. */
  async function slotHolders(): Promise<string[]> {
    const [view] = await h.worker.runtime.quotas.all('alibaba');
    const quota = view!.quota as { holders: { scanId: string }[] };
    return quota.holders.map((x) => x.scanId);
  }

  /**
   * Follows a scan to its end. Alibaba: samples the slot holders throughout; whenever a task
   * covering the scan's image runs at the cloud (the simulator's running tasks, read after the
   * holders: a task seen running then was running at the holders' read too), the scan must hold
   * its slot — before its task is recorded (retrying after a lost answer) as much as after.
   */
  async function followToEnd(c: CloudCase, scanId: string, uuid?: string): Promise<{ ended: ScanWithImages; heldWhileRunning: boolean[] }> {
    const heldWhileRunning: boolean[] = [];
    if (c.cloud !== 'alibaba') return { ended: await h.waitForTerminal(scanId, 45_000), heldWhileRunning };
    const ended = await waitFor(
      async () => {
        const scan = await h.worker.runtime.scans.get(scanId);
        if (scan?.finishedAt) return scan;
        const holders = await slotHolders();
        const state = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: { name: string; runningTasks: { uuids: string[] }[] }[] };
        const running = state.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.runningTasks.some((t) => t.uuids.includes(uuid!));
        if (running) heldWhileRunning.push(holders.includes(scanId));
        return undefined;
      },
      { timeoutMs: 45_000, intervalMs: 25, what: `scan ${scanId} to end` },
    );
    return { ended, heldWhileRunning };
  }

  async function expectOneTask(c: CloudCase, before: Awaited<ReturnType<typeof figures>>, ended: ScanWithImages, heldWhileRunning: boolean[]) {
    const after = await figures(c);
    expect(ended.status).toBe('succeeded');
    expect(ended.providerTaskId).toBeTruthy();
    expect(after.reached - before.reached).toBe(1);
    expect(tasksFor(after.perImage, ended)).toEqual(ended.images.map(() => 1));
    expect(after.limitExceeded - before.limitExceeded).toBe(0);
    if (c.cloud === 'aws') {
      // The scan's own StartImageScan, adopted: not somebody else's scan reused.
      expect(ended.reason).toBeNull();
      expect(ended.images.every((i) => !i.reused)).toBe(true);
    }
    if (c.cloud === 'alibaba') {
      expect(heldWhileRunning.length).toBeGreaterThan(0);
      expect(heldWhileRunning.every(Boolean)).toBe(true);
      expect(await slotHolders()).not.toContain(ended.id);
    }
  }

  /**
   * Alibaba, after an adopted task: the ended scan's slot stays free past a renewal of the create
   * lease (a third of it): an adoption that left the create-lease renewals running took the slot
   * back every few seconds, for the worker's life.
   */
  async function expectSlotStaysFree(c: CloudCase, scanId: string) {
    if (c.cloud !== 'alibaba') return;
    await new Promise((r) => setTimeout(r, h.worker.runtime.config.worker.alibaba.createLeaseMs / 3 + 1_000));
    expect(await slotHolders()).not.toContain(scanId);
  }

  describe.each(cases.map((c) => [c.cloud, c] as const))('%s', (_cloud, c) => {
    it(`drop_response on ${c.api} (the task was made, its answer lost): the retry looks it up and adopts it; one task, one create call`, async () => {
      const before = await figures(c);
      await injectFault(h.sim, { cloud: c.cloud, api: c.api, kind: 'drop_response', count: 1 });
      const scan = await submit(c.request(0));
      const { ended, heldWhileRunning } = await followToEnd(c, scan.id, alibabaImages[0]?.uuid);
      await expectOneTask(c, before, ended, heldWhileRunning);
      // The first attempt's call was the one sent: the retry adopted its task (attempt 2 recorded it).
      expect((await figures(c)).total - before.total).toBe(1);
      expect(ended.attempts).toBe(2);
      await expectSlotStaysFree(c, ended.id);
    });

    it(`an attempt that vanished after its intent and its ${c.api}: the next attempt waits for the call to settle, then adopts the task; no second create`, async () => {
      const queue = h.worker.runtime.queues.queue(queueForProvider(c.cloud));
      // Nobody takes the scan's job until the earlier attempt has played its part.
      await queue.pause();
      try {
        const scan = await submit(c.request(1));
        // The earlier attempt: its intent recorded, its create sent, then its process vanished
        // before the answer was recorded (kill -9, or Postgres gone after the call).
        // As the lifecycle does: the images resolved and stored, then (Alibaba) the scan's task
        // slot taken (its lease outlives the process), then the intent, then the call.
        const acct = await account(c.cloud, c.request(1).account as string);
        const provider = h.worker.runtime.providers[c.cloud]!;
        const target = scan.target as Record<string, unknown>;
        const images = await provider.resolveImages(acct, target);
        expect(await h.worker.runtime.scans.addImages(scan.id, images.map((r) => ({ ...r, status: 'pending' as const })), ACTIVE)).toHaveLength(images.length);
        if (c.cloud === 'alibaba') expect((await alibabaSlots(scan.accountId).acquire(scan.id)).granted).toBe(true);
        expect(await intents.claim(scan.id, 'a-worker-that-died', null, ACTIVE)).not.toBeNull();
        const before = await figures(c);
        await c.create(provider, acct, target, images);
        const created = await figures(c);
        expect(created.reached - before.reached).toBe(1);
        await queue.resume();
        const { ended, heldWhileRunning } = await followToEnd(c, scan.id, alibabaImages[1]?.uuid);
        await expectOneTask(c, before, ended, heldWhileRunning);
        expect((await figures(c)).total).toBe(created.total); // no create call from the worker at all
        await expectSlotStaysFree(c, ended.id);
      } finally {
        await queue.resume();
      }
    });

    it(`server_error on ${c.api} (the cloud answered 5xx, created nothing): the retry looks up, finds nothing, and creates exactly one`, async () => {
      const before = await figures(c);
      await injectFault(h.sim, { cloud: c.cloud, api: c.api, kind: 'server_error', count: 1 });
      const scan = await submit(c.request(2));
      const { ended, heldWhileRunning } = await followToEnd(c, scan.id, alibabaImages[2]?.uuid);
      await expectOneTask(c, before, ended, heldWhileRunning);
      const after = await figures(c);
      expect(after.total - before.total).toBe(2); // the refused one and the one that created
      expect(ended.attempts).toBe(2);
    });
  });
});
