import { SIMULATOR_ACCOUNTS, simulatorAccountRequest } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { key, parseExposition } from '../../apps/api/test/exposition.js';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { AUTH } from '../support/env.js';
import { freePort, type ScanqProcess, waitForHttp } from '../support/processes.js';
import { RedisServer } from '../support/servers.js';
import { simulatorCalls } from '../support/simulator-calls.js';
import { waitFor } from '../support/wait.js';

const json = { ...AUTH, 'content-type': 'application/json' };
const SCANS = 6;
const GRACE_MS = 20_000;

interface Readiness {
  ok: boolean;
  status: string;
  checks: { postgres: string; redis: string; queues: string };
  queues: Record<string, string>;
}

/**
 * A worker as a pod sees it: its own /healthz, /readyz and /metrics on a port of its own, as a
 * real process against a Redis of the test's own (stopped and started again here) and the
 * simulator. /metrics is judged against what the simulator counted; readiness against a Redis
 * really gone; the drain against the process's exit.
 */
describe('worker health, readiness and metrics endpoints', () => {
  let stack: E2eStack;
  let redis: RedisServer;
  let worker: ScanqProcess;
  let api = '';
  let sim = '';
  let http = '';

  const readyz = async (): Promise<{ status: number; body: Readiness }> => {
    const res = await fetch(`${http}/readyz`, { signal: AbortSignal.timeout(15_000) });
    return { status: res.status, body: (await res.json()) as Readiness };
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    const httpPort = await freePort();
    http = `http://127.0.0.1:${httpPort}`;
    stack = await startE2eStack({
      name: 'worker-http',
      env: { REDIS_URL: redis.url, SIM_AWS_SCAN_MS: '300', SCANQ_WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS), SCANQ_ALIBABA_TASK_LIMIT: '1', SCANQ_ALIBABA_QUOTA_RETRY_MS: '500' },
      workers: [{ SCANQ_WORKER_HTTP_PORT: String(httpPort), SCANQ_WORKER_PROBE_TIMEOUT_MS: '1000' }],
    });
    ({ api, sim } = stack);
    worker = stack.procs.find((p) => p.name === 'worker')!;
    await waitForHttp(`${http}/readyz`, worker, 90_000);
  });

  afterAll(async () => {
    await stack?.close();
    await redis?.destroy();
  });

  it('is live and ready with every queue consuming', async () => {
    const health = await fetch(`${http}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { ok: boolean }).ok).toBe(true);
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ postgres: 'ok', redis: 'ok', queues: 'ok' });
    expect(Object.keys(ready.body.queues).sort()).toEqual(['alibaba', 'aws', 'huawei', 'maintenance', 'requests', 'tencent', 'webhooks'].sort());
    expect(new Set(Object.values(ready.body.queues))).toEqual(new Set(['running']));
  }, 180_000);

  it('/metrics counts the jobs it ran and the cloud calls the simulator saw', async () => {
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const account = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: json, body: JSON.stringify({ provider: 'aws', name: aws.name, region: aws.region, endpoint: sim, credentialRef: aws.name, settings: { registryId: aws.registryId } }) });
    expect(account.status).toBe(201);
    for (let i = 0; i < SCANS; i++) {
      const res = await fetch(`${api}/v1/scans`, { method: 'POST', headers: { ...json, 'idempotency-key': `worker-http-${i}` }, body: JSON.stringify({ provider: 'aws', account: aws.name, repositoryName: 'bench/images', imageId: { imageTag: `b-${String(i).padStart(5, '0')}` } }) });
      expect(res.status).toBe(202);
    }
    const client = new pg.Client({ connectionString: stack.env.databaseUrl });
    await client.connect();
    try {
      await waitFor(async () => ((await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Scan" WHERE status = 'succeeded'`)).rows[0]!.n === SCANS ? true : undefined), { timeoutMs: 90_000, intervalMs: 250, what: 'every scan to succeed' });
    } finally {
      await client.end();
    }
    const calls = await simulatorCalls(sim);
    // A scan's row is final before its poll job is marked completed in BullMQ (the job ends
    // after the commit): wait for the worker to be idle, then read its counts once.
    const m = await waitFor(
      async () => {
        const res = await fetch(`${http}/metrics`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/plain');
        const exposition = parseExposition(await res.text());
        return exposition.get(key('scanq_worker_active_jobs', { queue: 'aws' })) === 0 ? exposition : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the worker to finish its last jobs' },
    );
    // One worker made every call: its own counts are the cloud's.
    expect(calls.totals['aws:StartImageScan']).toBe(SCANS);
    expect(m.get(key('scanq_worker_provider_calls_total', { provider: 'aws', api: 'StartImageScan', outcome: 'ok' }))).toBe(calls.outcomes['aws:StartImageScan:ok']);
    expect(m.get(key('scanq_worker_provider_calls_total', { provider: 'aws', api: 'DescribeImageScanFindings', outcome: 'ok' }))).toBe(calls.outcomes['aws:DescribeImageScanFindings:ok']);
    expect(m.get(key('scanq_worker_provider_call_duration_seconds_count', { provider: 'aws', api: 'StartImageScan' }))).toBe(calls.totals['aws:StartImageScan']);
    // Each scan: one start that ran to its end (the task created, the poll queued), one poll that found it done.
    expect(m.get(key('scanq_worker_jobs_total', { queue: 'aws', job: 'scan.start', outcome: 'completed' }))).toBe(SCANS);
    expect(m.get(key('scanq_worker_jobs_total', { queue: 'aws', job: 'scan.poll', outcome: 'completed' }))).toBe(SCANS);
    expect(m.get(key('scanq_worker_active_jobs', { queue: 'aws' }))).toBe(0);
    expect(m.get(key('scanq_worker_process_resident_memory_bytes', {}))).toBeGreaterThan(0);
  }, 180_000);

  it('/metrics counts quota waits: two Alibaba scans on one task slot, the second waits for the first', async () => {
    // The first task runs 8 s at the cloud: the second start surely finds the one slot taken.
    const config = await fetch(`${sim}/_sim/config/alibaba`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scanDurationMs: 8000 }) });
    expect(config.ok).toBe(true);
    const account = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: json, body: JSON.stringify(simulatorAccountRequest('alibaba', 0, sim)) });
    expect(account.status).toBe(201);
    const state = (await (await fetch(`${sim}/_sim/state/alibaba`)).json()) as { accounts: { name: string; images: { digest: string; behaviour: string; supportedRegion: boolean }[] }[] };
    const images = state.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).slice(0, 2);
    const ids: string[] = [];
    for (const [i, image] of images.entries()) {
      const res = await fetch(`${api}/v1/scans`, { method: 'POST', headers: { ...json, 'idempotency-key': `worker-http-ali-${i}` }, body: JSON.stringify({ provider: 'alibaba', account: SIMULATOR_ACCOUNTS.alibaba[0].name, digests: [image.digest] }) });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const client = new pg.Client({ connectionString: stack.env.databaseUrl });
    await client.connect();
    try {
      await waitFor(async () => ((await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Scan" WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [ids])).rows[0]!.n === 2 ? true : undefined), { timeoutMs: 120_000, intervalMs: 250, what: 'both Alibaba scans to succeed' });
    } finally {
      await client.end();
    }
    const m = parseExposition(await (await fetch(`${http}/metrics`)).text());
    // The cloud ran one task at a time, so the second start was refused room at least once.
    expect((await simulatorCalls(sim)).gauges[`alibaba:${SIMULATOR_ACCOUNTS.alibaba[0].name}:runningTasks`]?.max).toBe(1);
    expect(m.get(key('scanq_worker_quota_waits_total', { provider: 'alibaba', code: 'TaskSlotsFull' }))).toBeGreaterThanOrEqual(1);
    expect(m.get(key('scanq_worker_jobs_total', { queue: 'alibaba', job: 'scan.start', outcome: 'parked' }))).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('/readyz is 503 naming redis while its Redis is down, 200 again once it is back; /healthz stays 200', async () => {
    await redis.stop({ keepData: true });
    const down = await waitFor(async () => {
      const r = await readyz();
      return r.status === 503 && r.body.checks.redis === 'down' ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, what: 'readyz to name redis' });
    expect(down.body).toMatchObject({ ok: false, status: 'unavailable', checks: { postgres: 'ok', redis: 'down' } });
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    await redis.start();
    const up = await waitFor(async () => {
      const r = await readyz();
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'readyz 200 after Redis restart' });
    expect(up.body.checks).toEqual({ postgres: 'ok', redis: 'ok', queues: 'ok' });
  }, 180_000);

  it('a Redis that answers PING but refuses writes (demoted to a replica) makes the worker and the API unready', async () => {
    // A replica of a master that is not there: PING answers, every write is READONLY, its data stays.
    await redis.command('REPLICAOF', '127.0.0.1', '1');
    try {
      expect(await redis.command('PING')).toBe('PONG');
      const worker = await waitFor(async () => {
        const r = await readyz();
        return r.status === 503 ? r : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250, what: 'worker readyz 503 on a read-only Redis' });
      expect(worker.body.checks).toMatchObject({ postgres: 'ok', redis: 'down' });
      const apiReady = await fetch(`${api}/readyz`);
      expect(apiReady.status).toBe(503);
      expect(await apiReady.json()).toEqual({ ok: false, status: 'unavailable', checks: { postgres: 'ok', redis: 'down' } });
    } finally {
      await redis.command('REPLICAOF', 'NO', 'ONE');
    }
    await waitFor(async () => ((await readyz()).status === 200 && (await fetch(`${api}/readyz`)).status === 200 ? true : undefined), { timeoutMs: 60_000, intervalMs: 250, what: 'both ready once it is a master again' });
  }, 180_000);

  it('SIGTERM: /readyz answers 503 draining while the worker drains, and it exits 0 within the grace period', async () => {
    // Hold the drain open: a frozen Redis answers nothing, so closing waits on it (its last
    // commands, the connections' QUIT) until it is thawed.
    const pid = Number(/process_id:(\d+)/.exec(String(await redis.command('INFO', 'server')))![1]);
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => worker.child.once('exit', (code) => resolve({ code, at: Date.now() })));
    process.kill(pid, 'SIGSTOP');
    let sigterm = 0;
    try {
      sigterm = Date.now();
      worker.child.kill('SIGTERM');
      const draining = await waitFor(async () => {
        const r = await readyz();
        return r.body.status === 'draining' ? r : undefined;
      }, { timeoutMs: 10_000, intervalMs: 100, what: 'readyz to say draining' });
      expect(draining.status).toBe(503);
      expect(draining.body).toMatchObject({ ok: false, status: 'draining', checks: { queues: 'closing' } });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const exit = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), GRACE_MS + 5_000))]);
    expect(exit, worker.output()).not.toBeNull();
    // 0: it closed on its own, not by the grace backstop (exit 1).
    expect(exit!.code, worker.output()).toBe(0);
    expect(exit!.at - sigterm).toBeLessThan(GRACE_MS);
  }, 180_000);
});
