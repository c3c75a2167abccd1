/**
 * The security hub at size (`pnpm bench inventory`):
 *  - a seeded inventory (BENCH_INVENTORY_IMAGES images × BENCH_INVENTORY_FINDINGS findings, set-based
 *    SQL with generate_series, the findings' secondary indexes built after; the issue's size is
 *    200,000 × 50 = 10 million) and, through the API in-process (app.inject: Fastify, zod and
 *    serialization included, no socket), the p95 of GET /v1/vulnerabilities?cve=…, ?severity=
 *    without cve, the summary, GET /v1/images?minSeverity=critical's first page;
 *  - the per-scan completion statement (one image, 20 findings) on an empty database vs the seeded one;
 *  - Postgres size after BENCH_RETENTION_RUNS nightly runs of the same BENCH_RETENTION_IMAGES images
 *    through the real completion statement and retention pass (BENCH_RETENTION_FULL_RUNS,
 *    BENCH_RETENTION_HISTORY_RUNS), vs after one run.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, type NormalizedFinding, simulatorAccountRequest } from '@scanq/core';
import { RECOUNT_IMPACT } from '@scanq/db';
import { createRuntime, type ScanqRuntime } from '@scanq/scans';
import { buildApi } from '../apps/api/src/app.js';
import { benchEnv, createBenchStore, runWhenMain } from './support.js';

const IMAGES = Number(process.env.BENCH_INVENTORY_IMAGES ?? 200_000);
const PER_IMAGE = Number(process.env.BENCH_INVENTORY_FINDINGS ?? 50);
const VULNS = Number(process.env.BENCH_INVENTORY_VULNS ?? 50_000);
const RET_IMAGES = Number(process.env.BENCH_RETENTION_IMAGES ?? 10_000);
const RET_RUNS = Number(process.env.BENCH_RETENTION_RUNS ?? 30);
const RET_FULL_RUNS = process.env.BENCH_RETENTION_FULL_RUNS ?? '1';
const RET_HISTORY_RUNS = process.env.BENCH_RETENTION_HISTORY_RUNS ?? '2';
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const API_KEY = 'bench-inventory-api-key-0123456789';

const ms = (t0: number) => performance.now() - t0;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const SEV = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNKNOWN'] as const;

/** A realistic finding (a raw record of ~0.6 KB, like an Inspector finding trimmed). */
function finding(i: number): NormalizedFinding {
  const id = `CVE-2024-${10_000 + ((i * 7919) % 40_000)}`;
  const severity = SEV[i % 4]!;
  return {
    vulnerabilityId: id, severity, providerSeverity: severity, packageName: `pkg-${i % 30}`, installedVersion: `1.${i % 9}.0`, fixedVersion: i % 3 ? `1.${i % 9}.1` : null,
    title: `${id} in pkg-${i % 30}`, link: `https://nvd.nist.gov/vuln/detail/${id}`, score: 5 + (i % 5), cvssVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    links: [`https://nvd.nist.gov/vuln/detail/${id}`],
    raw: { name: id, description: 'x'.repeat(400), severity, attributes: [{ key: 'package_name', value: `pkg-${i % 30}` }, { key: 'package_version', value: `1.${i % 9}.0` }] },
  };
}

/** One scan of `images` new images completed through the real statement; returns its ms. */
async function completeOnce(rt: ScanqRuntime, accountId: string, images: { repository: string; digest: string }[], findingsPer: number, offset = 0): Promise<number> {
  const [scan] = await rt.scans.createMany([{ provider: 'aws', accountId, target: {}, deadlineAt: new Date(Date.now() + 3_600_000) }]);
  const rows = await rt.scans.addImages(scan!.id, images.map((i) => ({ registry: '123456789012', repository: i.repository, tags: ['latest'], digest: i.digest, raw: { imageScanStatus: { status: 'COMPLETE' } } })));
  const t0 = performance.now();
  await rt.scans.completeImages(scan!.id, rows.map((r, k) => ({ imageScanId: r.id, status: 'succeeded' as const, scanCompletedAt: new Date(), findings: Array.from({ length: findingsPer }, (_, j) => finding(offset + k * findingsPer + j)) })), { status: 'succeeded' });
  return ms(t0);
}

const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

async function completionTimes(rt: ScanqRuntime, accountId: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await completeOnce(rt, accountId, [{ repository: 'bench/completion', digest: digestOf(900_000_000 + Math.floor(Math.random() * 1e8)) }], 20, i * 20));
  return out;
}

