import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type WorkerHarness } from './harness.js';

/**
 * The endpoint rule seen from a scan: with loopback not allowed, an account pointed at the
 * simulator on 127.0.0.1 fails its scan `endpoint_refused`, the error naming the rule, and the
 * simulator never hears from the worker.
 */
describe('account endpoint rule: a scan of an account whose endpoint is on loopback, loopback not allowed', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness('endpointrule', { SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS: 'false' });
  });
  afterAll(async () => h?.close());

  it('fails endpoint_refused, naming the rule, without one call reaching the endpoint', async () => {
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } });
    const done = await h.waitForTerminal(scan.id);
    expect(done).toMatchObject({ status: 'failed', reason: 'endpoint_refused' });
    expect(done.error).toContain(`EndpointRefused: endpoint ${h.sim.url} of account sim-aws refused: 127.0.0.1, a loopback address`);
    expect(done.error).toContain('SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS=true');
    expect(Object.keys((await h.calls()).totals)).toEqual([]);
  });
});
