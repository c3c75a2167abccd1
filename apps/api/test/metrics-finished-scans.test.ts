import { type Provider, type ScanStatus, simulatorAccountRequest } from '@scanq/core';
import { createRuntime, type ScanqRuntime } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { SCAN_DURATION_BUCKETS, ScanqMetrics } from '../src/metrics.js';
import { key, parseExposition } from './exposition.js';

/** A short settle margin, so a test can watch a scan go from the fresh window to the settled tally. */
const MARGIN_MS = 1000;
const sleepPastMargin = () => new Promise((resolve) => setTimeout(resolve, MARGIN_MS + 300));

/**
 * Terminal scan counts and durations are tallied incrementally per API process (metrics.ts,
 * collectPostgres). Scans are written here by SQL with known times; each test has a provider of
 * its own, so a new ScanqMetrics (a new process's first scrape) sees only its own scans.
 */
describe('/metrics over finished scans', () => {
  let env: TestEnv;
  let runtime: ScanqRuntime;
  const accountIds = new Map<Provider, string>();

  beforeAll(async () => {
    env = await createTestEnv('metrics-finished');
    runtime = createRuntime(env.config({ LOG_LEVEL: 'silent' }));
    for (const provider of ['aws', 'alibaba', 'tencent', 'huawei'] as const) {
      // No cloud behind it: these scans are written directly, never run.
      accountIds.set(provider, (await runtime.accounts.create(simulatorAccountRequest(provider, 0, 'http://127.0.0.1:9'))).id);
    }
  });
  afterAll(async () => {
    await runtime?.close();
    await env?.cleanup();
  });

  /** A scan that ended `agoSeconds` ago by Postgres' clock, `seconds` after it was requested. */
  async function finished(provider: Provider, status: ScanStatus, seconds: number, agoSeconds: number): Promise<void> {
    await runtime.sql.execute(
      `INSERT INTO "Scan" ("id", "provider", "accountId", "status", "target", "deadlineAt", "createdAt", "finishedAt", "updatedAt")
       SELECT gen_random_uuid(), $1::"Provider", $2::uuid, $3::"ScanStatus", '{}', t.f, t.f - $4::float8 * interval '1 second', t.f, t.f
       FROM (SELECT date_trunc('milliseconds', timezone('UTC', now()) - $5::float8 * interval '1 second') AS f) t`,
      [provider, accountIds.get(provider), status, seconds, agoSeconds],
    );
  }

  async function open(provider: Provider, status: ScanStatus): Promise<string> {
    const [row] = await runtime.sql.rows<{ id: string }>(
      `INSERT INTO "Scan" ("id", "provider", "accountId", "status", "target", "deadlineAt", "createdAt", "updatedAt")
       VALUES (gen_random_uuid(), $1::"Provider", $2::uuid, $3::"ScanStatus", '{}', timezone('UTC', now()) + interval '1 hour', timezone('UTC', now()), timezone('UTC', now()))
       RETURNING "id"`,
      [provider, accountIds.get(provider), status],
    );
    return row!.id;
  }

  const scrape = async (metrics: ScanqMetrics) => parseExposition(await metrics.render());

  /** scanq_scans of every status of `provider`. */
  const scans = (m: Map<string, number>, provider: Provider) =>
    Object.fromEntries(['queued', 'quota_wait', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'].map((status) => [status, m.get(key('scanq_scans', { provider, status }))]));

  it('counts scans finished before the first scrape once, adds those finished later once, and re-counts nothing', async () => {
    await finished('alibaba', 'succeeded', 10, 3600);
    await finished('alibaba', 'succeeded', 20, 3600);
    await finished('alibaba', 'failed', 30, 2 * 86400);
    await open('alibaba', 'queued');
    const queued = await open('alibaba', 'queued');
    await open('alibaba', 'running');
    const metrics = new ScanqMetrics(runtime, { settleMarginMs: MARGIN_MS });
    const before = { queued: 2, quota_wait: 0, running: 1, retrying: 0, succeeded: 2, failed: 1, cancelled: 0 };
    for (let i = 0; i < 3; i++) expect(scans(await scrape(metrics), 'alibaba')).toEqual(before);

    // Cancelled through the real finishing statement: fresh (inside the margin) at the next scrape.
    expect(await runtime.scans.finish(queued, 'cancelled')).toBe(true);
    const after = { ...before, queued: 1, cancelled: 1 };
    expect(scans(await scrape(metrics), 'alibaba')).toEqual(after);
    expect(scans(await scrape(metrics), 'alibaba')).toEqual(after);
    // Behind the bound now: settled, and counted no second time.
    await sleepPastMargin();
    for (let i = 0; i < 3; i++) expect(scans(await scrape(metrics), 'alibaba')).toEqual(after);

    // Finished and settled between two scrapes, never seen fresh.
    await finished('alibaba', 'succeeded', 5, 0);
    await sleepPastMargin();
    for (let i = 0; i < 3; i++) expect(scans(await scrape(metrics), 'alibaba')).toEqual({ ...after, succeeded: 3 });
    const m = await scrape(metrics);
    expect(m.get(key('scanq_scan_duration_seconds_count', { provider: 'alibaba', status: 'succeeded' }))).toBe(3);
    expect(m.get(key('scanq_scan_duration_seconds_sum', { provider: 'alibaba', status: 'succeeded' }))).toBe(35);
    // Another process starts from its own full pass and agrees.
    expect(scans(await scrape(new ScanqMetrics(runtime, { settleMarginMs: MARGIN_MS })), 'alibaba')).toEqual({ ...after, succeeded: 3 });
  });

  it('counts a scan that finished inside the default margin once, however often it is scraped', async () => {
    const metrics = new ScanqMetrics(runtime);
    expect((await scrape(metrics)).get(key('scanq_scans', { provider: 'tencent', status: 'failed' }))).toBe(0);
    await finished('tencent', 'failed', 42, 60);
    for (let i = 0; i < 3; i++) {
      const m = await scrape(metrics);
      expect(m.get(key('scanq_scans', { provider: 'tencent', status: 'failed' }))).toBe(1);
      expect(m.get(key('scanq_scan_duration_seconds_count', { provider: 'tencent', status: 'failed' }))).toBe(1);
      expect(m.get(key('scanq_scan_duration_seconds_sum', { provider: 'tencent', status: 'failed' }))).toBe(42);
    }
  });

  it('counts a scan whose finishing transaction commits after a scrape read past its finishedAt', async () => {
    const metrics = new ScanqMetrics(runtime, { settleMarginMs: MARGIN_MS });
    const id = await open('tencent', 'running');
    const client = await runtime.sql.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE "Scan" SET "status" = 'succeeded', "finishedAt" = timezone('UTC', now()) WHERE "id" = $1`, [id]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The scrape's clock is past the row's finishedAt, but the row is not visible yet.
      expect(scans(await scrape(metrics), 'tencent')).toMatchObject({ running: 1, succeeded: 0 });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(scans(await scrape(metrics), 'tencent')).toMatchObject({ running: 0, succeeded: 1 });
    await sleepPastMargin();
    for (let i = 0; i < 2; i++) expect(scans(await scrape(metrics), 'tencent')).toMatchObject({ running: 0, succeeded: 1 });
  });

  it('puts known durations in the right buckets with the right sum, whether settled or fresh', async () => {
    const settled = [0.5, 1, 3, 100];
    const fresh = [5000, 100000.25];
    for (const s of settled) await finished('huawei', 'failed', s, 3600);
    const metrics = new ScanqMetrics(runtime, { settleMarginMs: MARGIN_MS });
    await scrape(metrics);
    for (const s of fresh) await finished('huawei', 'failed', s, 0);

    const all = [...settled, ...fresh];
    const labels = { provider: 'huawei', status: 'failed' };
    const check = (m: Map<string, number>) => {
      const buckets = Object.fromEntries([...SCAN_DURATION_BUCKETS.map(String), '+Inf'].map((le) => [le, m.get(key('scanq_scan_duration_seconds_bucket', { ...labels, le }))]));
      expect(buckets).toEqual(Object.fromEntries([...SCAN_DURATION_BUCKETS.map((le) => [String(le), all.filter((s) => s <= le).length]), ['+Inf', all.length]]));
      // A duration equal to a bound is inside it (le is "less or equal").
      expect(buckets['1']).toBe(2);
      expect(m.get(key('scanq_scan_duration_seconds_count', labels))).toBe(6);
      expect(m.get(key('scanq_scan_duration_seconds_sum', labels))).toBe(105104.75);
      expect(m.get(key('scanq_scans', labels))).toBe(6);
      expect(m.has(key('scanq_scan_duration_seconds_count', { provider: 'huawei', status: 'succeeded' }))).toBe(false);
    };
    check(await scrape(metrics));
    await sleepPastMargin();
    check(await scrape(metrics));
    check(await scrape(metrics));
  });

  it('shows nothing while Postgres cannot be read, and afterwards has lost and doubled nothing', async () => {
    let postgresDown = false;
    // Fails the finished-scan query only: whatever ran before it in the scrape must not count.
    const db = new Proxy(runtime.db, {
      get: (target, prop) =>
        prop === '$queryRaw'
          ? (query: TemplateStringsArray, ...values: unknown[]) =>
              postgresDown && query.join('').includes('"finishedAt"') ? Promise.reject(new Error('connection refused')) : target.$queryRaw(query, ...values)
          : Reflect.get(target, prop),
    });
    const metrics = new ScanqMetrics({ ...runtime, db }, { settleMarginMs: MARGIN_MS });
    await finished('aws', 'succeeded', 7, 3600);
    expect((await scrape(metrics)).get(key('scanq_scans', { provider: 'aws', status: 'succeeded' }))).toBe(1);

    // Settles during the outage: the failed scrape is the one that would have added it.
    await finished('aws', 'succeeded', 8, 0);
    await sleepPastMargin();
    postgresDown = true;
    const down = await scrape(metrics);
    expect(down.get(key('scanq_metrics_source_up', { source: 'postgres' }))).toBe(0);
    expect(down.has(key('scanq_scans', { provider: 'aws', status: 'succeeded' }))).toBe(false);
    expect(down.has(key('scanq_scan_duration_seconds_count', { provider: 'aws', status: 'succeeded' }))).toBe(false);

    postgresDown = false;
    for (let i = 0; i < 3; i++) {
      const m = await scrape(metrics);
      expect(m.get(key('scanq_metrics_source_up', { source: 'postgres' }))).toBe(1);
      expect(m.get(key('scanq_scans', { provider: 'aws', status: 'succeeded' }))).toBe(2);
      expect(m.get(key('scanq_scan_duration_seconds_sum', { provider: 'aws', status: 'succeeded' }))).toBe(15);
    }
  });
});
