import type { NormalizedFinding } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { createDatabase, type Database, InventoryRepository, RetentionRepository, ScanRepository } from '../src/index.js';

const finding = (id: string, severity: NormalizedFinding['severity'], extra: Partial<NormalizedFinding> = {}): NormalizedFinding => ({
  vulnerabilityId: id,
  severity,
  providerSeverity: severity,
  packageName: 'openssl',
  installedVersion: '1.0',
  fixedVersion: null,
  raw: { id },
  ...extra,
});

/** What the completion statement writes into the inventory, read back from Postgres. */
describe('the completion statement keeps the inventory', () => {
  let env: TestEnv;
  let database: Database;
  let scans: ScanRepository;
  let inventory: InventoryRepository;
  let accountId: string;

  beforeAll(async () => {
    env = await createTestEnv('invsql');
    database = createDatabase(env.databaseUrl, { max: 3 });
    scans = new ScanRepository(database.db, database.sql);
    inventory = new InventoryRepository(database.sql);
    accountId = (await database.db.cloudAccount.create({ data: { provider: 'aws', name: 'inv', region: 'us-east-1', credentialRef: 'x' } })).id;
  });
  afterAll(async () => {
    await database?.close();
    await env?.cleanup();
  });

  const run = async (digest: string, tag: string) => {
    const { scan } = await scans.create({ provider: 'aws', accountId, target: {}, deadlineAt: new Date(Date.now() + 60_000) });
    const [image] = await scans.addImages(scan.id, [{ registry: 'r', repository: 'app', tags: [tag], digest }]);
    return { scanId: scan.id, imageScanId: image!.id };
  };
  const complete = (r: { scanId: string; imageScanId: string }, findings: NormalizedFinding[]) =>
    scans.completeImages(r.scanId, [{ imageScanId: r.imageScanId, status: 'succeeded', scanCompletedAt: new Date(), findings }], { status: 'succeeded' });

  it('keeps the newer run current when an older one completes after it, and merges tags', async () => {
    const older = await run('sha256:aa', 'v1');
    const newer = await run('sha256:aa', 'v1-alias');
    await complete(newer, [finding('CVE-2024-0001', 'HIGH')]);
    await complete(older, [finding('CVE-2024-0002', 'LOW'), finding('CVE-2024-0003', 'LOW')]);
    const images = await database.db.image.findMany({ where: { digest: 'sha256:aa' } });
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({ currentImageScanId: newer.imageScanId, high: 1, low: 0, worst: 1 });
    expect([...images[0]!.tags].sort()).toEqual(['v1', 'v1-alias']);
    // Both runs belong to the image (its history).
    expect(await database.db.imageScan.count({ where: { imageId: images[0]!.id } })).toBe(2);
  });

  it('fills the dictionary once per id, adding a cloud alias and a missing score without rewriting the rest', async () => {
    const a = await run('sha256:bb', 'x');
    await complete(a, [finding('CVE-2021-44228', 'CRITICAL', { providerVulnerabilityId: 'ALAS2-2021-1722', title: 'first title' })]);
    const b = await run('sha256:cc', 'y');
    await complete(b, [finding('CVE-2021-44228', 'CRITICAL', { providerVulnerabilityId: 'RHSA-2021:5206', score: 10, cvssVector: 'CVSS:3.1/AV:N', title: 'second title' })]);
    const d = await database.db.vulnerability.findUniqueOrThrow({ where: { id: 'CVE-2021-44228' } });
    expect(d).toMatchObject({ score: 10, cvssVector: 'CVSS:3.1/AV:N', title: 'first title' });
    expect([...d.aliases].sort()).toEqual(['ALAS2-2021-1722', 'RHSA-2021:5206']);
    // A cloud id finds the CVE; both images are affected now.
    const [found] = await inventory.vulnerabilities({ cve: 'RHSA-2021:5206' }, 10, undefined, 10);
    expect(found).toMatchObject({ id: 'CVE-2021-44228', imageCount: 2 });
  });

  it('prunes runs beyond the kept ones in batches, never the current run', async () => {
    const retention = new RetentionRepository(database.sql);
    for (let i = 0; i < 4; i++) await complete(await run('sha256:dd', 'z'), [finding(`CVE-2024-1${i}`, 'MEDIUM'), finding('CVE-2024-1999', 'LOW')]);
    const image = await database.db.image.findFirstOrThrow({ where: { digest: 'sha256:dd' } });
    // One run at a time (batch 1): each statement is small.
    const passes: number[] = [];
    for (;;) {
      const r = await retention.pruneRuns(1, 1);
      if (r.runs === 0) break;
      passes.push(r.findings);
    }
    expect(passes.length).toBeGreaterThanOrEqual(3);
    const kept = await database.db.imageScan.findMany({ where: { imageId: image.id, findingsPruned: false } });
    expect(kept.map((k) => k.id)).toEqual([image.currentImageScanId]);
    expect(await database.db.finding.count({ where: { imageScan: { imageId: image.id } } })).toBe(2);
  });

  it('deletes counts-only runs past the kept history, oldest first, never the current or a full run', async () => {
    const retention = new RetentionRepository(database.sql);
    for (let i = 0; i < 6; i++) await complete(await run('sha256:ee', 'h'), [finding(`CVE-2024-2${i}`, 'HIGH')]);
    const image = await database.db.image.findFirstOrThrow({ where: { digest: 'sha256:ee' } });
    const runs = (await database.db.imageScan.findMany({ where: { imageId: image.id }, orderBy: { id: 'asc' } })).map((r) => r.id);
    // Nothing is deleted before its findings are pruned (this also clears the earlier tests' images).
    await retention.deleteRuns(3, 100);
    expect(await database.db.imageScan.count({ where: { imageId: image.id } })).toBe(6);
    while ((await retention.pruneRuns(2, 100)).runs > 0);
    // Two full runs and one counts-only run kept: the three oldest go, two per statement.
    expect(await retention.deleteRuns(3, 2)).toBe(2);
    expect(await retention.deleteRuns(3, 2)).toBe(1);
    expect(await retention.deleteRuns(3, 2)).toBe(0);
    const left = await database.db.imageScan.findMany({ where: { imageId: image.id }, orderBy: { id: 'asc' } });
    expect(left.map((r) => r.id)).toEqual(runs.slice(3));
    expect(left.map((r) => r.findingsPruned)).toEqual([true, false, false]);
    expect(left.at(-1)!.id).toBe(image.currentImageScanId);
  });
});