async function tableBytes(rt: ScanqRuntime): Promise<number> {
  const [row] = await rt.sql.rows<{ b: string }>(`SELECT sum(pg_total_relation_size(c))::text AS b FROM unnest(ARRAY['"Finding"', '"ImageScan"', '"Image"', '"Vulnerability"', '"VulnerabilityImpact"', '"Scan"']::regclass[]) c`);
  return Number(row!.b);
}

export async function benchInventory(): Promise<Record<string, string>> {
  const figures: Record<string, string> = {};
  const store = await createBenchStore('inventory', run);
  const rt = createRuntime(loadConfig({ ...benchEnv(store), LOG_LEVEL: 'silent', SCANQ_API_KEY: API_KEY, SCANQ_RETENTION_FULL_RUNS: RET_FULL_RUNS, SCANQ_RETENTION_HISTORY_RUNS: RET_HISTORY_RUNS, SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '0', SCANQ_RETENTION_BATCH: '500', SCANQ_RETENTION_MAX_BATCHES: '100000' }));
  try {
    const account = await rt.accounts.create(simulatorAccountRequest('aws', 0, 'http://127.0.0.1:9'));
    const empty = await completionTimes(rt, account.id, 40);
    figures['completion statement, empty tables (median / p95)'] = `${pct(empty, 0.5).toFixed(1)} / ${pct(empty, 0.95).toFixed(1)} ms (1 image, 20 findings)`;

    // --- Seed: one scan per 1,000 images, one current run per image, skewed CVEs (a few hit many images).
    // Set-based and on one connection with a large maintenance_work_mem; the findings go in with
    // only their primary key and their other indexes are built after (inserting through five
    // b-trees row by row was most of the 10 minutes 4 M findings took).
    let t0 = performance.now();
    const steps: string[] = [];
    const seed = await rt.sql.pool.connect();
    const step = async (name: string, text: string, values: unknown[] = []) => {
      const t = performance.now();
      await seed.query(text, values);
      steps.push(`${name} ${(ms(t) / 1000).toFixed(0)} s`);
    };
    try {
      await seed.query(`SET maintenance_work_mem = '256MB'`);
      await seed.query(`SET synchronous_commit = off`);
      await step(
        'dictionary',
        `INSERT INTO "Vulnerability" ("id", "severity", "score", "cvssVector", "title", "links", "aliases", "createdAt", "updatedAt")
         SELECT 'CVE-2020-' || (100000 + n), (ARRAY['CRITICAL','HIGH','HIGH','MEDIUM','MEDIUM','MEDIUM','LOW','LOW'])[1 + n % 8]::"Severity", 1 + (n % 90) / 10.0,
                'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'seeded', ARRAY['https://nvd.nist.gov/'], '{}', now(), now()
         FROM generate_series(0, $1::int - 1) n`,
        [VULNS],
      );
      await step(
        'scans',
        `INSERT INTO "Scan" ("id", "provider", "accountId", "status", "target", "deadlineAt", "finishedAt", "createdAt", "updatedAt")
         SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(s), 12, '0'))::uuid, 'aws', $1::uuid, 'succeeded', '{}', now(), now(), now(), now()
         FROM generate_series(0, ($2::int - 1) / 1000) s`,
        [account.id, IMAGES],
      );
      await step(
        'runs',
        `INSERT INTO "ImageScan" ("id", "scanId", "registry", "repository", "tags", "digest", "status", "progress", "scanCompletedAt", "createdAt", "updatedAt")
         SELECT ('00000001-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, ('00000000-0000-7000-8000-' || lpad(to_hex(n / 1000), 12, '0'))::uuid,
                '123456789012', 'repo-' || (n % 2000), ARRAY['v' || n], 'sha256:' || lpad(to_hex(n), 64, '0'), 'succeeded', 100, now(), now(), now()
         FROM generate_series(0, $1::int - 1) n`,
        [IMAGES],
      );
      const { rows: indexes } = await seed.query<{ name: string; def: string }>(
        `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'Finding' AND indexname <> 'Finding_pkey'`,
      );
      for (const ix of indexes) await seed.query(`DROP INDEX "${ix.name}"`);
      // Each finding's vulnerability: v = VULNS · u³ (u uniform) — a long tail with a few very common ids.
      await step(
        'findings',
        `INSERT INTO "Finding" ("scanId", "imageScanId", "vulnerabilityId", "severity", "providerSeverity", "packageName", "installedVersion", "fixedVersion", "score", "raw", "createdAt")
         SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(n / 1000), 12, '0'))::uuid, ('00000001-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
                'CVE-2020-' || (100000 + v), (ARRAY['CRITICAL','HIGH','HIGH','MEDIUM','MEDIUM','MEDIUM','LOW','LOW'])[1 + v % 8]::"Severity", 'x',
                'pkg-' || (v % 500), '1.0.' || k, CASE WHEN v % 3 = 0 THEN NULL ELSE '1.0.' || (k + 1) END, 5, '{"seeded":true}', now()
         FROM generate_series(0, $1::int - 1) n, generate_series(1, $2::int) k,
              LATERAL (SELECT floor($3::int * power(random(), 3))::int + 0 * n * k AS v) r`,
        [IMAGES, PER_IMAGE, VULNS],
      );
      for (const ix of indexes) await step(`index ${ix.name}`, ix.def);
      await step(
        'images',
        `INSERT INTO "Image" ("id", "provider", "accountId", "registry", "repository", "digest", "tags", "currentImageScanId", "lastScanId", "lastScannedAt",
           "critical", "high", "medium", "low", "informational", "unknown", "fixable", "worst", "createdAt", "updatedAt")
         SELECT gen_random_uuid(), 'aws', $1::uuid, i."registry", i."repository", i."digest", i."tags", i."id", i."scanId", now(),
                c.critical, c.high, c.medium, c.low, 0, 0, c.fixable, c.worst, now(), now()
         FROM "ImageScan" i CROSS JOIN LATERAL (
           SELECT count(*) FILTER (WHERE f."severity" = 'CRITICAL') AS critical, count(*) FILTER (WHERE f."severity" = 'HIGH') AS high,
                  count(*) FILTER (WHERE f."severity" = 'MEDIUM') AS medium, count(*) FILTER (WHERE f."severity" = 'LOW') AS low, count(f."fixedVersion") AS fixable,
                  COALESCE(min(array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW']::"Severity"[], f."severity")) - 1, 6) AS worst
           FROM "Finding" f WHERE f."imageScanId" = i."id") c
         WHERE i."imageId" IS NULL`,
        [account.id],
      );
      await step('image links', `UPDATE "ImageScan" i SET "imageId" = im."id" FROM "Image" im WHERE im."currentImageScanId" = i."id" AND i."imageId" IS NULL`);
      // Recounted over every image (the completion runs above kept theirs already).
      await seed.query(`DELETE FROM "VulnerabilityImpact"`);
      await step('impact counts', RECOUNT_IMPACT);
      await step('vacuum analyze', 'VACUUM ANALYZE');
    } finally {
      seed.release();
    }
    const [sized] = await rt.sql.rows<{ findings: number; images: number }>(`SELECT (SELECT count(*)::int FROM "Finding") AS findings, (SELECT count(*)::int FROM "Image") AS images`);
    figures['seeded'] = `${sized!.findings.toLocaleString('en')} findings over ${sized!.images.toLocaleString('en')} images, ${VULNS.toLocaleString('en')} vulnerabilities, in ${(ms(t0) / 1000).toFixed(0)} s (${steps.join(', ')}); ${(await tableBytes(rt) / 2 ** 20).toFixed(0)} MiB`;

    const seeded = await completionTimes(rt, account.id, 40);
    figures['completion statement, seeded (median / p95)'] = `${pct(seeded, 0.5).toFixed(1)} / ${pct(seeded, 0.95).toFixed(1)} ms (goal: no slower than empty)`;

    const { app } = await buildApi(rt, { adminUser: 'admin', adminPassword: 'bench-password', logger: false });
    await app.ready();
    const get = async (url: string) => {
      const t = performance.now();
      const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${API_KEY}` } });
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
      return ms(t);
    };
    // Random ids (most affect few images) and the most common ones (the morning a big CVE lands).
    const random: number[] = [];
    for (let i = 0; i < 60; i++) random.push(await get(`/v1/vulnerabilities?cve=CVE-2020-${100000 + Math.floor(Math.random() * VULNS)}`));
    const common: number[] = [];
    for (let i = 0; i < 10; i++) common.push(await get(`/v1/vulnerabilities?cve=CVE-2020-${100000 + i}`));
    const [top] = await rt.sql.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "Finding" WHERE "vulnerabilityId" = 'CVE-2020-100000'`);
    figures['GET /v1/vulnerabilities?cve= random id (p50 / p95)'] = `${pct(random, 0.5).toFixed(1)} / ${pct(random, 0.95).toFixed(1)} ms (goal p95 ≤ 50)`;
    figures['GET /v1/vulnerabilities?cve= 10 most common (p50 / max)'] = `${pct(common, 0.5).toFixed(1)} / ${Math.max(...common).toFixed(1)} ms (the most common is in ${top!.n.toLocaleString('en')} findings)`;
    const summary: number[] = [];
    for (let i = 0; i < 10; i++) summary.push(await get('/v1/vulnerabilities/summary'));
    figures['GET /v1/vulnerabilities/summary (p50 / p95 of 10)'] = `${pct(summary, 0.5).toFixed(0)} / ${pct(summary, 0.95).toFixed(0)} ms (goal ≤ 200)`;
    const critical: number[] = [];
    for (let i = 0; i < 20; i++) critical.push(await get('/v1/images?minSeverity=critical'));
    figures['GET /v1/images?minSeverity=critical first page (p50 / p95)'] = `${pct(critical, 0.5).toFixed(1)} / ${pct(critical, 0.95).toFixed(1)} ms (goal ≤ 50)`;
    const high: number[] = [];
    for (let i = 0; i < 10; i++) high.push(await get('/v1/images?minSeverity=high'));
    figures['GET /v1/images?minSeverity=high first page (p50 / p95)'] = `${pct(high, 0.5).toFixed(1)} / ${pct(high, 0.95).toFixed(1)} ms`;
    const bySeverity: number[] = [];
    for (let i = 0; i < 10; i++) bySeverity.push(await get('/v1/vulnerabilities?severity=critical&limit=50'));
    figures['GET /v1/vulnerabilities?severity=critical (no cve) first page (p50 / p95)'] = `${pct(bySeverity, 0.5).toFixed(1)} / ${pct(bySeverity, 0.95).toFixed(1)} ms`;
    const fixableHigh: number[] = [];
    for (let i = 0; i < 10; i++) fixableHigh.push(await get('/v1/vulnerabilities?severity=high&fixable=true&limit=50'));
    figures['GET /v1/vulnerabilities?severity=high&fixable=true first page (p50 / p95)'] = `${pct(fixableHigh, 0.5).toFixed(1)} / ${pct(fixableHigh, 0.95).toFixed(1)} ms`;
    await app.close();

    // --- Bounded growth: nightly runs of the same images, retention during each (VACUUM stands in for autovacuum).
    if (RET_RUNS === 0) return figures;
    await rt.sql.execute(`TRUNCATE "Finding", "ImageScan", "Image", "Vulnerability", "VulnerabilityImpact", "Scan" CASCADE`);
    await rt.sql.pool.query('VACUUM FULL');
    const images = Array.from({ length: RET_IMAGES }, (_, i) => ({ repository: `nightly/repo-${i % 100}`, digest: digestOf(i) }));
    const sizes: number[] = [];
    t0 = performance.now();
    for (let night = 0; night < RET_RUNS; night++) {
      // The maintenance pass runs through the night (every SCANQ_RECONCILE_EVERY_MS): a prune per 1,000 images.
      for (let i = 0; i < images.length; i += 100) {
        await completeOnce(rt, account.id, images.slice(i, i + 100), 20, i * 20);
        if ((i / 100) % 10 === 9 || i + 100 >= images.length) {
          await rt.retention.prune();
          await rt.sql.pool.query('VACUUM "Finding", "ImageScan"');
        }
      }
      sizes.push(await tableBytes(rt));
    }
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    figures['size after 1 nightly run'] = `${mib(sizes[0]!)} (${RET_IMAGES.toLocaleString('en')} images × 20 findings, ~0.6 KB raw each)`;
    figures[`size after ${RET_RUNS} nightly runs`] = `${mib(sizes.at(-1)!)} = ${(sizes.at(-1)! / sizes[0]!).toFixed(2)}× one run (goal ≤ 1.5×; SCANQ_RETENTION_FULL_RUNS=${RET_FULL_RUNS}, SCANQ_RETENTION_HISTORY_RUNS=${RET_HISTORY_RUNS}; ${(ms(t0) / 1000).toFixed(0)} s)`;
    figures['size after runs 2, 5, 10'] = [1, 4, 9].filter((i) => i < sizes.length).map((i) => mib(sizes[i]!)).join(', ');
    return figures;
  } finally {
    await rt.close();
    // BENCH_INVENTORY_KEEP=1 leaves the database for EXPLAIN (its name is printed).
    if (process.env.BENCH_INVENTORY_KEEP === '1') console.log(`kept ${store.databaseUrl}`);
    else await store.drop();
  }
}

await runWhenMain(import.meta.url, 'inventory', benchInventory);
