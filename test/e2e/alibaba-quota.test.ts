import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { ConcurrencySlots, createRedis, type RedisClient } from '@scanq/queue';
import { alibabaSlotsPrefix } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallCounterSnapshot } from '../../apps/simulator/src/core/call-counter.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { AUTH, type TestEnv } from '../support/env.js';
import type { ScanqProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const [ACCOUNT, ACCOUNT_2] = SIMULATOR_ACCOUNTS.alibaba;
const WORKERS = 4;
const SCANS = 50;
const LEASE_MS = 60_000;

interface SimImage {
  uuid: string;
  digest: string;
  behaviour: string;
  supportedRegion: boolean;
}
interface SimAccount {
  name: string;
  beyondQuataCount: number;
  images: SimImage[];
  runningTasks: { taskId: string; uuids: string[] }[];
  finishedTasks: { taskId: string; uuids: string[] }[];
}
interface ScanView {
  id: string;
  status: string;
  reason: string | null;
  accountId: string;
}

/**
 * Alibaba's 10 tasks per account, held across separate worker processes: the simulator's own
 * record of the most tasks running at once, and a worker killed (SIGKILL) in the middle of a
 * poll while its scan holds a slot.
 */
describe('end to end: Alibaba task slots across worker processes', () => {
  let stack: E2eStack;
  let env: TestEnv;
  let redis: RedisClient;
  let workers: ScanqProcess[] = [];
  let api = '';
  let sim = '';

  const json = async <T>(url: string): Promise<T> => (await fetch(url, { headers: AUTH })).json() as Promise<T>;
  const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const simAccount = async (name: string) => (await json<{ accounts: SimAccount[] }>(`${sim}/_sim/state/alibaba`)).accounts.find((a) => a.name === name) as SimAccount;
  const calls = () => json<CallCounterSnapshot>(`${sim}/_sim/calls`);
  const scan = (id: string) => json<ScanView>(`${api}/v1/scans/${id}`);
  const startWorker = (i: number) => stack.startWorker(`worker-${i}`);
  async function register(account: (typeof SIMULATOR_ACCOUNTS.alibaba)[number]): Promise<string> {
    const res = await post(`${api}/v1/accounts`, { provider: 'alibaba', name: account.name, region: account.region, endpoint: sim, credentialRef: account.name });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }
  const slotsOf = (accountId: string) => new ConcurrencySlots(redis, `${alibabaSlotsPrefix(env.keyspace)}:${accountId}`, 10, LEASE_MS);

  beforeAll(async () => {
    stack = await startE2eStack({
      name: 'alibabae2e',
      env: {
        // Long enough that ten task creations fit inside one task even on a loaded machine.
        SIM_ALIBABA_SCAN_MS: '2500',
        LOG_LEVEL: 'warn',
        SCANQ_WORKER_QUEUES: 'alibaba',
        SCANQ_WORKER_CONCURRENCY: '8',
        SCANQ_POLL_INITIAL_MS: '100',
        SCANQ_POLL_MAX_MS: '300',
        SCANQ_ALIBABA_SLOT_LEASE_MS: String(LEASE_MS),
        SCANQ_ALIBABA_QUOTA_RETRY_MS: '500',
        // A killed worker's job is taken over within seconds, not BullMQ's default 30 s lock.
        SCANQ_WORKER_LOCK_MS: '5000',
        SCANQ_WORKER_STALLED_CHECK_MS: '1000',
      },
      workers: 0,
    });
    ({ env, api, sim } = stack);
    redis = createRedis(env.redisTopology);
    workers = Array.from({ length: WORKERS }, (_, i) => startWorker(i));
  });

  afterAll(async () => {
    await stack?.close();
    redis?.disconnect();
  });

  it(`runs ${SCANS} scans of one account through ${WORKERS} workers with exactly 10 tasks at once at most`, async () => {
    const accountId = await register(ACCOUNT);
    const images = (await simAccount(ACCOUNT.name)).images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).slice(0, SCANS);
    expect(images).toHaveLength(SCANS);
    const ids = await Promise.all(
      images.map(async (image) => {
        const res = await post(`${api}/v1/scans`, { provider: 'alibaba', account: ACCOUNT.name, digests: [image.digest] });
        expect(res.status).toBe(202);
        return ((await res.json()) as { id: string }).id;
      }),
    );
    let sawQuotaWait = false;
    const done = await waitFor(
      async () => {
        const views = await Promise.all(ids.map(scan));
        sawQuotaWait ||= views.some((v) => v.status === 'quota_wait');
        return views.every((v) => ['succeeded', 'failed', 'cancelled'].includes(v.status)) ? views : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `${SCANS} scans to end` },
    );
    expect(done.map((d) => d.status)).toEqual(ids.map(() => 'succeeded'));
    expect(sawQuotaWait).toBe(true); // 50 scans on 10 slots: most waited, visibly

    const snapshot = await calls();
    expect(snapshot.gauges[`alibaba:${ACCOUNT.name}:runningTasks`]?.max).toBe(10);
    expect(snapshot.outcomes['alibaba:PublicCreateImageScanTask:BeyondQuata'] ?? 0).toBe(0);
    const sim = await simAccount(ACCOUNT.name);
    expect(sim.beyondQuataCount).toBe(0);
    // One task per scan, none repeated.
    const tasks = [...sim.runningTasks, ...sim.finishedTasks];
    expect(tasks).toHaveLength(SCANS);
    expect(new Set(tasks.flatMap((t) => t.uuids)).size).toBe(SCANS);
    expect(await slotsOf(accountId).inUse()).toBe(0);
  });

  it('recovers a scan whose worker is killed (SIGKILL) mid-poll: no duplicate task, the slot frees within the lease', async () => {
    const accountId = await register(ACCOUNT_2);
    // One worker left, so the poll that hangs is certainly that worker's.
    await Promise.all(workers.slice(1).map((w) => w.stop()));
    const victim = workers[0]!;
    const image = (await simAccount(ACCOUNT_2.name)).images.find((i) => i.behaviour === 'normal' && i.supportedRegion)!;
    const res = await post(`${api}/v1/scans`, { provider: 'alibaba', account: ACCOUNT_2.name, digests: [image.digest] });
    const { id } = (await res.json()) as { id: string };
    await waitFor(async () => ((await scan(id)).status === 'running' ? true : undefined), { timeoutMs: 20_000, what: 'the scan to run' });
    const slots = slotsOf(accountId);
    expect((await slots.state()).holders.map((h) => h.owner)).toEqual([id]);

    // The next DescribeImageInstances hangs: the worker is inside a poll when it dies.
    expect((await post(`${sim}/_sim/faults`, { cloud: 'alibaba', api: 'DescribeImageInstances', kind: 'timeout', count: 1 })).ok).toBe(true);
    await waitFor(async () => (((await calls()).outcomes['alibaba:DescribeImageInstances:fault:timeout'] ?? 0) >= 1 ? true : undefined), { timeoutMs: 20_000, what: 'a poll to hang' });
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => victim.child.once('exit', r));
    expect((await slots.state()).holders.map((h) => h.owner)).toEqual([id]); // the slot outlives the process

    startWorker(99);
    const freedAt = await waitFor(async () => ((await slots.inUse()) === 0 ? Date.now() : undefined), { timeoutMs: LEASE_MS + 10_000, intervalMs: 200, what: 'the slot to free' });
    expect(freedAt - killedAt).toBeLessThanOrEqual(LEASE_MS);
    const done = await waitFor(async () => {
      const v = await scan(id);
      return ['succeeded', 'failed'].includes(v.status) ? v : undefined;
    }, { timeoutMs: 20_000, what: 'the scan to end' });
    expect(done.status).toBe('succeeded');
    const sim2 = await simAccount(ACCOUNT_2.name);
    expect(sim2.runningTasks.length + sim2.finishedTasks.length).toBe(1);
  }, 150_000);
});
