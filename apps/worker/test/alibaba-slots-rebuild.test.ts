import { ProviderError, simulatorAccountRequest } from '@scanq/core';
import { type CloudAccount, QuotaLedgerRepository } from '@scanq/db';
import type { ProviderAccount, ScanProvider } from '@scanq/providers';
import { AccountResolver, alibabaSlotsPrefix, createRuntime, type GuardedCreate, type ScanqRuntime } from '@scanq/scans';
import { createRedis, type RedisClient } from '@scanq/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlibabaScanTaskPolicy } from '../../../packages/scans/src/start-policies/alibaba-scan-task.policy.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { RedisServer } from '../../../test/support/servers.js';
import { waitFor } from '../../../test/support/wait.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';
import { createFrontEnds } from '../../simulator/src/frontends.js';
import { type RunningSimulator, startSimulator } from '../../simulator/src/core/server.js';

interface SimAccount {
  name: string;
  beyondQuataCount: number;
  runningTaskCount: number;
  images: { digest: string; behaviour: string; supportedRegion: boolean }[];
}

/**
 * Redis loses the Alibaba slots (FLUSHALL on a Redis of the test's own) while 10 tasks still run
 * at the cloud: the slots are rebuilt from Postgres, the ledger, before any is granted.
 */
describe('Alibaba slots after a Redis loss (own Redis, Postgres, simulator, SAS adapter)', () => {
  let env: TestEnv;
  let own: RedisServer;
  let sim: RunningSimulator;
  let runtime: ScanqRuntime;
  let admin: RedisClient;
  let stored: CloudAccount;
  let account: ProviderAccount;
  let policy: AlibabaScanTaskPolicy;
  const woken: string[] = [];

  beforeAll(async () => {
    env = await createTestEnv('alibabarebuild');
    own = await RedisServer.start();
    admin = createRedis(own.url);
    sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: createFrontEnds({}) });
    runtime = createRuntime(env.config({ REDIS_URL: own.url }));
    stored = await runtime.accounts.upsertByName(simulatorAccountRequest('alibaba', 0, sim.url));
    account = new AccountResolver(runtime.config.credentials).resolve(stored);
    const { config } = runtime;
    policy = new AlibabaScanTaskPolicy(runtime.redis, alibabaSlotsPrefix(runtime.keyspace), config.worker.alibaba, new QuotaLedgerRepository(runtime.sql), async (jobId) => {
      woken.push(jobId);
    });
  });
  afterAll(async () => {
    await runtime?.close();
    admin?.disconnect();
    await sim?.close();
    await own?.destroy();
    await env?.cleanup();
  });

  const simAccount = async (): Promise<SimAccount> => {
    const state = (await (await fetch(`${sim.url}/_sim/state/alibaba`)).json()) as { accounts: SimAccount[] };
    return state.accounts.find((a) => a.name === stored.name)!;
  };
  const configureSim = async (body: unknown) => {
    const res = await fetch(`${sim.url}/_sim/config/alibaba`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.ok).toBe(true);
  };
  const creates = async () => (await simulatorCalls(sim.url)).totals['alibaba:PublicCreateImageScanTask'] ?? 0;
  const provider = () => runtime.providers.alibaba as ScanProvider;
  /** The policy's create call as is (the lifecycle's exactly-once guard is tested on its own). */
  const unguarded: GuardedCreate = async (call) => ({ started: await call(), adopted: false });
  /** A scan as the start job sees it: submitted (Postgres), then started through the policy. */
  const submit = async (digest: string) => (await runtime.submit.submit({ provider: 'alibaba', account: stored.name, digests: [digest] })).scan;
  const start = (scan: Awaited<ReturnType<typeof submit>>) => policy.start(scan, scan.images, account, provider(), unguarded);

  it('refuses an 11th scan while 10 tasks run (seeded from Postgres), and gives the slot to it once one of them ends', async () => {
    const digests = (await simAccount()).images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).map((i) => i.digest);
    // Ten tasks at the cloud, recorded as running in Postgres; the first ends soon, the others not.
    const running = [];
    for (let i = 0; i < 10; i++) {
      await configureSim({ scanDurationMs: i === 0 ? 1_500 : 600_000 });
      const scan = await submit(digests[i]!);
      const { taskId } = await start(scan);
      expect(await runtime.scans.markStarted(scan.id, ['queued'], { status: 'running', providerTaskId: taskId, startedAt: new Date(), attempts: 1 }, false)).toBe(true);
      running.push(scan);
    }
    expect((await simAccount()).runningTaskCount).toBe(10);

    await admin.flushall(); // Redis loses everything: slots, waiters, queues
    const eleventh = await submit(digests[10]!);
    const refused = await start(eleventh).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused).toMatchObject({ kind: 'quota', code: 'TaskSlotsFull', reason: 'quota_wait' });
    expect(await creates()).toBe(10); // the 11th never reached the cloud
    const slots = policy.slots(stored.id);
    expect((await slots.state()).holders.map((h) => h.owner).sort()).toEqual(running.map((s) => s.id).sort());

    // The first task ends at the cloud; its poll sees it over and gives the slot back.
    await waitFor(async () => ((await simAccount()).runningTaskCount === 9 ? true : undefined), { timeoutMs: 10_000, what: 'the first task to end' });
    await policy.release(running[0]!, account);
    expect(woken).toEqual([eleventh.jobId]);

    const started = await start(eleventh);
    expect(started.taskId).toMatch(/^[0-9a-f]{32}$/);
    expect(await creates()).toBe(11);
    const cloud = await simAccount();
    expect(cloud).toMatchObject({ runningTaskCount: 10, beyondQuataCount: 0 });
    expect((await slots.state()).inUse).toBe(10);
  });

  it('after a Redis loss, grants nothing for a create lease while another scan may be creating its task: that start takes its slot back meanwhile', async () => {
    const stored2 = await runtime.accounts.upsertByName(simulatorAccountRequest('alibaba', 1, sim.url));
    const account2 = new AccountResolver(runtime.config.credentials).resolve(stored2);
    const { config } = runtime;
    // Two slots; the create lease renewed every 2 s, so the flushed slot is gone for a while.
    const small = new AlibabaScanTaskPolicy(runtime.redis, alibabaSlotsPrefix(runtime.keyspace), { ...config.worker.alibaba, taskLimit: 2, createLeaseMs: 6_000 }, new QuotaLedgerRepository(runtime.sql));
    const submit2 = async (digest: string) => (await runtime.submit.submit({ provider: 'alibaba', account: stored2.name, digests: [digest] })).scan;
    const start2 = (scan: Awaited<ReturnType<typeof submit2>>) => small.start(scan, scan.images, account2, provider(), unguarded);
    const state = (await (await fetch(`${sim.url}/_sim/state/alibaba`)).json()) as { accounts: SimAccount[] };
    const digests = state.accounts.find((a) => a.name === stored2.name)!.images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).map((i) => i.digest);
    await configureSim({ scanDurationMs: 600_000 });

    const x = await submit2(digests[0]!);
    const { taskId } = await start2(x);
    await runtime.scans.markStarted(x.id, ['queued'], { status: 'running', providerTaskId: taskId, startedAt: new Date(), attempts: 1 }, false);
    // Y's create call hangs at the cloud: Y holds a slot that only Redis knows of.
    const fault = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cloud: 'alibaba', api: 'PublicCreateImageScanTask', kind: 'timeout', count: 1 }) });
    expect(fault.ok).toBe(true);
    const y = await submit2(digests[1]!);
    const yStart = start2(y).catch((err: unknown) => err);
    await waitFor(async () => (((await simulatorCalls(sim.url)).outcomes['alibaba:PublicCreateImageScanTask:fault:timeout'] ?? 0) >= 1 ? true : undefined), { what: "Y's create to hang" });

    await admin.flushall();
    const z = await submit2(digests[2]!);
    // The ledger shows only X; Y is open without a task: Z waits although one slot looks free.
    await expect(start2(z)).rejects.toMatchObject({ kind: 'quota', reason: 'quota_wait' });
    const slots = small.slots(stored2.id);
    await waitFor(async () => ((await slots.state()).holders.length === 2 ? true : undefined), { timeoutMs: 10_000, what: "Y's start to take its slot back" });
    expect((await slots.state()).holders.map((h) => h.owner).sort()).toEqual([x.id, y.id].sort());
    await expect(start2(z)).rejects.toMatchObject({ kind: 'quota', reason: 'quota_wait' });
    expect((await simAccount()).beyondQuataCount).toBe(0);

    // The hung create ends (its connection drops): a failure that may have created the task keeps the slot.
    sim.app.server.closeAllConnections();
    await yStart;
    expect((await slots.state()).holders.map((h) => h.owner).sort()).toEqual([x.id, y.id].sort());
  });
});
