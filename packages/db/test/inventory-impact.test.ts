import type { NormalizedFinding, Severity } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { createDatabase, type Database, InventoryRepository, migrate, RetentionRepository, ScanRepository } from '../src/index.js';

/**
 * The maintained impact counts (VulnerabilityImpact) against what Postgres counts over the current
 * findings themselves, after rescans that add and remove findings, late and repeated completions,
 * retention, 64 concurrent completions of shared images, and the migration's backfill.
 */

const SEVERITIES: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];
const IDS = Array.from({ length: 12 }, (_, i) => `CVE-2025-${1000 + i}`);

/** A small deterministic generator (mulberry32): the same findings on every run of the test. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** 0–8 findings over a few common ids (an id may come twice, at two severities or packages). */
function findingsFor(random: () => number): NormalizedFinding[] {
  return Array.from({ length: Math.floor(random() * 9) }, (_, k) => {
    const severity = SEVERITIES[Math.floor(random() * SEVERITIES.length)]!;
    return {
      vulnerabilityId: IDS[Math.floor(random() * random() * IDS.length)]!,
      severity,
      providerSeverity: severity,
      packageName: `pkg-${k % 3}`,
      installedVersion: '1.0',
      fixedVersion: random() < 0.5 ? '1.1' : null,
      raw: {},
    };
  });
}

