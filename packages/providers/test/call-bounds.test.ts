import { ProviderError, SHUTTING_DOWN } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator } from '../../../apps/simulator/src/core/server.js';
import { createFrontEnds } from '../../../apps/simulator/src/frontends.js';
import { simulatorCalls } from '../../../test/support/simulator-calls.js';
import { createProviders, type ProviderDeps } from '../src/index.js';
import { waitFor } from '../../../test/support/wait.js';
import { CALLS, simAccount } from './sim-clouds.js';

// One simulator for the file; each test starts from a reset one.
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: createFrontEnds({}) });
});
afterAll(() => sim?.close());
beforeEach(async () => {
  await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
});

/**
 * Every cloud call is bounded: against the simulator's `timeout` fault (a request it never
 * answers) each SDK, given a short SCANQ_PROVIDER_TIMEOUT_MS, fails the call as a retryable
 * ProviderError instead of waiting (the simulator would hold it 5 minutes).
 */
describe('cloud calls: a hung answer fails the call at the configured timeout, on all four SDKs', () => {
  const deps: ProviderDeps = { timeouts: { requestMs: 400, connectMs: 400 }, endpoints: { allowLoopback: true } };

  for (const provider of ['aws', 'alibaba', 'tencent', 'huawei'] as const) {
    it(`${provider}: ${CALLS[provider].api} that never answers fails as a retryable ProviderError`, async () => {
      const { api, call } = CALLS[provider];
      const arm = await fetch(`${sim.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cloud: provider, api, kind: 'timeout', count: 1 }) });
      expect(arm.ok).toBe(true);
      const adapter = createProviders(deps)[provider]!;
      const started = Date.now();
      const err = await call(adapter, simAccount(provider, sim.url)).then(
        () => undefined,
        (e: unknown) => e,
      );
      // A failure condition only: far below the simulator's 5-minute hang, generous for a loaded machine.
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ kind: 'retryable' });
      // The request reached the cloud and hung there: the fault took it, nothing answered.
      const calls = await simulatorCalls(sim.url);
      expect(calls.outcomes[`${provider}:${api}:fault:timeout`]).toBe(1);
    });
  }
});

/**
 * Shutdown: the worker's signal cuts a call hanging on the cloud at once (its socket destroyed)
 * and refuses any call after it without a connection, each as a retryable SHUTTING_DOWN error.
 */
describe('cloud calls: the shutdown signal cuts a hung call and refuses new ones, on all four SDKs', () => {

  for (const provider of ['aws', 'alibaba', 'tencent', 'huawei'] as const) {
    it(`${provider}: ${CALLS[provider].api} hanging at the cloud fails as ${SHUTTING_DOWN} when the signal fires`, async () => {
      const { api, call } = CALLS[provider];
      await fetch(`${sim.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cloud: provider, api, kind: 'timeout', count: 1 }) });
      const shutdown = new AbortController();
      // A request timeout far beyond the test's: only the signal can end this call.
      const adapter = createProviders({ timeouts: { requestMs: 300_000, connectMs: 5_000 }, endpoints: { allowLoopback: true }, shutdownSignal: shutdown.signal })[provider]!;
      const account = simAccount(provider, sim.url);
      const pending = call(adapter, account).then(
        () => undefined,
        (e: unknown) => e,
      );
      const key = `${provider}:${api}`;
      await waitFor(async () => ((await simulatorCalls(sim.url)).outcomes[`${key}:fault:timeout`] === 1 ? true : undefined), { timeoutMs: 15_000, intervalMs: 50, what: `${key} to hang at the simulator` });
      shutdown.abort();
      const err = await pending;
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ kind: 'retryable', code: SHUTTING_DOWN });
      // After the signal nothing reaches the cloud.
      const before = (await simulatorCalls(sim.url)).totals[key];
      await expect(call(adapter, account)).rejects.toMatchObject({ code: SHUTTING_DOWN });
      expect((await simulatorCalls(sim.url)).totals[key]).toBe(before);
    });
  }
});
