import { jobIds } from '@scanq/core';
import { createRedis, scanKeys } from '@scanq/queue';
import { AwsEcrProvider } from '@scanq/providers';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { injectFault, startHarness, type WorkerHarness } from './harness.js';
import { waitFor } from '../../../test/support/wait.js';

const total = async (h: WorkerHarness, key: string) => (await h.calls()).totals[key] ?? 0;

describe('AWS scans through the worker (real Redis, Postgres, ECR SDK, simulator)', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness('awsflow');
  });
  afterAll(async () => h?.close());
  // Each test uses images no other test touches; call counts are read as deltas.
  let startsBefore = 0;
  const starts = async () => (await total(h, 'aws:StartImageScan')) - startsBefore;
  beforeEach(async () => {
    await h.configureAws({ scanDurationMs: 200 });
    startsBefore = await total(h, 'aws:StartImageScan');
  });

  const submit = (repositoryName: string, imageId: { imageTag?: string; imageDigest?: string }, timeoutSeconds?: number) =>
    h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName, imageId, ...(timeoutSeconds ? { timeoutSeconds } : {}) }).then((r) => r.scan);

  it('resolves a tag to its digest, starts one scan, and stores normalized findings with the raw payload', async () => {
    const scan = await submit('scanq/api', { imageTag: '1.4' });
    const done = await h.waitForTerminal(scan.id);
    expect(done.status).toBe('succeeded');
    const [image] = done.images;
    expect(image!.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(image!.tags.sort()).toEqual(['1.4', '1.4.0']);
    expect(image!.reused).toBe(false);
    expect(await starts()).toBe(1);
    const findings = await h.worker.runtime.db.finding.findMany({ where: { scanId: scan.id } });
    const counted = image!.critical + image!.high + image!.medium + image!.low + image!.informational + image!.unknown;
    expect(findings.length).toBe(counted);
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) {
      expect(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNKNOWN']).toContain(f.severity);
      expect((f.raw as { name?: string }).name).toBe(f.vulnerabilityId);
    }
  });

  it('treats one digest under several tags as one image: concurrent scans start it once', async () => {
    const scans = await Promise.all([submit('scanq/api', { imageTag: '1.4.2' }), submit('scanq/api', { imageTag: 'stable' }), submit('scanq/api', { imageTag: 'latest' })]);
    const done = await Promise.all(scans.map((s) => h.waitForTerminal(s.id)));
    expect(done.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(new Set(done.map((d) => d.images[0]!.digest)).size).toBe(1);
    expect(await starts()).toBe(1);
    expect(done.filter((d) => d.images[0]!.reused)).toHaveLength(2);
    expect((await h.calls()).outcomes['aws:StartImageScan:LimitExceededException'] ?? 0).toBe(0);
  });

  it('reuses a scan-on-push result instead of calling StartImageScan', async () => {
    const scan = await submit('library/nginx', { imageTag: 'latest' });
    const done = await h.waitForTerminal(scan.id);
    expect(done.status).toBe('succeeded');
    expect(done.reason).toBe('reused_recent_scan');
    expect(done.images[0]!.reused).toBe(true);
    expect(await starts()).toBe(0);
    expect(await h.worker.runtime.db.finding.count({ where: { scanId: scan.id } })).toBeGreaterThan(0);
  });

  it('never starts an image twice in the window even after Redis lost its claims (Postgres remembers)', async () => {
    const first = await h.waitForTerminal((await submit('scanq/web', { imageTag: 'latest' })).id);
    expect(first.status).toBe('succeeded');
    const redis = createRedis(h.env.redisTopology);
    const keys = await scanKeys(redis, `${h.env.keyspace.quota('aws')}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    redis.disconnect();
    const second = await h.waitForTerminal((await submit('scanq/web', { imageTag: '2.0.1' })).id);
    expect(second.status).toBe('succeeded');
    expect(second.images[0]!.reused).toBe(true);
    expect(await starts()).toBe(1);
    const record = await h.worker.runtime.windows.get({ accountId: h.account.id, registry: first.images[0]!.registry, repository: 'scanq/web', digest: first.images[0]!.digest! });
    expect(record?.scanId).toBe(first.id);
  });

  it.each([
    ['an unknown tag', 'scanq/api', { imageTag: 'does-not-exist' }, 'image_not_found'],
    ['an unknown repository', 'scanq/nope', { imageTag: 'latest' }, 'repository_not_found'],
  ])('fails %s with a machine-readable reason', async (_what, repo, imageId, reason) => {
    const done = await h.waitForTerminal((await submit(repo, imageId)).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe(reason);
    expect(await starts()).toBe(0);
  });

  it('fails an unsupported artifact with unsupported_image_type (StartImageScan refused it) and keeps its window open', async () => {
    const state = (await (await fetch(`${h.sim.url}/_sim/state/aws`)).json()) as { accounts: { special: { unsupported: { digest: string } } }[] };
    const digest = state.accounts[0]!.special.unsupported.digest;
    const done = await h.waitForTerminal((await submit('scanq/api', { imageDigest: digest })).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('unsupported_image_type');
    expect(done.error).toContain('UnsupportedImageTypeException');
    expect(await h.worker.runtime.windows.get({ accountId: h.account.id, registry: done.images[0]!.registry, repository: 'scanq/api', digest })).toBeNull();
  });

  it('fails a scan the cloud could not complete with scan_failed', async () => {
    const done = await h.waitForTerminal((await submit('scanq/worker', { imageTag: 'legacy-scratch' })).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('scan_failed');
    expect(done.images[0]!.status).toBe('failed');
  });

  it('retries a ServerException and a dropped connection with backoff, then succeeds', async () => {
    await injectFault(h.sim, { cloud: 'aws', api: 'StartImageScan', kind: 'server_error', count: 1 });
    await injectFault(h.sim, { cloud: 'aws', api: 'DescribeImages', kind: 'disconnect', count: 1 });
    const done = await h.waitForTerminal((await submit('scanq/worker', { imageTag: 'latest' })).id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    const outcomes = Object.keys((await h.calls()).outcomes).filter((k) => k.startsWith('aws:StartImageScan:') && !k.endsWith(':ok'));
    expect(outcomes.length).toBeGreaterThanOrEqual(1); // the injected server error was answered
    expect(await starts()).toBe(2);
  });

  it('fails with the last error once the configured attempts are spent', async () => {
    await injectFault(h.sim, { cloud: 'aws', api: 'StartImageScan', kind: 'server_error', count: 3 }); // = SCANQ_START_ATTEMPTS: every attempt fails
    const done = await h.waitForTerminal((await submit('scanq/worker', { imageTag: '3.0.2' })).id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('attempts_exhausted');
    expect(done.error).toContain('ServerException');
    expect(await starts()).toBe(3); // SCANQ_START_ATTEMPTS=3 in tests
    expect(done.attempts).toBe(3); // the last attempt counts too
    // The row is final before BullMQ moves the job on (the job ends after the write): wait for it.
    const job = await h.worker.runtime.queues.getJob('aws', done.id);
    const state = await waitFor(async () => {
      const s = await job?.getState();
      return s === 'active' ? undefined : s;
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'the start job to leave active' });
    expect(state).toBe('failed');
  });

  it('leaves a scan whose start a worker is running to its real result: a cancel then neither marks it cancelled nor strands it', async () => {
    const aws = h.worker.runtime.providers.aws!;
    const resolveImages = aws.resolveImages.bind(aws);
    let scanId = '';
    let during: Awaited<ReturnType<typeof h.worker.runtime.submit.cancel>> = null;
    // The cancel lands while the start job is active (resolving the image, about to start it at the cloud).
    const spy = vi.spyOn(aws, 'resolveImages').mockImplementationOnce(async (account, target) => {
      during = await h.worker.runtime.submit.cancel(scanId);
      return resolveImages(account, target);
    });
    try {
      const scan = await submit('scanq/web', { imageTag: '1.9.6-rc1' });
      scanId = scan.id;
      const done = await h.waitForTerminal(scan.id);
      expect(spy).toHaveBeenCalled();
      expect(during!.status).toBe('queued'); // not cancelled under a start that goes on
      expect(done.status).toBe('succeeded');
      expect(done.images.map((i) => i.status)).toEqual(['succeeded']);
      expect(await starts()).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('retries visibly, not fails at once, a scan whose credentials this worker lacks (another worker may have them)', async () => {
    const { runtime } = h.worker;
    await runtime.accounts.create({ provider: 'aws', name: 'creds-elsewhere', region: 'us-east-1', endpoint: h.sim.url, credentialRef: 'only-on-other-workers', settings: { registryId: '123456789012' } });
    const scan = (await runtime.submit.submit({ provider: 'aws', account: 'creds-elsewhere', repositoryName: 'scanq/web', imageId: { imageTag: '2.0.1' } })).scan;
    const retrying = await waitFor(async () => {
      const s = await runtime.scans.get(scan.id);
      return s?.status === 'retrying' ? s : undefined;
    });
    expect(retrying.error).toMatch(/CredentialsNotConfigured: credential set "only-on-other-workers"/);
    const done = await h.waitForTerminal(scan.id);
    expect(done).toMatchObject({ status: 'failed', reason: 'attempts_exhausted', attempts: 3 });
    expect(done.error).toMatch(/only-on-other-workers/);
    expect(await starts()).toBe(0);
  });

  it('ends a scan that passes its deadline as failed (timed_out)', async () => {
    await h.configureAws({ scanDurationMs: 600_000 });
    const { runtime } = h.worker;
    const { scan } = await runtime.scans.create({ provider: 'aws', accountId: h.account.id, target: { repositoryName: 'scanq/worker', imageId: { imageTag: '3.0.1' } }, deadlineAt: new Date(Date.now() + 1500) });
    await runtime.queues.enqueueScanStarts([{ id: scan.id, provider: 'aws' }]);
    const done = await h.waitForTerminal(scan.id);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('timed_out');
    expect(done.images[0]!.status).toBe('failed');
  });

  it('leaves a scan that ended during a poll (deadline) ended instead of parking it running again', async () => {
    await h.configureAws({ scanDurationMs: 600_000 });
    const { runtime } = h.worker;
    const scan = await submit('bench/images', { imageTag: 'b-00042' });
    const pollJob = async () => {
      for (let i = 0; i < 200; i += 1) {
        const job = await runtime.queues.getJob('aws', jobIds.poll(scan.id));
        if (job && (await job.getState()) === 'delayed') return job;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('no delayed poll job');
    };
    const parked = await pollJob();
    // The scan is retrying (its last look failed), and the next look races the reconciler's
    // time-out, which lands first: parking must not turn the ended scan back to running.
    expect(await runtime.scans.transition(scan.id, ['running'], { status: 'retrying' })).toBe(true);
    const pollScan = AwsEcrProvider.prototype.pollScan;
    let endedAt: Date | null | undefined;
    const spy = vi.spyOn(AwsEcrProvider.prototype, 'pollScan').mockImplementationOnce(async function (this: AwsEcrProvider, ...args: Parameters<typeof pollScan>) {
      await runtime.scans.finish(scan.id, 'failed', { reason: 'timed_out', error: 'deadline passed' });
      endedAt = (await runtime.scans.get(scan.id))!.finishedAt;
      return pollScan.apply(this, args);
    });
    try {
      await parked.promote();
      let state = '';
      for (let i = 0; i < 200 && state !== 'completed'; i += 1) {
        await new Promise((r) => setTimeout(r, 25));
        state = await parked.getState();
      }
      expect(spy).toHaveBeenCalled();
      expect(state).toBe('completed');
      // Ended once: revived to running, it would have been polled and ended a second time.
      const after = (await runtime.scans.get(scan.id))!;
      expect(after).toMatchObject({ status: 'failed', reason: 'timed_out', error: 'deadline passed' });
      expect(after.finishedAt).toEqual(endedAt);
    } finally {
      spy.mockRestore();
    }
  });

  it('re-enqueues a scan whose job vanished (Redis is not the ledger)', async () => {
    const { runtime } = h.worker;
    // A scan recorded in Postgres whose job never reached Redis.
    const { scan } = await runtime.scans.create({ provider: 'aws', accountId: h.account.id, target: { repositoryName: 'scanq/web', imageId: { imageTag: '2.0.0' } }, deadlineAt: new Date(Date.now() + 60_000) });
    await new Promise((r) => setTimeout(r, 300));
    expect((await runtime.scans.get(scan.id))!.status).toBe('queued');
    const report = await runtime.reconciler.reconcile();
    expect(report.reenqueued).toBeGreaterThanOrEqual(1);
    expect((await h.waitForTerminal(scan.id)).status).toBe('succeeded');
  });
});

describe('first look right after the start (SCANQ_POLL_INITIAL_MS=0)', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness('awsfirstlook', { SCANQ_POLL_INITIAL_MS: '0' }, { SIM_AWS_SCAN_MS: '0' });
  });
  afterAll(async () => h?.close());

  it('finishes a reused scan-on-push result inside the start job: no poll job, no second look', async () => {
    const [findingsBefore, describeBefore] = await Promise.all([total(h, 'aws:DescribeImageScanFindings'), total(h, 'aws:DescribeImages')]);
    const markStarted = vi.spyOn(h.worker.runtime.scans, 'markStarted');
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'library/nginx', imageId: { imageTag: 'latest' } });
    const done = await h.waitForTerminal(scan.id);
    const starts = markStarted.mock.calls.filter(([id]) => id === scan.id);
    markStarted.mockRestore(); // (which also clears the calls)
    expect(done.status).toBe('succeeded');
    expect(done.images[0]!.reused).toBe(true);
    // The start was recorded in the statement that stored the result and ended the scan.
    expect(starts).toEqual([]);
    expect(done).toMatchObject({ providerTaskId: done.images[0]!.digest, attempts: 1, jobId: jobIds.poll(scan.id), nextPollAt: null });
    expect(done.startedAt!.getTime()).toBeLessThanOrEqual(done.finishedAt!.getTime());
    // The tag resolution (DescribeImages) already shows the scan-on-push result, one inline
    // poll stored it, and no poll job was ever queued (completed jobs are kept, so one that ran
    // would still be found).
    expect((await total(h, 'aws:DescribeImages')) - describeBefore).toBe(1);
    expect((await total(h, 'aws:DescribeImageScanFindings')) - findingsBefore).toBe(1);
    expect(await h.worker.runtime.queues.getJob('aws', jobIds.poll(scan.id))).toBeUndefined();
    expect(await h.worker.runtime.queues.getJob('aws', jobIds.start(scan.id))).toBeDefined();
    expect(await h.worker.runtime.db.finding.count({ where: { scanId: scan.id } })).toBeGreaterThan(0);
  });

  it('hands a scan that is not done yet to a poll job, its start recorded first', async () => {
    await h.configureAws({ scanDurationMs: 400 });
    const markStarted = vi.spyOn(h.worker.runtime.scans, 'markStarted');
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: '1.4' } });
    const done = await h.waitForTerminal(scan.id);
    const starts = markStarted.mock.calls.filter(([id]) => id === scan.id);
    markStarted.mockRestore();
    expect(starts).toHaveLength(1);
    expect(done).toMatchObject({ providerTaskId: done.images[0]!.digest, attempts: 1 });
    expect(done.status).toBe('succeeded');
    expect(done.images[0]!.reused).toBe(false);
    expect(await h.worker.runtime.queues.getJob('aws', jobIds.poll(scan.id))).toBeDefined();
  });
});
