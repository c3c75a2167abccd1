import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { AUTH } from '../support/env.js';
import type { ScanqProcess } from '../support/processes.js';
import { simulatorCalls } from '../support/simulator-calls.js';
import { waitFor } from '../support/wait.js';

const json = { ...AUTH, 'content-type': 'application/json' };

/**
 * SIGTERM while a worker hangs in a cloud call (the simulator's `timeout` fault on
 * StartImageScan: the request is taken and never answered). The worker cuts the call, hands the
 * job back and exits inside docker compose's 10-s grace; a second worker takes the job at once
 * (well before a lapsed lock would free it) and the scan succeeds, with no attempt spent and
 * never marked failed. Judged from the worker's exit, the simulator's counters and Postgres.
 */
describe('worker shutdown: SIGTERM during a hung cloud call', () => {
  let stack: E2eStack;
  let api = '';
  let sim = '';

  beforeAll(async () => {
    stack = await startE2eStack({
      name: 'shutdown',
      env: {
        SIM_AWS_SCAN_MS: '200',
        // Only the shutdown can end the hung call; a lapsed lock would take 30 s + the stalled check.
        SCANQ_PROVIDER_TIMEOUT_MS: '300000',
        // The create's own hard end must not come before the SIGTERM (the second worker starts
        // first, which takes seconds on a loaded machine). A create cut at shutdown may still
        // reach the cloud: the next attempt waits the settle time from its intent, then looks
        // the task up before creating (here the fault created none).
        SCANQ_CREATE_TIMEOUT_MS: '30000',
        SCANQ_CREATE_SETTLE_MS: '31000',
        SCANQ_WORKER_LOCK_MS: '30000',
        SCANQ_WORKER_STALLED_CHECK_MS: '15000',
        SCANQ_WORKER_QUEUES: 'aws',
        LOG_LEVEL: 'info',
      },
      workers: 0,
    });
    ({ api, sim } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const started = async (proc: ScanqProcess) => waitFor(() => (proc.output().includes('worker started') ? true : undefined), { timeoutMs: 60_000, intervalMs: 100, what: `${proc.name} to start` });

  it('exits within 10 s, hands the job back, and a second worker finishes the scan without spending an attempt', async () => {
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const account = await fetch(`${api}/v1/accounts`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ provider: 'aws', name: aws.name, region: aws.region, endpoint: sim, credentialRef: aws.name, settings: { registryId: aws.registryId } }),
    });
    expect(account.status).toBe(201);
    await fetch(`${sim}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cloud: 'aws', api: 'StartImageScan', kind: 'timeout', count: 1 }) });

    const first = stack.startWorker('worker-1');
    await started(first);
    const submitted = await fetch(`${api}/v1/scans`, {
      method: 'POST',
      headers: { ...json, 'idempotency-key': 'shutdown-1' },
      body: JSON.stringify({ provider: 'aws', account: aws.name, repositoryName: 'scanq/worker', imageId: { imageTag: 'latest' } }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };

    // The first worker is inside StartImageScan, which the simulator will not answer.
    await waitFor(async () => ((await simulatorCalls(sim)).outcomes['aws:StartImageScan:fault:timeout'] === 1 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, what: 'StartImageScan to hang' });
    // The second worker is up before the first is told to stop.
    const second = stack.startWorker('worker-2');
    await started(second);

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => first.child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
    const sigterm = Date.now();
    first.child.kill('SIGTERM');
    const exit = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000))]);
    expect(exit, `worker-1 still running 10 s after SIGTERM:\n${first.output()}`).not.toBeNull();
    // 0: it closed on its own (1 would be the grace backstop firing).
    expect(exit!.code, first.output()).toBe(0);
    expect(first.output()).toContain('job handed back to the queue');
    const exitSeconds = (exit!.at - sigterm) / 1000;

    // After the settle time from the first create's intent (31 s), not after the first's lock lapsed.
    const retaken = await waitFor(async () => ((await simulatorCalls(sim)).outcomes['aws:StartImageScan:ok'] === 1 ? Date.now() : undefined), { timeoutMs: 60_000, intervalMs: 100, what: 'the second worker to start the scan' });
    const pickupSeconds = (retaken - exit!.at) / 1000;
    console.log(`worker-1 exited ${exitSeconds.toFixed(2)} s after SIGTERM; worker-2 started the scan ${pickupSeconds.toFixed(2)} s after that exit`);

    const client = new pg.Client({ connectionString: stack.env.databaseUrl });
    await client.connect();
    try {
      const row = await waitFor(
        async () => {
          const r = await client.query<{ status: string; attempts: number; reason: string | null; error: string | null }>('SELECT status, attempts, reason, error FROM "Scan" WHERE id = $1', [id]);
          return r.rows[0] && ['succeeded', 'failed', 'cancelled'].includes(r.rows[0].status) ? r.rows[0] : undefined;
        },
        { timeoutMs: 45_000, intervalMs: 200, what: 'the scan to end' },
      );
      // Started once at the cloud, on its first attempt: the cut call cost nothing.
      expect(row).toMatchObject({ status: 'succeeded', attempts: 1, error: null });
    } finally {
      await client.end();
    }
    const calls = await simulatorCalls(sim);
    expect(calls.totals['aws:StartImageScan']).toBe(2);
    expect(calls.outcomes['aws:StartImageScan:fault:timeout']).toBe(1);
    expect(calls.outcomes['aws:StartImageScan:ok']).toBe(1);
    expect(second.output()).not.toContain('"level":50');
  }, 240_000); // two worker processes start one after the other inside the test: minutes on a crowded machine
});
