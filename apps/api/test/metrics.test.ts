import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type WorkerHarness } from '../../worker/test/harness.js';
import { buildApi } from '../src/app.js';
import { SCAN_DURATION_BUCKETS } from '../src/metrics.js';
import { key, parseExposition } from './exposition.js';

type FastifyInstance = Awaited<ReturnType<typeof buildApi>>['app'];

describe('/metrics', () => {
  let harness: WorkerHarness;
  let app: FastifyInstance;
  const auth = `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}`;

  beforeAll(async () => {
    harness = await startHarness('metrics', { LOG_LEVEL: 'silent', SCANQ_WORKER_QUEUES: 'aws' });
    ({ app } = await buildApi(harness.worker.runtime, { adminUser: 'admin', adminPassword: 'test-admin-password', logger: false }));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await harness?.close();
  });

  it('is 401 without credentials or with wrong ones, and says nothing more', async () => {
    const none = await app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic /);
    expect(none.body).not.toContain('scanq_');
    const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Basic ${Buffer.from('admin:nope-nope').toString('base64')}` } });
    expect(wrong.statusCode).toBe(401);
  });

  it('counts scans by provider and status, jobs per queue and state, and scan durations, after real scans', async () => {
    const { runtime } = harness.worker;
    const ok = await runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/web', imageId: { imageTag: 'latest' } });
    const bad = await runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/worker', imageId: { imageTag: 'legacy-scratch' } });
    expect((await harness.waitForTerminal(ok.scan.id)).status).toBe('succeeded');
    expect((await harness.waitForTerminal(bad.scan.id)).status).toBe('failed');
    // No worker serves the tencent queue here: a job added to it stays waiting.
    await runtime.queues.queue('tencent').add('probe', {});

    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: auth } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE scanq_scan_duration_seconds histogram');
    const m = parseExposition(res.body);

    expect(m.get(key('scanq_scans', { provider: 'aws', status: 'succeeded' }))).toBe(1);
    expect(m.get(key('scanq_scans', { provider: 'aws', status: 'failed' }))).toBe(1);
    expect(m.get(key('scanq_scans', { provider: 'huawei', status: 'queued' }))).toBe(0);

    expect(m.get(key('scanq_queue_jobs', { queue: 'tencent', state: 'waiting' }))).toBe(1);
    expect(m.get(key('scanq_queue_jobs', { queue: 'aws', state: 'completed' }))).toBeGreaterThanOrEqual(2);
    expect(m.get(key('scanq_queue_jobs', { queue: 'maintenance', state: 'active' }))).toBe(0);

    for (const status of ['succeeded', 'failed']) {
      const labels = { provider: 'aws', status };
      expect(m.get(key('scanq_scan_duration_seconds_count', labels))).toBe(1);
      expect(m.get(key('scanq_scan_duration_seconds_sum', labels))).toBeGreaterThan(0);
      const buckets = [...SCAN_DURATION_BUCKETS.map(String), '+Inf'].map((le) => m.get(key('scanq_scan_duration_seconds_bucket', { ...labels, le })));
      expect(buckets.every((b) => b !== undefined)).toBe(true);
      // Cumulative: never decreasing, ending at the count.
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!).toBeGreaterThanOrEqual(buckets[i - 1]!);
      expect(buckets.at(-1)).toBe(1);
    }
    expect(m.has(key('scanq_scan_duration_seconds_count', { provider: 'aws', status: 'queued' }))).toBe(false);
    expect(m.get(key('scanq_metrics_source_up', { source: 'postgres' }))).toBe(1);
    expect(m.get(key('scanq_metrics_source_up', { source: 'redis' }))).toBe(1);
  });

  it('counts the workers\' cloud API calls per API and outcome, with latency, and shows quota use', async () => {
    const { runtime } = harness.worker;
    const { scan } = await runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/worker', imageId: { imageDigest: `sha256:${'0'.repeat(64)}` } });
    expect((await harness.waitForTerminal(scan.id)).reason).toBe('image_not_found');
    // Workers add their tallies to Redis every few seconds; flush now instead of waiting.
    await runtime.callStats.flush();
    const text = (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: auth } })).body;
    const m = parseExposition(text);
    const sim = (await harness.calls()).totals;

    const ok = m.get(key('scanq_provider_calls_total', { provider: 'aws', api: 'DescribeImages', outcome: 'ok' })) ?? 0;
    const notFound = m.get(key('scanq_provider_calls_total', { provider: 'aws', api: 'DescribeImages', outcome: 'ImageNotFoundException' })) ?? 0;
    expect(ok).toBeGreaterThanOrEqual(2);
    expect(notFound).toBe(1);
    // Every call the simulator received was counted, once.
    expect(ok + notFound).toBe(sim['aws:DescribeImages']);
    expect(m.get(key('scanq_provider_calls_total', { provider: 'aws', api: 'StartImageScan', outcome: 'ok' }))).toBe(sim['aws:StartImageScan']);
    expect(text).toContain('# TYPE scanq_provider_calls_total counter');
    const latencyCount = m.get(key('scanq_provider_call_duration_seconds_count', { provider: 'aws', api: 'DescribeImages' }));
    expect(latencyCount).toBe(ok + notFound);
    expect(m.get(key('scanq_provider_call_duration_seconds_bucket', { provider: 'aws', api: 'DescribeImages', le: '+Inf' }))).toBe(latencyCount);

    // The AWS account's quota in use: images inside their 24 h window (the ones scanned above).
    expect(m.get(key('scanq_quota_in_use', { provider: 'aws', account: 'sim-aws' }))).toBeGreaterThanOrEqual(2);
  });

  it('serves concurrent scrapes from one round of queries with the same numbers', async () => {
    const [a, b] = await Promise.all([1, 2].map(() => app.inject({ method: 'GET', url: '/metrics', headers: { authorization: auth } })));
    const pick = (body: string) => body.split('\n').filter((l) => l.startsWith('scanq_scans{') || l.startsWith('scanq_scan_duration'));
    expect(pick(a!.body)).toEqual(pick(b!.body));
    expect(pick(a!.body).length).toBeGreaterThan(0);
  });
});
