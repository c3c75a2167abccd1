import { JobName, queueForProvider } from '@scanq/core';
import { CreateIntentRepository } from '@scanq/db';
import type { Job } from '@scanq/queue';
import { Queue } from 'bullmq';
import { AccountResolver, CloudCreateGuard, createLogger, FencedError } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectFault, startHarness, type WorkerHarness } from './harness.js';

interface SimImage {
  Id: number;
  ImageName: string;
}

const ACTIVE = ['queued', 'quota_wait', 'running', 'retrying'] as const;

/**
 * Exactly one cloud task per scan: the intent recorded in Postgres before a create call, the
 * fence on the job's lock, the look-up at the cloud after an ambiguous create. Judged by what
 * the simulator counted and created, and by Postgres.
 */
describe('exactly one cloud task per scan (real Redis, Postgres, tencentcloud-sdk-nodejs, simulator)', { timeout: 120_000 }, () => {
  let h: WorkerHarness;
  let images: SimImage[] = [];
  let intents: CreateIntentRepository;
  let resolver: AccountResolver;

  beforeAll(async () => {
    // Only the maintenance queue is served at first: the test plays the earlier attempt itself.
    h = await startHarness('exactlyonce', { SCANQ_WORKER_QUEUES: 'maintenance', SCANQ_CREATE_SETTLE_MS: '2500', SCANQ_POLL_INITIAL_MS: '100', SCANQ_RETRY_BACKOFF_MS: '200' }, { SIM_TENCENT_SCAN_MS: '500', SIM_TENCENT_IMAGES: '12' });
    await h.addAccount('tencent');
    const state = (await (await fetch(`${h.sim.url}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: SimImage[] }[] };
    images = state.accounts.find((a) => a.name === 'sim-tencent')!.images;
    intents = new CreateIntentRepository(h.worker.runtime.sql);
    resolver = new AccountResolver(h.worker.runtime.config.credentials);
  });
  afterAll(async () => h?.close());

  /** Tasks the simulator created, per image (a value above 1 is a duplicate task). */
  const tasksPerImage = async () => Object.values((await h.calls()).tasks?.tencent?.perImage ?? {});
  const creates = async () => (await h.calls()).totals['tencent:CreateAssetImageRegistryScanTask'] ?? 0;
  const submit = async (imageId: number) => (await h.worker.runtime.submit.submit({ provider: 'tencent', account: 'sim-tencent', repositoryIds: [imageId] } as never)).scan;

  it('adopts the task an attempt that vanished mid-call created: one task at the cloud, no second create call', async () => {
    const image = images[0]!;
    const scan = await submit(image.Id);
    // The earlier attempt: its intent recorded, its create sent, then the process vanished
    // before the answer was recorded (kill -9, or Postgres gone after the call).
    expect(await intents.claim(scan.id, 'a-worker-that-died', null, ACTIVE)).not.toBeNull();
    const account = await h.worker.runtime.accounts.findByRef('tencent', 'sim-tencent');
    const resolved = resolver.resolve(account!);
    const refs = await h.worker.runtime.providers.tencent!.resolveImages(resolved, { repositoryIds: [image.Id] } as never);
    await h.worker.runtime.providers.tencent!.startScan(resolved, { repositoryIds: [image.Id] } as never, refs);
    const before = await creates();

    // A worker for the tencent queue takes the scan's job over.
    const { startWorker } = await import('../src/worker.js');
    const second = await startWorker(h.env.config({ SCANQ_WORKER_QUEUES: 'tencent', SCANQ_CREATE_SETTLE_MS: '2500', SCANQ_POLL_INITIAL_MS: '100' }));
    try {
      const ended = await h.waitForTerminal(scan.id, 60_000);
      expect(ended.status).toBe('succeeded');
      expect(await creates()).toBe(before); // no second create call
      expect(await tasksPerImage()).toEqual([1]);
    } finally {
      await second.close();
    }
  });

  it('a create whose answer is lost (the cloud made the task): the retry finds it and adopts it, one task, one create call', async () => {
    const image = images[3]!;
    const { startWorker } = await import('../src/worker.js');
    const worker = await startWorker(h.env.config({ SCANQ_WORKER_QUEUES: 'tencent', SCANQ_POLL_INITIAL_MS: '100' }));
    try {
      await injectFault(h.sim, { cloud: 'tencent', api: 'CreateAssetImageRegistryScanTask', kind: 'drop_response', count: 1 });
      const before = await creates();
      const scan = await submit(image.Id);
      const ended = await h.waitForTerminal(scan.id, 60_000);
      expect(ended.status).toBe('succeeded');
      // No answer came back, so the retry waited for the call to settle, then looked the task up.
      expect(await creates()).toBe(before + 1);
      expect((await h.calls()).tasks?.tencent?.perImage).toSatisfy((perImage: Record<string, number>) => Object.values(perImage).every((n) => n === 1));
    } finally {
      await worker.close();
    }
  });

  it('fences an attempt whose job lock is not its own: no intent, no cloud call', async () => {
    const scan = await submit(images[1]!.Id);
    const queue = new Queue(queueForProvider('tencent'), { connection: h.worker.runtime.redis, prefix: h.env.keyspace.queuePrefix(queueForProvider('tencent')) });
    try {
      const job = (await queue.getJob(scan.jobId ?? scan.id)) as Job;
      expect(job?.name).toBe(JobName.ScanStart);
      const guard = new CloudCreateGuard(intents, job, 'a-token-that-lost-its-lock', scan.id, ACTIVE, { timeoutMs: 500, settleMs: 1_000, lookupSkewMs: 0, lockMs: 30_000 }, createLogger(h.env.config(), 'test'));
      let called = false;
      const account = resolver.resolve((await h.worker.runtime.accounts.findByRef('tencent', 'sim-tencent'))!);
      const lookup = { provider: h.worker.runtime.providers.tencent!, account, target: scan.target as Record<string, unknown>, images: [] };
      await expect(
        guard.run(lookup, async () => {
          called = true;
          return { taskId: 'never' };
        }),
      ).rejects.toBeInstanceOf(FencedError);
      expect(called).toBe(false);
      expect((await intents.get(scan.id))?.at).toBeNull();
    } finally {
      await queue.close();
    }
  });

  it('lets only one of two attempts that read the same state record a create intent', async () => {
    const scan = await submit(images[2]!.Id);
    const [a, b] = await Promise.all([intents.claim(scan.id, 'attempt-a', null, ACTIVE), intents.claim(scan.id, 'attempt-b', null, ACTIVE)]);
    expect([a, b].filter((x) => x !== null)).toHaveLength(1);
    const intent = await intents.get(scan.id);
    expect(intent?.owner).toBe(a ? 'attempt-a' : 'attempt-b');
    // Answered: the owner is cleared (its call is over) but the intent stays for the look-up.
    await intents.answered(scan.id, intent!.owner!);
    expect(await intents.get(scan.id)).toMatchObject({ owner: null, at: intent!.at });
  });
});
