import { type CreateScanRequest, dependencyOutage } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

/**
 * Group commit of submits: concurrent POSTs share one INSERT and one enqueue, and every caller
 * gets its own answer. Counted in Postgres (rows, and `xmin`: one transaction per batch) and in
 * Redis (the job hashes), not in the API's answers alone.
 */
describe('submit group commit', () => {
  let api: InProcessApi;
  let runtime: ScanqRuntime;
  const request = (repositoryName: string, tag: string): CreateScanRequest => ({ provider: 'aws', account: 'sim-aws', repositoryName, imageId: { imageTag: tag } });
  const post = (body: CreateScanRequest, headers: Record<string, string> = {}) => api.app.inject({ method: 'POST', url: '/v1/scans', payload: body as object, headers: { ...AUTH, ...headers } });
  /** The start jobs of these scans that exist in Redis (the job hash). */
  const jobsInRedis = async (ids: string[]) => {
    const q = runtime.queues.queue('aws');
    const pipeline = runtime.redis.pipeline();
    for (const id of ids) pipeline.exists(q.toKey(id));
    return ((await pipeline.exec()) ?? []).filter(([, n]) => n === 1).length;
  };
  const rowsOf = (repositoryName: string) =>
    runtime.sql.pool.query<{ id: string; tx: string }>(`SELECT "id"::text AS id, xmin::text AS tx FROM "Scan" WHERE "target"->>'repositoryName' = $1`, [repositoryName]).then((r) => r.rows);
  /**
   * Submits made in one tick: the batcher sends them out together. The account is looked up
   * first, so each submit finds it cached (5 s) and reaches the batcher without I/O of its own.
   */
  const inOneTick = async (requests: [CreateScanRequest, string?][]) => {
    await runtime.accounts.findByRef('aws', 'sim-aws');
    return Promise.allSettled(requests.map(([r, key]) => runtime.submit.submit(r, key)));
  };

  beforeAll(async () => {
    api = await startInProcessApi('submit-batch', ['aws']);
    runtime = api.runtime;
    expect((await post(request('scanq/warm', 'x'))).statusCode).toBe(202);
    // A row-level trigger fails the statement part-way through a batch, as a server going away
    // (57P03) or a row Postgres refuses (22023) would.
    await runtime.sql.pool.query(`
      CREATE FUNCTION scanq_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW."target"->>'repositoryName' = 'scanq/outage' THEN RAISE EXCEPTION 'the database system is shutting down' USING ERRCODE = '57P03'; END IF;
        IF NEW."target"->>'repositoryName' = 'scanq/refused' THEN RAISE EXCEPTION 'row refused' USING ERRCODE = '22023'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER scanq_test_refuse BEFORE INSERT ON "Scan" FOR EACH ROW EXECUTE FUNCTION scanq_test_refuse();`);
  });
  afterAll(async () => api?.close());

  it('answers 200 concurrent POSTs each with its own 202, committed row and job', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post(request('scanq/many', `t${i}`))));
    expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 202));
    const ids = answers.map((a) => a.json().id as string);
    expect(new Set(ids).size).toBe(200);
    // Each answer's scan is its own request's.
    answers.forEach((a, i) => expect(a.json().target.imageId.imageTag).toBe(`t${i}`));
    const rows = await rowsOf('scanq/many');
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await jobsInRedis(ids)).toBe(200);
  });

  it('writes the submits of one tick in one transaction and one enqueue, each caller answered with its own scan', async () => {
    const settled = await inOneTick(Array.from({ length: 50 }, (_, i) => [request('scanq/tick', `t${i}`)] as [CreateScanRequest]));
    const scans = settled.map((s) => (s.status === 'fulfilled' ? s.value : expect.fail(String(s.reason))));
    expect(scans.every((s) => s.created)).toBe(true);
    scans.forEach((s, i) => expect((s.scan.target as { imageId: { imageTag: string } }).imageId.imageTag).toBe(`t${i}`));
    const rows = await rowsOf('scanq/tick');
    expect(rows).toHaveLength(50);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
    expect(await jobsInRedis(scans.map((s) => s.scan.id))).toBe(50);
  });

  it('makes one scan of an Idempotency-Key repeated within one batch, and 409 for a repeat asking for something else', async () => {
    const same = request('scanq/idem', 'a');
    const settled = await inOneTick([[same, 'batch-key'], [request('scanq/idem', 'other-key'), 'key-2'], [same, 'batch-key'], [request('scanq/idem', 'b'), 'batch-key'], [same, 'batch-key']]);
    const [first, other, second, changed, third] = settled;
    if (first?.status !== 'fulfilled' || second?.status !== 'fulfilled' || third?.status !== 'fulfilled' || other?.status !== 'fulfilled') throw new Error('a repeat failed');
    expect(first.value.created).toBe(true);
    expect([second.value.created, third.value.created]).toEqual([false, false]);
    expect([second.value.scan.id, third.value.scan.id]).toEqual([first.value.scan.id, first.value.scan.id]);
    expect(changed?.status === 'rejected' && (changed.reason as { status?: number }).status).toBe(409);
    const rows = await rowsOf('scanq/idem');
    expect(rows.map((r) => r.id).sort()).toEqual([first.value.scan.id, other.value.scan.id].sort());
    expect(await jobsInRedis([first.value.scan.id, other.value.scan.id])).toBe(2);
    // Over HTTP, all at once: one 202, the rest 200 with its scan.
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(same, { 'idempotency-key': 'http-key' })));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
  });

  it('fails every caller of a batch whose statement fails mid-way, with no row and no job', async () => {
    const before = await runtime.queues.queue('aws').getJobCounts('waiting', 'prioritized', 'delayed');
    const batch: [CreateScanRequest][] = [...Array.from({ length: 5 }, (_, i) => [request('scanq/doomed', `a${i}`)] as [CreateScanRequest]), [request('scanq/outage', 'x')], ...Array.from({ length: 5 }, (_, i) => [request('scanq/doomed', `b${i}`)] as [CreateScanRequest])];
    const settled = await inOneTick(batch);
    expect(settled.map((s) => s.status)).toEqual(batch.map(() => 'rejected'));
    expect(settled.map((s) => s.status === 'rejected' && dependencyOutage(s.reason))).toEqual(batch.map(() => 'postgres'));
    expect(await rowsOf('scanq/doomed')).toHaveLength(0);
    expect(await runtime.queues.queue('aws').getJobCounts('waiting', 'prioritized', 'delayed')).toEqual(before);
    // The API answers such a failure 503 + Retry-After, never 500.
    const res = await post(request('scanq/outage', 'y'));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('fails only the caller whose row Postgres refuses; the rest of its batch is accepted', async () => {
    const batch: [CreateScanRequest][] = [...Array.from({ length: 5 }, (_, i) => [request('scanq/kept', `a${i}`)] as [CreateScanRequest]), [request('scanq/refused', 'x')], ...Array.from({ length: 5 }, (_, i) => [request('scanq/kept', `b${i}`)] as [CreateScanRequest])];
    const settled = await inOneTick(batch);
    expect(settled.map((s) => s.status)).toEqual(batch.map(([r]) => ((r as { repositoryName: string }).repositoryName === 'scanq/refused' ? 'rejected' : 'fulfilled')));
    const ids = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.scan.id] : []));
    expect((await rowsOf('scanq/kept')).map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await rowsOf('scanq/refused')).toHaveLength(0);
    expect(await jobsInRedis(ids)).toBe(10);
  });
});