describe('the maintained impact counts', () => {
  let env: TestEnv;
  let database: Database;
  let scans: ScanRepository;
  let inventory: InventoryRepository;
  const accounts: { id: string; name: string }[] = [];

  beforeAll(async () => {
    env = await createTestEnv('invimpact');
    // Enough connections for the concurrent completions to overlap in Postgres, not in the pool.
    database = createDatabase(env.databaseUrl, { max: 24 });
    scans = new ScanRepository(database.db, database.sql);
    inventory = new InventoryRepository(database.sql);
    for (const name of ['impact-a', 'impact-b']) accounts.push(await database.db.cloudAccount.create({ data: { provider: 'aws', name, region: 'us-east-1', credentialRef: 'x' } }));
  });
  afterAll(async () => {
    await database?.close();
    await env?.cleanup();
  });

  /** A scan of `digests` on an account: its image runs, in input order. */
  const newRuns = async (accountId: string, digests: string[]) => {
    const { scan } = await scans.create({ provider: 'aws', accountId, target: {}, deadlineAt: new Date(Date.now() + 60_000) });
    const images = await scans.addImages(scan.id, digests.map((digest) => ({ registry: 'r', repository: 'app', tags: ['t'], digest })));
    return { scanId: scan.id, imageScanIds: images.map((i) => i.id) };
  };
  const complete = (scanId: string, runs: { imageScanId: string; findings: NormalizedFinding[]; status?: 'succeeded' | 'failed' }[]) =>
    scans.completeImages(scanId, runs.map((r) => ({ imageScanId: r.imageScanId, status: r.status ?? 'succeeded', scanCompletedAt: new Date(), findings: r.findings })), { status: 'succeeded' });

  /** Per id: images affected now, those with a critical finding of it, those with a fixable high or low one — counted over the findings. */
  const expected = async (account?: string) =>
    database.sql.rows<{ id: string; total: number; critical: number; highLowFixable: number }>(
      `SELECT f."vulnerabilityId" AS id, count(DISTINCT im."id")::int AS total,
              count(DISTINCT im."id") FILTER (WHERE f."severity" = 'CRITICAL')::int AS critical,
              count(DISTINCT im."id") FILTER (WHERE f."severity" IN ('HIGH', 'LOW') AND f."fixedVersion" IS NOT NULL)::int AS "highLowFixable"
       FROM "Image" im JOIN "Finding" f ON f."imageScanId" = im."currentImageScanId" JOIN "CloudAccount" a ON a."id" = im."accountId"
       WHERE $1::text IS NULL OR a."name" = $1::text
       GROUP BY 1 ORDER BY 1`,
      [account ?? null],
    );

  /** What the API's queries answer from the maintained counts, in the same shape. */
  const maintained = async (account?: string) => {
    const count = async (filter: { severities?: Severity[]; fixable?: boolean }) =>
      new Map((await inventory.vulnerabilities({ ...filter, account }, 1000, undefined, 0)).map((v) => [v.id, v.imageCount]));
    const [total, critical, highLowFixable] = await Promise.all([count({}), count({ severities: ['CRITICAL'] }), count({ severities: ['HIGH', 'LOW'], fixable: true })]);
    return [...total.keys()].sort().map((id) => ({ id, total: total.get(id)!, critical: critical.get(id) ?? 0, highLowFixable: highLowFixable.get(id) ?? 0 }));
  };

  const expectExact = async () => {
    for (const account of [undefined, ...accounts.map((a) => a.name)]) expect(await maintained(account), `account ${account ?? 'all'}`).toEqual(await expected(account));
    const [negative] = await database.sql.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "VulnerabilityImpact" WHERE "images" < 0`);
    expect(negative!.n).toBe(0);
    // The summary's top ids are the maintained counts too.
    const top = (await expected()).map((e) => ({ id: e.id, images: e.total })).sort((a, b) => b.images - a.images || (a.id < b.id ? -1 : 1)).slice(0, 5);
    expect((await inventory.summary({}, 5)).topVulnerabilities.map((t) => ({ id: t.id, images: t.images }))).toEqual(top);
  };

  it('stay exact through rescans that add and remove findings, late and repeated completions, and retention', async () => {
    const random = rng(18);
    const digests = Array.from({ length: 6 }, (_, i) => `sha256:seq${i}`);
    for (let round = 0; round < 5; round++) {
      for (const account of accounts) {
        const { scanId, imageScanIds } = await newRuns(account.id, digests);
        // Three images in one completion, the others one at a time.
        await complete(scanId, imageScanIds.slice(0, 3).map((imageScanId) => ({ imageScanId, findings: findingsFor(random) })));
        for (const imageScanId of imageScanIds.slice(3)) await complete(scanId, [{ imageScanId, findings: findingsFor(random) }]);
      }
      await expectExact();
    }
    const [account] = accounts;
    // An older run completing after a newer one changes nothing current.
    const older = await newRuns(account!.id, [digests[0]!]);
    const newer = await newRuns(account!.id, [digests[0]!]);
    await complete(newer.scanId, [{ imageScanId: newer.imageScanIds[0]!, findings: [...findingsFor(random), ...findingsFor(random)] }]);
    await complete(older.scanId, [{ imageScanId: older.imageScanIds[0]!, findings: findingsFor(random) }]);
    await expectExact();
    // The current run completed again with other findings, then with none, then as failed.
    await complete(newer.scanId, [{ imageScanId: newer.imageScanIds[0]!, findings: findingsFor(random) }]);
    await expectExact();
    await complete(newer.scanId, [{ imageScanId: newer.imageScanIds[0]!, findings: [] }]);
    await expectExact();
    await complete(newer.scanId, [{ imageScanId: newer.imageScanIds[0]!, findings: findingsFor(random) }]);
    await complete(newer.scanId, [{ imageScanId: newer.imageScanIds[0]!, findings: [], status: 'failed' }]);
    await expectExact();
    // Retention deletes the findings of runs that are no longer current: no current count moves.
    const retention = new RetentionRepository(database.sql);
    while ((await retention.pruneRuns(1, 7)).runs > 0);
    const [pruned] = await database.sql.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "ImageScan" WHERE "findingsPruned"`);
    expect(pruned!.n).toBeGreaterThan(0);
    await expectExact();
  });

  it('stay exact under 64 concurrent completions of shared images (no deadlock, no lost update)', async () => {
    const random = rng(64);
    const digests = Array.from({ length: 16 }, (_, i) => `sha256:conc${i}`);
    for (let round = 0; round < 2; round++) {
      // Each image is in four scans; all 64 runs complete at once, over the same dozen ids.
      const runs = await Promise.all(
        Array.from({ length: 4 }, async (_, k) => newRuns(accounts[k % 2]!.id, digests)),
      );
      const completions = runs.flatMap((r) => r.imageScanIds.map((imageScanId) => () => complete(r.scanId, [{ imageScanId, findings: findingsFor(random) }])));
      const results = await Promise.allSettled(completions.map((c) => c()));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(completions).toHaveLength(64);
      await expectExact();
    }
  });

  it('are backfilled by the migration on a database that already holds images and findings', async () => {
    const pre = await createTestEnv('invimpactmig');
    const db = createDatabase(pre.databaseUrl, { max: 2 });
    try {
      const repo = new ScanRepository(db.db, db.sql);
      const account = await db.db.cloudAccount.create({ data: { provider: 'aws', name: 'mig', region: 'us-east-1', credentialRef: 'x' } });
      const random = rng(7);
      for (let round = 0; round < 2; round++) {
        const { scan } = await repo.create({ provider: 'aws', accountId: account.id, target: {}, deadlineAt: new Date(Date.now() + 60_000) });
        const images = await repo.addImages(scan.id, Array.from({ length: 5 }, (_, i) => ({ registry: 'r', repository: 'app', tags: [], digest: `sha256:mig${i}` })));
        await repo.completeImages(scan.id, images.map((i) => ({ imageScanId: i.id, status: 'succeeded' as const, findings: findingsFor(random) })), { status: 'succeeded' });
      }
      // Back to the database as it was before the migration: no counts table, the migration not applied.
      await db.sql.execute(`DROP TABLE "VulnerabilityImpact"`);
      await db.sql.execute(`DROP FUNCTION "findingKindBit"`);
      await db.sql.execute(`DELETE FROM "_prisma_migrations" WHERE "migration_name" = '20261206200000_vulnerability_impact'`);
      const result = await migrate(pre.databaseUrl);
      expect(result.applied).toEqual(['20261206200000_vulnerability_impact']);
      const rows = await db.sql.rows<{ id: string; images: number }>(`SELECT "vulnerabilityId" AS id, sum("images")::int AS images FROM "VulnerabilityImpact" GROUP BY 1 ORDER BY 1`);
      const want = await db.sql.rows<{ id: string; images: number }>(
        `SELECT f."vulnerabilityId" AS id, count(DISTINCT im."id")::int AS images FROM "Image" im JOIN "Finding" f ON f."imageScanId" = im."currentImageScanId" GROUP BY 1 ORDER BY 1`,
      );
      expect(want.length).toBeGreaterThan(0);
      expect(rows).toEqual(want);
      // And the counts go on from there.
      expect((await new InventoryRepository(db.sql).vulnerabilities({}, 100, undefined, 0)).map((v) => ({ id: v.id, images: v.imageCount }))).toEqual(want);
    } finally {
      await db.close();
      await pre.cleanup();
    }
  });
});
