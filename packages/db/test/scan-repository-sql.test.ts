import type { NormalizedFinding } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import pg from 'pg';
import { createDatabase, CreateIntentRepository, type Database, ScanRepository, SqlClient } from '../src/index.js';

/**
 * The per-scan hot path is plain SQL beside Prisma: what it writes must read back through
 * Prisma exactly as Prisma's own writes do (UTC timestamps whatever the session's TimeZone,
 * image order, guarded transitions, findings replaced rather than doubled).
 */
const finding = (id: string, severity: NormalizedFinding['severity']): NormalizedFinding => ({
  vulnerabilityId: id,
  severity,
  providerSeverity: severity.toLowerCase(),
  packageName: 'openssl',
  installedVersion: '1.0',
  fixedVersion: null,
  title: `${id} title`,
  link: null,
  score: 7.5,
  raw: { name: id, nested: { quote: 'it\'s "quoted"' } },
});

describe('ScanRepository plain-SQL hot path', () => {
  let env: TestEnv;
  let database: Database;
  let scans: ScanRepository;
  let accountId: string;

  beforeAll(async () => {
    env = await createTestEnv('scansql');
    // A session TimeZone far from UTC: "now" must still be written as UTC wall time.
    database = createDatabase(`${env.databaseUrl}?options=${encodeURIComponent('-c TimeZone=Asia/Tokyo')}`, { max: 2 });
    scans = new ScanRepository(database.db, database.sql);
    accountId = (await database.db.cloudAccount.create({ data: { provider: 'aws', name: 'sql', region: 'us-east-1', credentialRef: 'x' } })).id;
  });
  afterAll(async () => {
    await database?.close();
    await env?.cleanup();
  });

  const newScan = (idempotencyKey?: string) =>
    scans.create({ provider: 'aws', accountId, target: { repositoryName: 'r' }, deadlineAt: new Date(Date.now() + 60_000), ...(idempotencyKey ? { idempotencyKey, requestHash: 'h' } : {}) });

  it('creates scans whose timestamps read back through Prisma as the same UTC instants', async () => {
    const before = Date.now();
    const { scan, created } = await newScan();
    expect(created).toBe(true);
    const viaPrisma = await database.db.scan.findUniqueOrThrow({ where: { id: scan.id } });
    expect(viaPrisma.deadlineAt.getTime()).toBe(scan.deadlineAt.getTime());
    expect(viaPrisma.createdAt.getTime()).toBe(scan.createdAt.getTime());
    // Within the test's own span: a local-time "now" would be 9 h off.
    expect(Math.abs(scan.createdAt.getTime() - before)).toBeLessThan(60_000);
    expect(await scans.get('not-a-uuid')).toBeNull();
  });

  it('returns the first scan for a repeated idempotency key', async () => {
    const first = await newScan('same-key');
    const again = await newScan('same-key');
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.scan.id).toBe(first.scan.id);
  });

  it('adds images in input order and reads them back with their raw payload and dates', async () => {
    const { scan } = await newScan();
    const input = Array.from({ length: 5 }, (_, i) => ({ registry: 'r', repository: `repo-${i}`, tags: [`t${i}`, 'x'], digest: `sha256:${i}`, raw: { i, s: "a'b" } }));
    const added = await scans.addImages(scan.id, input);
    expect(added.map((i) => i.repository)).toEqual(input.map((i) => i.repository));
    const got = (await scans.get(scan.id))!;
    expect(got.images.map((i) => i.repository)).toEqual(input.map((i) => i.repository));
    expect(got.images[2]!.raw).toEqual({ i: 2, s: "a'b" });
    expect(got.images[2]!.tags).toEqual(['t2', 'x']);
    expect(got.images[0]!.createdAt).toBeInstanceOf(Date);
    const viaPrisma = await database.db.imageScan.findUniqueOrThrow({ where: { id: got.images[0]!.id } });
    expect(viaPrisma.createdAt.getTime()).toBe(got.images[0]!.createdAt.getTime());
  });

  it('marks a scan started only from the given states, with its pending images', async () => {
    const { scan } = await newScan();
    await scans.addImages(scan.id, [{ registry: 'r', repository: 'a', tags: [] }]);
    expect(await scans.markStarted(scan.id, ['queued'], { status: 'running', startedAt: new Date(), providerTaskId: 't' }, true)).toBe(true);
    const running = (await scans.get(scan.id))!;
    expect(running.status).toBe('running');
    expect(running.images[0]).toMatchObject({ status: 'scanning', reused: true });
    // Not from running: nothing changes.
    expect(await scans.markStarted(scan.id, ['queued'], { status: 'running', providerTaskId: 'other' }, false)).toBe(false);
    expect((await scans.get(scan.id))!.providerTaskId).toBe('t');
    await expect(scans.update(scan.id, { nope: 1 } as never)).rejects.toThrow(/not a scan patch column: nope/);
  });

  it('stores findings and counts in one statement; completing again replaces, never doubles', async () => {
    const { scan } = await newScan();
    const [a, b] = await scans.addImages(scan.id, [
      { registry: 'r', repository: 'a', tags: [], raw: { listed: true } },
      { registry: 'r', repository: 'b', tags: [] },
    ]);
    const done = new Date('2026-11-24T10:00:00.123Z');
    await scans.completeImages(scan.id, [
      { imageScanId: a!.id, status: 'succeeded', scanCompletedAt: done, findings: [finding('CVE-1', 'CRITICAL'), finding('CVE-2', 'HIGH'), finding('CVE-3', 'HIGH')] },
      { imageScanId: b!.id, status: 'failed', reason: 'scan_failed', raw: { why: 'x' }, findings: [] },
    ]);
    await scans.completeImages(scan.id, [{ imageScanId: a!.id, status: 'succeeded', scanCompletedAt: done, findings: [finding('CVE-1', 'CRITICAL'), finding('CVE-2', 'HIGH'), finding('CVE-3', 'HIGH')] }]);
    const got = (await scans.get(scan.id))!;
    const imgA = got.images.find((i) => i.id === a!.id)!;
    expect(imgA).toMatchObject({ status: 'succeeded', critical: 1, high: 2, progress: 100, raw: { listed: true } });
    expect(imgA.scanCompletedAt?.toISOString()).toBe(done.toISOString());
    expect(got.images.find((i) => i.id === b!.id)).toMatchObject({ status: 'failed', reason: 'scan_failed', raw: { why: 'x' } });
    const rows = await database.db.finding.findMany({ where: { scanId: scan.id }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => r.vulnerabilityId)).toEqual(['CVE-1', 'CVE-2', 'CVE-3']);
    expect(rows[0]).toMatchObject({ severity: 'CRITICAL', score: 7.5, raw: { name: 'CVE-1', nested: { quote: 'it\'s "quoted"' } } });
    expect(typeof rows[0]!.id).toBe('bigint');
  });

  it('finishes a scan once: a failed end fails its open images, a second finish changes nothing', async () => {
    const { scan } = await newScan();
    await scans.addImages(scan.id, [{ registry: 'r', repository: 'a', tags: [] }]);
    expect(await scans.finish(scan.id, 'failed', { reason: 'timed_out', error: 'late' })).toBe(true);
    expect(await scans.finish(scan.id, 'succeeded')).toBe(false);
    const got = (await scans.get(scan.id))!;
    expect(got).toMatchObject({ status: 'failed', reason: 'timed_out', error: 'late', nextPollAt: null });
    expect(got.images[0]).toMatchObject({ status: 'failed', reason: 'timed_out' });
    expect(got.finishedAt).toBeInstanceOf(Date);
  });

  it('ends the scan in the same statement when the last images settle, once', async () => {
    const { scan } = await newScan();
    const [a] = await scans.addImages(scan.id, [{ registry: 'r', repository: 'a', tags: [] }]);
    const result = { imageScanId: a!.id, status: 'succeeded' as const, scanCompletedAt: new Date(), findings: [finding('CVE-9', 'LOW')] };
    expect(await scans.completeImages(scan.id, [result], { status: 'succeeded', reason: null })).toBe(true);
    expect(await scans.get(scan.id)).toMatchObject({ status: 'succeeded', progress: 100, images: [{ status: 'succeeded', low: 1 }] });
    // A late duplicate poll stores the same result again but cannot end the scan twice.
    expect(await scans.completeImages(scan.id, [result], { status: 'failed', reason: 'x' })).toBe(false);
    expect(await scans.get(scan.id)).toMatchObject({ status: 'succeeded', reason: null });
    expect(await database.db.finding.count({ where: { scanId: scan.id } })).toBe(1);
  });

  it("replaces an image's findings through the imageScanId index, not a scan of every finding", async () => {
    // 20,000 findings of 1,000 other images, analyzed: the scale where the old statement (a join on
    // the JSON rows, planned as 100 of them) hashed all of "Finding" on every completion.
    const { scan: other } = await newScan();
    await database.sql.execute(
      `WITH imgs AS (INSERT INTO "ImageScan" ("id", "scanId", "registry", "repository", "tags", "updatedAt")
                     SELECT gen_random_uuid(), $1, 'r', 'bulk', '{}', now() FROM generate_series(1, 1000) RETURNING "id")
       INSERT INTO "Finding" ("scanId", "imageScanId", "vulnerabilityId", "severity", "providerSeverity", "raw")
       SELECT $1, imgs."id", 'CVE-' || n, 'LOW', 'low', '{}' FROM imgs CROSS JOIN generate_series(1, 20) AS n`,
      [other.id],
    );
    await database.sql.execute('ANALYZE "Finding"');
    const { scan } = await newScan();
    const [image] = await scans.addImages(scan.id, [{ registry: 'r', repository: 'a', tags: [] }]);
    // Capture the completion statement as sent, then ask Postgres how it would run it.
    // (It runs in a transaction, on a client of the pool: the clients' query is what sends it.)
    const sent: pg.QueryConfig[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
      if (typeof config === 'object' && config !== null && 'text' in config) sent.push(config as pg.QueryConfig);
      return (query as (...a: unknown[]) => unknown).call(this, config, ...rest);
    } as typeof query;
    try {
      await scans.completeImages(scan.id, [{ imageScanId: image!.id, status: 'succeeded', findings: [finding('CVE-1', 'LOW')] }]);
    } finally {
      pg.Client.prototype.query = query;
    }
    const completion = sent.find((c) => c.text.includes('DELETE FROM "Finding"'))!;
    const [{ 'QUERY PLAN': plan }] = (await database.sql.pool.query({ text: `EXPLAIN (FORMAT JSON) ${completion.text}`, values: completion.values })).rows;
    const nodes: { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string }[] = [];
    const walk = (n: { Plans?: unknown[] } & (typeof nodes)[number]) => (nodes.push(n), n.Plans?.forEach((c) => walk(c as typeof n)));
    walk(plan[0].Plan);
    expect(nodes.filter((n) => n['Relation Name'] === 'Finding' && n['Node Type'] === 'Seq Scan')).toEqual([]);
    expect(nodes.some((n) => n['Index Name'] === 'Finding_imageScanId_idx')).toBe(true);
  });

  it('runs hot-path statements prepared once per connection, or unnamed when told to', async () => {
    const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 1 });
    try {
      const preparedOnce = async (sql: SqlClient) => {
        for (let i = 0; i < 3; i += 1) await sql.rows('SELECT count(*) FROM "Scan" WHERE "status" = $1::"ScanStatus"', ['queued']);
        const prepared = await pool.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements');
        return prepared.rows.filter((r) => r.statement.includes('FROM "Scan" WHERE "status"'));
      };
      expect(await preparedOnce(new SqlClient(pool, { prepared: false }))).toEqual([]);
      const named = await preparedOnce(new SqlClient(pool));
      expect(named).toHaveLength(1);
      expect(named[0]!.name).toMatch(/^scanq_[0-9a-f]{20}$/);
    } finally {
      await pool.end();
    }
  });

  it("cancels a bulk scan's 100,000 queued scans and their images in one call (an interactive transaction timed out at 5 s)", async () => {
    const bulk = await database.db.bulkScan.create({ data: { status: 'running', selector: {} } });
    const { scan: model } = await scans.create({ provider: 'aws', accountId, target: { repositoryName: 'r' }, deadlineAt: new Date(Date.now() + 60_000) });
    await database.sql.rows(`UPDATE "Scan" SET "bulkScanId" = $2 WHERE "id" = $1`, [model.id, bulk.id]);
    const N = 100_000;
    // N − 1 more queued scans of the bulk scan, each with one pending image; one already running, which stays.
    await database.sql.rows(
      `INSERT INTO "Scan" ("id", "provider", "accountId", "bulkScanId", "target", "deadlineAt", "createdAt", "updatedAt")
       SELECT gen_random_uuid(), 'aws', $1::uuid, $2::uuid, '{"repositoryName":"r"}'::jsonb, now() + interval '1 hour', now(), now() FROM generate_series(2, $3::int)`,
      [accountId, bulk.id, N],
    );
    await database.sql.rows(
      `INSERT INTO "ImageScan" ("id", "scanId", "registry", "repository", "tags", "status", "createdAt", "updatedAt")
       SELECT gen_random_uuid(), s."id", 'reg', 'r', ARRAY['t'], 'pending', now(), now() FROM "Scan" s WHERE s."bulkScanId" = $1`,
      [bulk.id],
    );
    const [running] = await database.sql.rows<{ id: string }>(`UPDATE "Scan" SET "status" = 'running', "providerTaskId" = 't' WHERE "id" = (SELECT "id" FROM "Scan" WHERE "bulkScanId" = $1 AND "id" <> $2 LIMIT 1) RETURNING "id"::text AS id`, [bulk.id, model.id]);

    const cancelled = await scans.cancelNotStarted({ bulkScanId: bulk.id });
    expect(cancelled).toHaveLength(N - 1);
    expect(cancelled.map((c) => c.id)).not.toContain(running!.id);
    const counts = await database.sql.rows<{ status: string; scans: number; images: number }>(
      `SELECT s."status"::text AS status, count(DISTINCT s."id")::int AS scans, count(i."id") FILTER (WHERE i."status" = 'cancelled')::int AS images
       FROM "Scan" s JOIN "ImageScan" i ON i."scanId" = s."id" WHERE s."bulkScanId" = $1 GROUP BY 1 ORDER BY 1`,
      [bulk.id],
    );
    expect(counts).toEqual([
      { status: 'cancelled', scans: N - 1, images: N - 1 },
      { status: 'running', scans: 1, images: 0 },
    ]);
  }, 120_000);

  it('adds no image to a scan that ended, even when the cancel commits while the insert waits for it', async () => {
    const image = { registry: 'r', repository: 'a', tags: ['1'] };
    const { scan: ended } = await newScan();
    await scans.cancelNotStarted({ id: ended.id });
    expect(await scans.addImages(ended.id, [image], ['queued'])).toEqual([]);
    // A cancel holding the scan row: the insert waits for it, then finds the scan ended (without
    // the row lock it would read the scan as still queued and insert a pending image for good).
    const { scan: racing } = await newScan();
    const canceller = new pg.Client({ connectionString: env.databaseUrl });
    await canceller.connect();
    try {
      await canceller.query('BEGIN');
      await canceller.query(`UPDATE "Scan" SET "status" = 'cancelled' WHERE "id" = $1`, [racing.id]);
      const adding = scans.addImages(racing.id, [image], ['queued']);
      await new Promise((r) => setTimeout(r, 200));
      await canceller.query('COMMIT');
      expect(await adding).toEqual([]);
    } finally {
      await canceller.end();
    }
    expect((await scans.get(racing.id))!.images).toEqual([]);
  });

  it('stores the resolved images of a scan once when two starts of it race, and none for a scan that ended', async () => {
    const { scan } = await newScan();
    const image = (tag: string) => ({ registry: 'r', repository: 'a', tags: [tag], digest: `sha256:${'c'.repeat(64)}` });
    // Two starts of one scan, each with its own resolution: the first to lock the scan stores its images, the other gets them.
    const [a, b] = await Promise.all([scans.addResolvedImages(scan.id, [image('a')], ['queued']), scans.addResolvedImages(scan.id, [image('b')], ['queued'])]);
    expect(a).toHaveLength(1);
    expect(b).toEqual(a);
    expect((await scans.get(scan.id))!.images.map((i) => i.id)).toEqual([a![0]!.id]);
    expect(await scans.addResolvedImages(scan.id, [image('c')], ['queued'])).toEqual(a);
    const { scan: ended } = await newScan();
    await scans.cancelNotStarted({ id: ended.id });
    expect(await scans.addResolvedImages(ended.id, [image('d')], ['queued'])).toBeNull();
    expect((await scans.get(ended.id))!.images).toEqual([]);
  });

  it('does not cancel a scan whose create call may have reached the cloud (an intent without a task); a refused create can be cancelled', async () => {
    const { scan } = await newScan();
    const intents = new CreateIntentRepository(database.sql);
    await scans.update(scan.id, { status: 'retrying', error: 'socket hang up' });
    const at = await intents.claim(scan.id, 'attempt-1', null, ['retrying']);
    expect(at).not.toBeNull();
    await intents.answered(scan.id, 'attempt-1');
    expect(await scans.notStarted({ id: scan.id })).toEqual([]);
    expect(await scans.cancelNotStarted({ id: scan.id })).toEqual([]);
    expect((await scans.get(scan.id))!.status).toBe('retrying');
    // The cloud refused it outright (nothing created): the intent goes, and so may the scan.
    await intents.clear(scan.id, at);
    expect((await scans.cancelNotStarted({ id: scan.id })).map((s) => s.id)).toEqual([scan.id]);
  });

  it('cancels only scans not started at the cloud, reports exactly those, and stamps them with the database clock', async () => {
    const { scan: queued } = await newScan();
    const { scan: running } = await newScan();
    await scans.addImages(queued.id, [{ registry: 'r', repository: 'a', tags: [] }]);
    await scans.update(queued.id, { status: 'quota_wait', error: 'TaskSlotsFull: 10 of 10 in use' });
    expect(await scans.markStarted(running.id, ['queued'], { status: 'running', providerTaskId: 't' }, false)).toBe(true);
    const now = (await database.sql.rows<{ now: Date }>(`SELECT timezone('UTC', now()) AS now`))[0]!.now;
    expect(await scans.cancelNotStarted({ id: queued.id })).toEqual([{ id: queued.id, provider: 'aws', jobId: null }]);
    expect(await scans.cancelNotStarted({ id: running.id })).toEqual([]);
    expect(await scans.cancelNotStarted({ id: queued.id })).toEqual([]);
    expect(await scans.cancelNotStarted({ id: 'not-a-uuid' })).toEqual([]);
    await expect(scans.cancelNotStarted({})).rejects.toThrow(/scan id or a bulk scan id/);
    const cancelled = (await scans.get(queued.id))!;
    expect(cancelled).toMatchObject({ status: 'cancelled', reason: 'cancelled', error: null, images: [{ status: 'cancelled' }] });
    // Postgres' now (a statement later than the one read above), not a client clock.
    expect(cancelled.finishedAt!.getTime() - now.getTime()).toBeGreaterThanOrEqual(0);
    expect(cancelled.finishedAt!.getTime() - now.getTime()).toBeLessThan(60_000);
    expect((await scans.get(running.id))!.status).toBe('running');
  });

  it('moves only open images forward with progress: an image a cancel or time-out ended stays ended', async () => {
    const { scan } = await newScan();
    const [open, ended] = await scans.addImages(scan.id, [
      { registry: 'r', repository: 'a', tags: [] },
      { registry: 'r', repository: 'b', tags: [] },
    ]);
    await scans.completeImages(scan.id, [{ imageScanId: ended!.id, status: 'failed', reason: 'timed_out', findings: [] }]);
    await scans.updateImagesProgress([
      { imageScanId: open!.id, progress: 40 },
      { imageScanId: ended!.id, progress: 40 },
    ]);
    const images = (await scans.get(scan.id))!.images;
    expect(images.find((i) => i.id === open!.id)).toMatchObject({ status: 'scanning', progress: 40 });
    expect(images.find((i) => i.id === ended!.id)).toMatchObject({ status: 'failed', reason: 'timed_out', progress: 100 });
  });

  it('records a start folded into the end (task, start time, attempts, poll job, reuse), only while the scan is open', async () => {
    const { scan } = await newScan();
    const [image] = await scans.addImages(scan.id, [{ registry: 'r', repository: 'a', tags: [] }]);
    const startedAt = new Date('2026-11-24T09:30:00.250Z');
    const start = { providerTaskId: 'task-1', startedAt, attempts: 2, jobId: `${scan.id}-poll`, reused: true };
    const result = { imageScanId: image!.id, status: 'succeeded' as const, scanCompletedAt: new Date(), findings: [finding('CVE-7', 'MEDIUM')] };
    expect(await scans.completeImages(scan.id, [result], { status: 'succeeded', reason: 'reused_scan', start })).toBe(true);
    const got = (await scans.get(scan.id))!;
    expect(got).toMatchObject({ status: 'succeeded', reason: 'reused_scan', providerTaskId: 'task-1', attempts: 2, jobId: `${scan.id}-poll`, nextPollAt: null });
    expect(got.startedAt?.toISOString()).toBe(startedAt.toISOString());
    expect(got.images[0]).toMatchObject({ status: 'succeeded', reused: true, medium: 1 });
    // A scan cancelled before the look ended keeps its cancel: neither the end nor the start lands.
    const { scan: cancelled } = await newScan();
    const [other] = await scans.addImages(cancelled.id, [{ registry: 'r', repository: 'b', tags: [] }]);
    await scans.cancelNotStarted({ id: cancelled.id });
    expect(await scans.completeImages(cancelled.id, [{ ...result, imageScanId: other!.id }], { status: 'succeeded', start })).toBe(false);
    expect(await scans.get(cancelled.id)).toMatchObject({ status: 'cancelled', providerTaskId: null, startedAt: null, attempts: 0 });
  });

  it('records the scan.completed outbox row with the end, in the shape of the stored end state, and only when it ended the scan', async () => {
    const { scan } = await newScan();
    const [earlier, last] = await scans.addImages(scan.id, [
      { registry: 'r', repository: 'a', tags: ['v1', 'latest'], digest: 'sha256:a' },
      { registry: 'r', repository: 'b', tags: [], digest: null },
    ]);
    // One image settled by an earlier poll, the other by the ending statement.
    await scans.completeImages(scan.id, [{ imageScanId: earlier!.id, status: 'succeeded', scanCompletedAt: new Date(), findings: [finding('CVE-11', 'CRITICAL'), finding('CVE-12', 'LOW')] }]);
    const { ended, event } = await scans.completeImagesEnding(scan.id, [{ imageScanId: last!.id, status: 'failed', reason: 'scan_failed', findings: [] }], { status: 'succeeded', reason: null, event: { account: 'sql' } });
    expect(ended).toBe(true);
    const stored = (await scans.get(scan.id))!;
    // scanCompletedPayload's shape (packages/scans; the worker's intake test compares the two whole).
    expect(event).toMatchObject({ key: `scan.completed:${scan.id}`, event: 'scan.completed', scanId: scan.id, bulkScanId: null, streamId: null });
    expect(event!.payload).toMatchObject({ event: 'scan.completed', scan: { id: scan.id, provider: 'aws', account: 'sql', status: 'succeeded', reason: null } });
    const payloadImages = (event!.payload as { scan: { images: unknown[] } }).scan.images;
    expect(payloadImages).toEqual([
      { repository: 'a', digest: 'sha256:a', tags: ['v1', 'latest'], status: 'succeeded', severityCounts: { CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 1, INFORMATIONAL: 0, UNKNOWN: 0 } },
      { repository: 'b', digest: null, tags: [], status: 'failed', severityCounts: { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFORMATIONAL: 0, UNKNOWN: 0 } },
    ]);
    expect(stored.images.map((i) => [i.status, i.critical, i.low])).toEqual([['succeeded', 1, 1], ['failed', 0, 0]]);
    const rows = await database.db.streamEvent.findMany({ where: { scanId: scan.id } });
    expect(rows.map((r) => r.id)).toEqual([event!.id]);
    expect(rows[0]!.createdAt.getTime()).toBe(event!.createdAt.getTime());
    // A statement that does not end the scan (it ended already) records nothing.
    expect(await scans.completeImagesEnding(scan.id, [{ imageScanId: last!.id, status: 'failed', findings: [] }], { status: 'failed', event: { account: 'sql' } })).toEqual({ ended: false, event: null });
    expect(await database.db.streamEvent.count({ where: { scanId: scan.id } })).toBe(1);
  });

  it('claims a create intent in one statement when none is outstanding, and otherwise reports the one there', async () => {
    const intents = new CreateIntentRepository(database.sql);
    const { scan } = await newScan();
    const first = await intents.claimIfNone(scan.id, 'attempt-1', ['queued']);
    expect(first.claimedAt).toBeInstanceOf(Date);
    const again = await intents.claimIfNone(scan.id, 'attempt-2', ['queued']);
    expect(again.claimedAt).toBeNull();
    expect(again.intent).toMatchObject({ owner: 'attempt-1', providerTaskId: null, status: 'queued' });
    expect(again.intent!.at!.getTime()).toBe(first.claimedAt!.getTime());
    // Of two at once exactly one claims; the other sees a claim (or, read before it, none at all).
    const { scan: raced } = await newScan();
    const both = await Promise.all([intents.claimIfNone(raced.id, 'a', ['queued']), intents.claimIfNone(raced.id, 'b', ['queued'])]);
    expect(both.filter((r) => r.claimedAt !== null)).toHaveLength(1);
    // Not while the scan is outside the active states, nor for a scan that does not exist.
    const { scan: cancelled } = await newScan();
    await scans.cancelNotStarted({ id: cancelled.id });
    expect(await intents.claimIfNone(cancelled.id, 'c', ['queued'])).toMatchObject({ claimedAt: null, intent: { status: 'cancelled', at: null } });
    expect(await intents.claimIfNone('0190a0a0-0000-7000-8000-000000000000', 'd', ['queued'])).toEqual({ claimedAt: null, intent: null });
  });
});
