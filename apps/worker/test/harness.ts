import { type Provider, simulatorAccountRequest } from '@scanq/core';
import type { CloudAccount, ScanWithImages } from '@scanq/db';
import { createFrontEnds } from '../../simulator/src/frontends.js';
import { type RunningSimulator, startSimulator } from '../../simulator/src/core/server.js';
import type { CallCounterSnapshot } from '../../simulator/src/core/call-counter.js';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { waitForEnded } from '../../../test/support/wait.js';
import { type RunningWorker, startWorker } from '../src/worker.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';

/** A simulator, an isolated database + queue prefix, and a worker, all in this process. */
export interface WorkerHarness {
  env: TestEnv;
  sim: RunningSimulator;
  worker: RunningWorker;
  /** The AWS simulator account, registered in scanq. */
  account: CloudAccount;
  /** Registers simulator account `index` of `provider` (idempotent). */
  addAccount(provider: Provider, index?: number): Promise<CloudAccount>;
  calls(): Promise<CallCounterSnapshot>;
  configureAws(options: Record<string, unknown>): Promise<void>;
  waitForTerminal(scanId: string, timeoutMs?: number): Promise<ScanWithImages>;
  close(): Promise<void>;
}

export async function startHarness(name: string, overrides: Record<string, string> = {}, simOptions: Record<string, string> = {}): Promise<WorkerHarness> {
  const env = await createTestEnv(name);
  const sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: createFrontEnds({ SIM_AWS_SCAN_MS: '200', ...simOptions }) });
  const worker = await startWorker(env.config(overrides));
  const addAccount = (provider: Provider, index = 0) => worker.runtime.accounts.upsertByName(simulatorAccountRequest(provider, index, sim.url));
  const account = await addAccount('aws');
  return {
    env,
    sim,
    worker,
    account,
    addAccount,
    calls: () => simulatorCalls(sim.url),
    configureAws: async (options) => {
      const res = await fetch(`${sim.url}/_sim/config/aws`, { method: 'POST', body: JSON.stringify(options), headers: { 'content-type': 'application/json' } });
      if (!res.ok) throw new Error(await res.text());
    },
    waitForTerminal: (scanId, timeoutMs = 30_000) =>
      waitForEnded(() => worker.runtime.scans.get(scanId), { timeoutMs, what: `scan ${scanId} to end` }),
    close: async () => {
      await worker.close();
      await sim.close();
      await env.cleanup();
    },
  };
}

export async function injectFault(sim: RunningSimulator, fault: { cloud: string; api: string; kind: string; count: number }): Promise<void> {
  const res = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: JSON.stringify(fault), headers: { 'content-type': 'application/json' } });
  if (!res.ok) throw new Error(await res.text());
}
