import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CreateScanRequest, SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/src/app.js';
import { AUTH, TEST_API_KEY } from '../../../test/support/env.js';
import { scanq } from '../../cli/test/run-cli.js';
import { waitFor } from '../../../test/support/wait.js';
import { startHarness, type WorkerHarness } from './harness.js';

const SECRET = 'inventory-test-secret-0123456789';

/**
 * The security hub end to end: scans on each cloud through the real worker and SDKs against the
 * simulator, then the inventory API, judged against what Postgres holds.
 */
describe('the cross-cloud inventory', { timeout: 180_000 }, () => {
  let h: WorkerHarness;
  let app: Awaited<ReturnType<typeof buildApi>>['app'];
  let db: pg.Client;
  let receiver: Server;
  let hookUrl = '';
  let cliEnv: Record<string, string> = {};
  const received: { event: string; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ event: String(req.headers['x-scanq-event']), body: JSON.parse(body) as Record<string, unknown> });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    h = await startHarness(
      'inventory',
      { SCANQ_WEBHOOK_SECRET: SECRET, SCANQ_WEBHOOK_ALLOW_PRIVATE: 'true', SCANQ_POLL_INITIAL_MS: '100', SCANQ_RETENTION_FULL_RUNS: '2', SCANQ_RETENTION_BATCH: '2' },
      { SIM_AWS_SCAN_MS: '100', SIM_ALIBABA_SCAN_MS: '300', SIM_TENCENT_SCAN_MS: '300', SIM_HUAWEI_SCAN_MS: '300' },
    );
    await Promise.all([h.addAccount('alibaba'), h.addAccount('tencent'), h.addAccount('huawei')]);
    ({ app } = await buildApi(h.worker.runtime, { adminUser: 'admin', adminPassword: 'test-admin-password', logger: false }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    cliEnv = { SCANQ_API_URL: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, SCANQ_API_KEY: TEST_API_KEY };
    db = new pg.Client({ connectionString: h.env.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await app?.close();
    await h?.close();
    await new Promise((r) => receiver?.close(r));
  });

  const get = async <T>(url: string): Promise<{ status: number; body: T }> => {
    const res = await app.inject({ method: 'GET', url, headers: AUTH });
    return { status: res.statusCode, body: res.json() as T };
  };
  const scan = async (request: CreateScanRequest) => {
    const { scan } = await h.worker.runtime.submit.submit(request);
    return h.waitForTerminal(scan.id, 90_000);
  };
  const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await db.query<T>(text, values)).rows;
  const awsLatest: CreateScanRequest = { provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } };

  it('puts every cloud’s scanned images in the inventory, each with the counts of its current findings', async () => {
    const ali = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: { name: string; images: { digest: string; behaviour: string; supportedRegion: boolean }[] }[] };
    const aliImages = ali.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).slice(0, 3);
    const tc = (await (await fetch(`${h.sim.url}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: { Id: number; special: unknown }[] }[] };
    const tcImages = tc.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.tencent[0].name)!.images.filter((i) => i.special === null).slice(0, 3);
    const hw = (await (await fetch(`${h.sim.url}/_sim/state/huawei`)).json()) as { accounts: { sample: { namespace: string; image_name: string; image_version: string; image_type: string }[] }[] };
    const hwImages = hw.accounts[0]!.sample.filter((i) => i.image_type === 'private_image').slice(0, 3);

    const scans = await Promise.all([
      scan(awsLatest),
      scan({ provider: 'alibaba', account: SIMULATOR_ACCOUNTS.alibaba[0].name, digests: aliImages.map((i) => i.digest) } as CreateScanRequest),
      scan({ provider: 'tencent', account: SIMULATOR_ACCOUNTS.tencent[0].name, repositoryIds: tcImages.map((i) => i.Id) } as CreateScanRequest),
      scan({ provider: 'huawei', account: SIMULATOR_ACCOUNTS.huawei[0].name, image_type: 'private_image', image_info_list: hwImages.map((i) => ({ namespace: i.namespace, image_name: i.image_name, image_version: i.image_version })) } as CreateScanRequest),
    ]);
    for (const s of scans) expect(s.status, `${s.provider}: ${s.reason} ${s.error}`).toBe('succeeded');

    for (const s of scans) {
      // What Postgres holds: each succeeded image with a digest is one Image whose current run is this scan's.
      const succeeded = s.images.filter((i) => i.status === 'succeeded' && i.digest);
      expect(succeeded.length, s.provider).toBeGreaterThan(0);
      const stored = await q<{ id: string; currentImageScanId: string; critical: number; high: number; medium: number; low: number; informational: number; unknown: number }>(
        `SELECT im.* FROM "Image" im WHERE im."currentImageScanId" = ANY($1::uuid[])`,
        [succeeded.map((i) => i.id)],
      );
      expect(stored).toHaveLength(succeeded.length);
      const listed = await get<{ items: { id: string; severityCounts: Record<string, number>; lastScan: { scanId: string } }[] }>(`/v1/images?provider=${s.provider}&limit=500`);
      expect(listed.status).toBe(200);
      for (const im of stored) {
        const bySeverity = await q<{ severity: string; n: number }>(`SELECT "severity"::text AS severity, count(*)::int AS n FROM "Finding" WHERE "imageScanId" = $1 GROUP BY 1`, [im.currentImageScanId]);
        const expected = Object.fromEntries(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNKNOWN'].map((sev) => [sev, bySeverity.find((b) => b.severity === sev)?.n ?? 0]));
        const view = listed.body.items.find((i) => i.id === im.id);
        expect(view, `${s.provider} image ${im.id} listed`).toBeDefined();
        expect(view!.severityCounts).toEqual(expected);
        expect(view!.lastScan.scanId).toBe(s.id);
      }

      // A vulnerability of this cloud: the API's affected images are exactly the images whose current findings name it.
      const [pick] = await q<{ vulnerabilityId: string }>(
        `SELECT f."vulnerabilityId" FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId" WHERE im."provider" = $1::"Provider" ORDER BY f."id" LIMIT 1`,
        [s.provider],
      );
      expect(pick, `${s.provider} has current findings`).toBeDefined();
      const affected = await q<{ id: string }>(
        `SELECT DISTINCT im."id" FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId" WHERE f."vulnerabilityId" = $1 ORDER BY 1`,
        [pick!.vulnerabilityId],
      );
      const found = await get<{ items: { id: string; imageCount: number; images: { imageId: string }[] }[] }>(`/v1/vulnerabilities?cve=${encodeURIComponent(pick!.vulnerabilityId)}&images=200`);
      expect(found.status).toBe(200);
      expect(found.body.items.map((v) => v.id)).toEqual([pick!.vulnerabilityId]);
      expect(found.body.items[0]!.imageCount).toBe(affected.length);
      expect(found.body.items[0]!.images.map((i) => i.imageId).sort()).toEqual(affected.map((a) => a.id));
    }

    // The dictionary holds one row per id the current findings name.
    const [dict] = await q<{ missing: number }>(`SELECT count(*)::int AS missing FROM (SELECT DISTINCT "vulnerabilityId" FROM "Finding") f LEFT JOIN "Vulnerability" d ON d."id" = f."vulnerabilityId" WHERE d."id" IS NULL`);
    expect(dict!.missing).toBe(0);

    // The summary adds up to the images' current findings.
    const summary = await get<{ images: number; findings: number; fixableFindings: number; fixableShare: number; byAccount: { provider: string }[]; topVulnerabilities: { id: string; images: number }[] }>('/v1/vulnerabilities/summary?top=5');
    expect(summary.status).toBe(200);
    const [totals] = await q<{ images: number; findings: number; fixable: number }>(
      `SELECT (SELECT count(*)::int FROM "Image") AS images, count(*)::int AS findings, count(*) FILTER (WHERE f."fixedVersion" IS NOT NULL)::int AS fixable
       FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId"`,
    );
    expect(summary.body).toMatchObject({ images: totals!.images, findings: totals!.findings, fixableFindings: totals!.fixable });
    expect(summary.body.byAccount.map((a) => a.provider).sort()).toEqual(['alibaba', 'aws', 'huawei', 'tencent']);
    const [top] = await q<{ id: string; n: number }>(
      `SELECT f."vulnerabilityId" AS id, count(DISTINCT im."id")::int AS n FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`,
    );
    expect(summary.body.topVulnerabilities[0]).toMatchObject({ id: top!.id, images: top!.n });
  });

  it('answers "where is CVE-X across my clouds" with one CLI command, and exports images and the summary', async () => {
    // The vulnerability affecting the most images now, as Postgres counts it.
    const [top] = await q<{ id: string; n: number }>(
      `SELECT f."vulnerabilityId" AS id, count(DISTINCT im."id")::int AS n FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`,
    );
    const where = await scanq(['vulns', top!.id, '--output', 'csv'], cliEnv);
    expect(where.stderr).toBe('');
    expect(where.code).toBe(0);
    const lines = where.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('vulnerability,severity,score,cvss_vector,provider,account,registry,repository,digest,tags,package,installed,fixed,last_scanned_at');
    expect(lines.slice(1).every((l) => l.startsWith(`${top!.id},`))).toBe(true);
    // One row per affected (image, finding): at least one per image.
    const digests = new Set(lines.slice(1).map((l) => l.split(',')[8]));
    expect(digests.size).toBe(top!.n);

    const critical = await scanq(['images', '--severity', 'critical', '--output', 'json'], cliEnv);
    expect(critical.code).toBe(0);
    const listed = (JSON.parse(critical.stdout) as { id: string }[]).map((i) => i.id).sort();
    const expected = (await q<{ id: string }>(`SELECT "id" FROM "Image" WHERE "critical" > 0 ORDER BY 1`)).map((r) => r.id);
    expect(listed).toEqual(expected);

    const summary = await scanq(['summary', '--json'], cliEnv);
    expect(summary.code).toBe(0);
    const [n] = await q<{ images: number }>(`SELECT count(*)::int AS images FROM "Image"`);
    expect((JSON.parse(summary.stdout) as { images: number }).images).toBe(n!.images);

    const bad = await scanq(['images', '--severity', 'urgent'], cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('querystring.minSeverity');
  });

  it('replaces an image’s current findings on a rescan of its digest (also under another tag), never duplicating them', async () => {
    const first = await scan(awsLatest);
    const digest = first.images[0]!.digest!;
    const before = await q<{ id: string; n: number }>(`SELECT im."id", (SELECT count(*)::int FROM "Finding" f WHERE f."imageScanId" = im."currentImageScanId") AS n FROM "Image" im WHERE im."digest" = $1`, [digest]);
    expect(before).toHaveLength(1);
    // 'stable' is another tag of the same digest.
    const again = await scan({ ...awsLatest, imageId: { imageTag: 'stable' } } as CreateScanRequest);
    expect(again.status).toBe('succeeded');
    expect(again.images[0]!.digest).toBe(digest);
    const after = await q<{ id: string; currentImageScanId: string; tags: string[]; n: number }>(
      `SELECT im."id", im."currentImageScanId", im."tags", (SELECT count(*)::int FROM "Finding" f WHERE f."imageScanId" = im."currentImageScanId") AS n FROM "Image" im WHERE im."digest" = $1`,
      [digest],
    );
    expect(after).toHaveLength(1);
    expect(after[0]!.id).toBe(before[0]!.id);
    expect(after[0]!.currentImageScanId).toBe(again.images[0]!.id);
    expect(after[0]!.n).toBe(before[0]!.n);
    expect(after[0]!.tags).toEqual(expect.arrayContaining(['latest', 'stable']));
    // The API counts the image once for each of its vulnerabilities.
    const [vuln] = await q<{ vulnerabilityId: string }>(`SELECT "vulnerabilityId" FROM "Finding" WHERE "imageScanId" = $1 LIMIT 1`, [after[0]!.currentImageScanId]);
    const found = await get<{ items: { images: { imageId: string }[] }[] }>(`/v1/vulnerabilities?cve=${vuln!.vulnerabilityId}&images=200`);
    expect(found.body.items[0]!.images.filter((i) => i.imageId === after[0]!.id)).toHaveLength(1);
  });

  it('sends image.vulnerabilities_changed only when a rescan finds new critical or high vulnerabilities, listing them', async () => {
    const configure = (advisories: unknown[]) => h.configureAws({ advisories });
    const request = { ...awsLatest, webhookUrl: hookUrl } as CreateScanRequest;
    const completedFor = (scanId: string) =>
      waitFor(async () => received.find((r) => r.event === 'scan.completed' && (r.body.scan as { id: string }).id === scanId), { timeoutMs: 30_000, what: 'scan.completed for the rescan' });
    const changeEvents = async (scanId: string) => (await h.worker.runtime.deliveries.forScan(scanId)).filter((d) => d.event === 'image.vulnerabilities_changed');

    // Nothing new: no event.
    const same = await scan(request);
    await completedFor(same.id);
    expect(await changeEvents(same.id)).toEqual([]);

    // A new LOW advisory: the image changed, but not at critical/high.
    await configure([{ id: 'CVE-2026-90001', severity: 'LOW', package: 'zlib' }]);
    const low = await scan(request);
    await completedFor(low.id);
    expect(await changeEvents(low.id)).toEqual([]);
    const [lowRow] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "Finding" WHERE "imageScanId" = $1 AND "vulnerabilityId" = 'CVE-2026-90001'`, [low.images[0]!.id]);
    expect(lowRow!.n).toBe(1);

    // A new CRITICAL one: one event, naming it (and not the LOW one).
    await configure([
      { id: 'CVE-2026-90001', severity: 'LOW', package: 'zlib' },
      { id: 'CVE-2026-90002', severity: 'CRITICAL', package: 'openssl' },
    ]);
    const critical = await scan(request);
    const event = await waitFor(async () => received.find((r) => r.event === 'image.vulnerabilities_changed' && (r.body.scan as { id: string }).id === critical.id), { timeoutMs: 30_000, what: 'image.vulnerabilities_changed' });
    const images = event.body.images as { digest: string; newVulnerabilities: { vulnerabilityId: string; severity: string; packageName: string }[] }[];
    expect(images).toHaveLength(1);
    expect(images[0]!.digest).toBe(critical.images[0]!.digest);
    expect(images[0]!.newVulnerabilities).toEqual([expect.objectContaining({ vulnerabilityId: 'CVE-2026-90002', severity: 'CRITICAL', packageName: 'openssl' })]);
    expect(await changeEvents(critical.id)).toHaveLength(1);

    // The same findings again: no second event.
    const repeat = await scan(request);
    await completedFor(repeat.id);
    expect(await changeEvents(repeat.id)).toEqual([]);
    await configure([]);
  });

  it('stops the findings table growing under repeated scans of the same images (retention), and drops raw payloads past the horizon', async () => {
    const tags = ['1.4.1', '1.4.0', '1.3.9'];
    const findingRows = async () => (await q<{ n: number }>(`SELECT count(*)::int AS n FROM "Finding"`))[0]!.n;
    const counts: number[] = [];
    for (let run = 0; run < 4; run++) {
      for (const tag of tags) expect((await scan({ ...awsLatest, imageId: { imageTag: tag } } as CreateScanRequest)).status).toBe('succeeded');
      await h.worker.runtime.retention.prune();
      counts.push(await findingRows());
    }
    // FULL_RUNS=2: from the second run on, each image keeps two runs' findings; the count stays put.
    expect(counts[2]).toBe(counts[1]);
    expect(counts[3]).toBe(counts[1]);
    // Each of the three images ran four times: two runs keep findings, two are counts only.
    const kept = await q<{ imageId: string; full: number; pruned: number; findings: number }>(
      `SELECT i."imageId", count(*) FILTER (WHERE NOT i."findingsPruned")::int AS full, count(*) FILTER (WHERE i."findingsPruned")::int AS pruned,
              (SELECT count(*)::int FROM "Finding" f JOIN "ImageScan" j ON j."id" = f."imageScanId" WHERE j."imageId" = i."imageId") AS findings
       FROM "ImageScan" i JOIN "Image" im ON im."id" = i."imageId" WHERE im."repository" = 'scanq/api' AND im."tags" && $1::text[] GROUP BY 1`,
      [tags],
    );
    expect(kept).toHaveLength(3);
    for (const k of kept) expect(k).toMatchObject({ full: 2, pruned: 2 });
    expect(kept.reduce((a, k) => a + k.findings, 0)).toBeGreaterThan(0);
    // Pruned runs keep their counts (a summary), with no findings left.
    const [orphans] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "Finding" f JOIN "ImageScan" i ON i."id" = f."imageScanId" WHERE i."findingsPruned"`);
    expect(orphans!.n).toBe(0);
    const [summaries] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "ImageScan" WHERE "findingsPruned" AND ("critical" + "high" + "medium" + "low" + "informational" + "unknown") > 0`);
    expect(summaries!.n).toBeGreaterThan(0);
    // Every current run kept its findings.
    const [current] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "Image" im JOIN "ImageScan" i ON i."id" = im."currentImageScanId" WHERE i."findingsPruned"`);
    expect(current!.n).toBe(0);

    // Past the raw horizon (90 days by default): every finished run's raw payloads go, findings stay.
    const total = await findingRows();
    const pass = await h.worker.runtime.retention.prune(new Date(Date.now() + 91 * 86_400_000));
    expect(pass.runsRawDropped).toBeGreaterThan(0);
    const [raw] = await q<{ kept: number }>(`SELECT count(*) FILTER (WHERE "raw" <> '{}'::jsonb)::int AS kept FROM "Finding"`);
    expect(raw!.kept).toBe(0);
    expect(await findingRows()).toBe(total);
  });

  it('answers bad inventory queries with 400 naming the field and the rule', async () => {
    const bad = await get<{ issues: { field: string; rule: string }[] }>('/v1/images?minSeverity=urgent&limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((i) => i.field).sort()).toEqual(['querystring.limit', 'querystring.minSeverity']);
    const cve = await get<{ issues: { field: string; rule: string; message: string }[] }>('/v1/vulnerabilities?cve=%3Bdrop&fixable=maybe');
    expect(cve.status).toBe(400);
    expect(cve.body.issues.map((i) => i.field).sort()).toEqual(['querystring.cve', 'querystring.fixable']);
    const unknown = await get<{ issues: { field: string }[] }>('/v1/vulnerabilities/summary?severity=high');
    expect(unknown.status).toBe(400);
  });
});
