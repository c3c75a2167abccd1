import type { QuotaView } from '@scanq/core';
import { ConcurrencySlots, PacedCallGate } from '@scanq/queue';
import { alibabaSlotsPrefix, callPaceKeyPrefix } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/src/app.js';
import { AUTH, TEST_API_KEY } from '../../../test/support/env.js';
import { scanq } from '../../cli/test/run-cli.js';
import { startHarness, type WorkerHarness } from './harness.js';

type App = Awaited<ReturnType<typeof buildApi>>['app'];

/** The live quota view reads the same Redis primitives and Postgres records the workers use. */
describe('GET /v1/quotas and scanq quota', () => {
  let h: WorkerHarness;
  let app: App;
  let url = '';
  beforeAll(async () => {
    h = await startHarness('quotas', { SCANQ_POLL_INITIAL_MS: '50' }, { SIM_AWS_SCAN_MS: '50' });
    await Promise.all([h.addAccount('alibaba'), h.addAccount('tencent'), h.addAccount('huawei')]);
    ({ app } = await buildApi(h.worker.runtime, { adminUser: 'admin', adminPassword: 'test-admin-password', logger: false }));
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  const quotas = async () => (await app.inject({ method: 'GET', url: '/v1/quotas', headers: AUTH })).json().items as QuotaView[];
  const of = (items: QuotaView[], provider: string) => items.find((q) => q.provider === provider)!.quota;

  it('shows AWS images inside their 24 h window with when each opens', async () => {
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: '1.4.1' } });
    expect((await h.waitForTerminal(scan.id)).status).toBe('succeeded');
    const aws = of(await quotas(), 'aws');
    expect(aws.kind).toBe('scan_once_window');
    if (aws.kind !== 'scan_once_window') return;
    expect(aws.windowHours).toBe(24);
    expect(aws.imagesInWindow).toBeGreaterThanOrEqual(1);
    const opensIn = Date.parse(aws.nextOpening[0]!.opensAt) - Date.now();
    expect(opensIn).toBeGreaterThan(23 * 3600_000);
    expect(opensIn).toBeLessThanOrEqual(24 * 3600_000);
  });

  it('shows Alibaba slots in use of 10 and Tencent requests in the last second of 20, from the primitives themselves', async () => {
    const { runtime } = h.worker;
    const alibaba = await runtime.accounts.findByRef('alibaba', 'sim-alibaba');
    const tencent = await runtime.accounts.findByRef('tencent', 'sim-tencent');
    const cfg = runtime.config.worker;
    const slots = new ConcurrencySlots(runtime.redis, `${alibabaSlotsPrefix(runtime.keyspace)}:${alibaba!.id}`, cfg.alibaba.taskLimit, cfg.alibaba.slotLeaseMs);
    await slots.seed([]); // a new account: nothing runs at the cloud yet
    for (const owner of ['scan-a', 'scan-b', 'scan-c']) expect((await slots.acquire(owner)).granted).toBe(true);
    const gate = new PacedCallGate(runtime.redis, callPaceKeyPrefix(runtime.config), { tencent: { limit: cfg.tencent.limitPerSec, marginMs: cfg.tencent.marginMs } }, { coldCalls: 0 });
    await Promise.all([1, 2, 3].map(() => gate.acquire({ provider: 'tencent', accountId: tencent!.id, api: 'DescribeAssetImageRegistryDetail' })));

    const items = await quotas();
    const a = of(items, 'alibaba');
    expect(a).toMatchObject({ kind: 'concurrency_slots', limit: 10, inUse: 3, free: 7 });
    if (a.kind === 'concurrency_slots') expect(a.holders.map((x) => x.scanId).sort()).toEqual(['scan-a', 'scan-b', 'scan-c']);
    const t = of(items, 'tencent');
    expect(t.kind).toBe('sliding_window');
    if (t.kind === 'sliding_window') {
      expect(t.limitPerSec).toBe(20); // the cloud's own limit…
      expect(t.windowMs).toBe(1300); // …kept over a window longer by the margin
      expect(t.apis.map((x) => x.api)).toEqual(['DescribeAssetImageRegistryDetail']);
      // The three calls just made (none left waiting: the window allows 20 at once).
      expect(t.apis[0]).toMatchObject({ waiting: 0, rate: `${t.apis[0]!.lastSecond}/20` });
      expect(t.apis[0]!.lastSecond).toBeLessThanOrEqual(3);
    }
    expect(of(items, 'huawei')).toEqual({ kind: 'batch', maxImagesPerCall: 10241 });
    await Promise.all(['scan-a', 'scan-b', 'scan-c'].map((o) => slots.release(o)));
    expect(of(await quotas(), 'alibaba')).toMatchObject({ inUse: 0, free: 10 });
  });

  it('scanq quota prints the same view (--json) and a table', async () => {
    const run = async (args: string[]) => {
      const r = await scanq([...args, '--api-url', url, '--api-key', TEST_API_KEY]);
      return { code: r.code, out: r.stdout };
    };
    const json = await run(['quota', '--json']);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.out) as QuotaView[]).map((q) => q.provider).sort()).toEqual(['alibaba', 'aws', 'huawei', 'tencent']);
    const text = await run(['quota', '--provider', 'alibaba']);
    expect(text.code).toBe(0);
    expect(text.out).toContain('0/10 tasks');
    expect(text.out).toContain('no slot held');
    const tencent = await run(['quota', '--provider', 'tencent']);
    expect(tencent.out).toMatch(/\d+\/20 req\/s \(workers keep ≤ 20 per 1300 ms\)/);
    expect((await run(['quota', '--provider', 'gcp'])).code).toBe(2);
  });
});
