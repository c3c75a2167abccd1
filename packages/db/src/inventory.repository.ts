import { type Provider, SEVERITIES, type Severity, type SeverityCounts } from '@scanq/core';
import type { SqlClient } from './sql.js';

/**
 * The cross-cloud inventory, read: each image's current findings are the Finding rows of its
 * current run (Image."currentImageScanId"), reached by the Finding (vulnerabilityId,
 * imageScanId) and (imageScanId) indexes; how many images each id affects is counted ahead in
 * VulnerabilityImpact. Nothing here writes: the completion statement keeps Image, Vulnerability
 * and the counts up to date (ScanRepository.completeImages).
 */

export interface ImageFilter {
  provider?: Provider;
  /** Account name or id. */
  account?: string;
  registry?: string;
  repository?: string;
}

export interface VulnerabilityFilter extends ImageFilter {
  /** A vulnerability id, or a cloud id mapped to one (an alias). */
  cve?: string;
  package?: string;
  severities?: Severity[];
  fixable?: boolean;
}

export interface AffectedImageRow {
  imageId: string;
  provider: Provider;
  account: string;
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  packageName: string | null;
  installedVersion: string | null;
  fixedVersion: string | null;
  severity: Severity;
  lastScanId: string;
  lastScannedAt: string;
}

export interface VulnerabilityRow {
  id: string;
  severity: Severity;
  score: number | null;
  cvssVector: string | null;
  title: string | null;
  links: string[];
  aliases: string[];
  imageCount: number;
  images: AffectedImageRow[];
}

export interface ImageRow {
  id: string;
  provider: Provider;
  accountId: string;
  account: string;
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  critical: number;
  high: number;
  medium: number;
  low: number;
  informational: number;
  unknown: number;
  fixable: number;
  worst: number;
  currentImageScanId: string;
  lastScanId: string;
  lastScannedAt: Date;
}

export interface SummaryRow {
  images: number;
  findings: number;
  fixableFindings: number;
  severityCounts: SeverityCounts;
  byAccount: { provider: Provider; account: string; images: number; severityCounts: SeverityCounts; fixable: number }[];
  topVulnerabilities: { id: string; severity: Severity; score: number | null; images: number }[];
}

/** A scan the dashboard flags: failed (timed out or otherwise) lately, or not terminal past a threshold. */
export interface TroubledScanRow {
  id: string;
  provider: Provider;
  account: string;
  status: string;
  reason: string | null;
  error: string | null;
  problem: 'failed' | 'timed_out' | 'stuck';
  createdAt: Date;
  finishedAt: Date | null;
}

/** A new critical/high vulnerability of an image, against its previous successful run. */
export interface NewSevereFinding {
  vulnerabilityId: string;
  severity: Severity;
  packageName: string | null;
  installedVersion: string | null;
  fixedVersion: string | null;
  score: number | null;
}

export interface ImageChange {
  imageId: string;
  registry: string;
  repository: string;
  digest: string;
  tags: string[];
  imageScanId: string;
  previousImageScanId: string;
  newVulnerabilities: NewSevereFinding[];
}

/** `im` matches the image filter ($n… from `first`): provider, account (name or id), registry, repository. */
function imageWhere(filter: ImageFilter, first: number): { sql: string; values: unknown[] } {
  const values: unknown[] = [filter.provider ?? null, filter.account ?? null, filter.registry ?? null, filter.repository ?? null];
  const [p, a, r, n] = [first, first + 1, first + 2, first + 3];
  return {
    sql: `($${p}::"Provider" IS NULL OR im."provider" = $${p}::"Provider")
      AND ($${a}::text IS NULL OR im."accountId" IN (SELECT c."id" FROM "CloudAccount" c WHERE c."name" = $${a}::text OR c."id"::text = $${a}::text))
      AND ($${r}::text IS NULL OR im."registry" = $${r}::text)
      AND ($${n}::text IS NULL OR im."repository" = $${n}::text)`,
    values,
  };
}

/** Every kind bit (6 severities × fixable or not): no severity or fixable filter. */
const ALL_KINDS = (1 << (SEVERITIES.length * 2)) - 1;

/** The kind bits (see "findingKindBit" in the migration) of findings matching a severity and fixable filter. */
export function kindMask(severities: Severity[] | undefined, fixable: boolean | undefined): number {
  let mask = 0;
  for (const [rank, severity] of SEVERITIES.entries()) {
    if (severities?.length && !severities.includes(severity)) continue;
    if (fixable !== true) mask |= 1 << (rank * 2);
    if (fixable !== false) mask |= 1 << (rank * 2 + 1);
  }
  return mask;
}

const counts = (r: { critical: number; high: number; medium: number; low: number; informational: number; unknown: number }): SeverityCounts => ({
  CRITICAL: r.critical,
  HIGH: r.high,
  MEDIUM: r.medium,
  LOW: r.low,
  INFORMATIONAL: r.informational,
  UNKNOWN: r.unknown,
});

export class InventoryRepository {
  constructor(private readonly sql: SqlClient) {}

  /**
   * Vulnerabilities affecting some image now (matching `filter`), by id, a page after `cursor`
   * (the last id of the previous page); each with the count of images affected and the first
   * `imagesPer` of them.
   */
  async vulnerabilities(filter: VulnerabilityFilter, limit: number, cursor: string | undefined, imagesPer: number): Promise<VulnerabilityRow[]> {
    // Only the filters given go into the SQL: "$n IS NULL OR …" forms leave Postgres a generic
    // plan that hash-joins every current finding instead of probing the ids it needs.
    const values: unknown[] = [limit, imagesPer];
    const param = (v: unknown) => `$${values.push(v)}`;
    const page: string[] = [];
    if (filter.cve !== undefined) {
      const ids = await this.resolveIds(filter.cve);
      if (ids.length === 0) return [];
      page.push(`d."id" = ANY(${param(ids)}::text[])`);
    }
    if (cursor !== undefined) page.push(`d."id" > ${param(cursor)}::text`);
    // Severity, fixable, provider and account are answered by the maintained counts; package,
    // registry and repository only by the findings themselves.
    const counted: string[] = ['x."vulnerabilityId" = d."id"', 'x."images" > 0'];
    const kinds = kindMask(filter.severities, filter.fixable);
    if (kinds !== ALL_KINDS) counted.push(`x."kinds" & ${param(kinds)}::int <> 0`);
    if (filter.provider !== undefined) counted.push(`x."provider" = ${param(filter.provider)}::"Provider"`);
    if (filter.account !== undefined) counted.push(`x."accountId" IN (SELECT c."id" FROM "CloudAccount" c WHERE c."name" = ${param(filter.account)}::text OR c."id"::text = $${values.length}::text)`);
    const impact = `FROM "VulnerabilityImpact" x WHERE ${counted.join(' AND ')}`;
    page.push(`EXISTS (SELECT 1 ${impact})`);
    const onFinding: string[] = ['f."vulnerabilityId" = d."id"'];
    if (filter.package !== undefined) onFinding.push(`f."packageName" = ${param(filter.package)}::text`);
    if (filter.severities?.length) onFinding.push(`f."severity" = ANY(${param(filter.severities)}::"Severity"[])`);
    if (filter.fixable !== undefined) onFinding.push(filter.fixable ? 'f."fixedVersion" IS NOT NULL' : 'f."fixedVersion" IS NULL');
    const cond = [...onFinding];
    if (filter.provider !== undefined) cond.push(`im."provider" = ${param(filter.provider)}::"Provider"`);
    if (filter.account !== undefined) cond.push(`im."accountId" IN (SELECT c."id" FROM "CloudAccount" c WHERE c."name" = ${param(filter.account)}::text OR c."id"::text = $${values.length}::text)`);
    const byFindings = filter.package !== undefined || filter.registry !== undefined || filter.repository !== undefined;
    if (filter.registry !== undefined) cond.push(`im."registry" = ${param(filter.registry)}::text`);
    if (filter.repository !== undefined) cond.push(`im."repository" = ${param(filter.repository)}::text`);
    const current = `FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId" JOIN "CloudAccount" a ON a."id" = im."accountId" WHERE ${cond.join(' AND ')}`;
    // With a findings-only filter the affected-now probe is a scalar subquery with LIMIT 1 (one
    // index probe per dictionary row, never a join over the whole findings table), and the count
    // a count over the id's current findings.
    if (byFindings) page.push(`(SELECT 1 ${current} LIMIT 1) IS NOT NULL`);
    const imageCount = byFindings ? `(SELECT count(DISTINCT im."id")::int ${current})` : `(SELECT COALESCE(sum(x."images"), 0)::int ${impact})`;
    // The listed images: the most recently scanned first. Their current runs come from a walk of
    // the (vulnerabilityId, imageScanId) index backwards (a current run is one image) that stops
    // after `imagesPer`, so a common id costs its first few findings, not all of them; then each
    // image's most severe matching finding of the id, by the (imageScanId) index.
    return this.sql.rows<VulnerabilityRow>(
      `WITH page AS (SELECT d.* FROM "Vulnerability" d WHERE ${page.join(' AND ')} ORDER BY d."id" LIMIT $1)
       SELECT d."id", d."severity"::text AS severity, d."score", d."cvssVector", d."title", d."links", d."aliases",
              ${imageCount} AS "imageCount",
              COALESCE((SELECT json_agg(x) FROM (
                SELECT im."id" AS "imageId", im."provider"::text AS provider, a."name" AS account, im."registry", im."repository",
                       im."digest", im."tags", w."packageName", w."installedVersion", w."fixedVersion", w."severity"::text AS severity,
                       im."lastScanId"::text AS "lastScanId", to_char(im."lastScannedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "lastScannedAt"
                FROM (SELECT DISTINCT f."imageScanId" AS run ${current} ORDER BY 1 DESC LIMIT $2) r
                JOIN "Image" im ON im."currentImageScanId" = r.run JOIN "CloudAccount" a ON a."id" = im."accountId"
                CROSS JOIN LATERAL (SELECT f.* FROM "Finding" f WHERE f."imageScanId" = r.run AND ${onFinding.join(' AND ')}
                                    ORDER BY f."severity", f."id" LIMIT 1) w
                ORDER BY r.run DESC) x), '[]'::json) AS images
       FROM page d ORDER BY d."id"`,
      values,
    );
  }

  /** The dictionary ids `id` names: itself, or the ids it is a cloud alias of. */
  private async resolveIds(id: string): Promise<string[]> {
    const [own] = await this.sql.rows<{ id: string }>(`SELECT "id" FROM "Vulnerability" WHERE "id" = $1`, [id]);
    if (own) return [own.id];
    return (await this.sql.rows<{ id: string }>(`SELECT "id" FROM "Vulnerability" WHERE "aliases" @> ARRAY[$1::text]`, [id])).map((r) => r.id);
  }

  /** Images with their current counts, by id after `cursor`; `minRank`: worst severity at least this (0 = CRITICAL). */
  async images(filter: ImageFilter & { hasCve?: string; minRank?: number }, limit: number, cursor: string | undefined): Promise<ImageRow[]> {
    // Only the filters given go into the SQL (see `vulnerabilities`).
    const values: unknown[] = [limit];
    const param = (v: unknown) => `$${values.push(v)}`;
    const cond: string[] = [];
    if (cursor !== undefined) cond.push(`im."id" > ${param(cursor)}::uuid`);
    if (filter.hasCve !== undefined) {
      const ids = await this.resolveIds(filter.hasCve);
      if (ids.length === 0) return [];
      cond.push(`EXISTS (SELECT 1 FROM "Finding" f WHERE f."imageScanId" = im."currentImageScanId" AND f."vulnerabilityId" = ANY(${param(ids)}::text[]))`);
    }
    if (filter.provider !== undefined) cond.push(`im."provider" = ${param(filter.provider)}::"Provider"`);
    if (filter.account !== undefined) cond.push(`im."accountId" IN (SELECT c."id" FROM "CloudAccount" c WHERE c."name" = ${param(filter.account)}::text OR c."id"::text = $${values.length}::text)`);
    if (filter.registry !== undefined) cond.push(`im."registry" = ${param(filter.registry)}::text`);
    if (filter.repository !== undefined) cond.push(`im."repository" = ${param(filter.repository)}::text`);
    const where = (extra: string[]) => (cond.length + extra.length ? `WHERE ${[...cond, ...extra].join(' AND ')}` : '');
    // A worst-severity bound is one branch per worst value, each an ordered walk of the (worst,
    // id) index merged by id: a range (worst <= n) would not come out in id order.
    const images =
      filter.minRank === undefined
        ? `"Image" im JOIN "CloudAccount" a ON a."id" = im."accountId" ${where([])}`
        : `(${Array.from({ length: filter.minRank + 1 }, (_, rank) => `(SELECT im.* FROM "Image" im ${where([`im."worst" = ${rank}`])} ORDER BY im."id" LIMIT $1)`).join(' UNION ALL ')}) im
           JOIN "CloudAccount" a ON a."id" = im."accountId"`;
    return this.sql.rows<ImageRow>(`SELECT im.*, im."provider"::text AS provider, a."name" AS account FROM ${images} ORDER BY im."id" LIMIT $1`, values);
  }

  /** Severity totals by provider × account (from the images' current counts) and the top vulnerabilities by images affected. */
  async summary(filter: Pick<ImageFilter, 'provider' | 'account'>, top: number): Promise<SummaryRow> {
    const where = imageWhere(filter, 1);
    const groups = await this.sql.rows<{ provider: Provider; account: string; images: number; critical: number; high: number; medium: number; low: number; informational: number; unknown: number; fixable: number }>(
      `SELECT im."provider"::text AS provider, a."name" AS account, count(*)::int AS images, sum(im."critical")::int AS critical, sum(im."high")::int AS high,
              sum(im."medium")::int AS medium, sum(im."low")::int AS low, sum(im."informational")::int AS informational, sum(im."unknown")::int AS unknown,
              sum(im."fixable")::int AS fixable
       FROM "Image" im JOIN "CloudAccount" a ON a."id" = im."accountId" WHERE ${where.sql}
       GROUP BY 1, 2 ORDER BY 1, 2`,
      where.values,
    );
    // The top ids from the maintained counts: a few rows per id, not every current finding.
    const topRows = await this.sql.rows<{ id: string; severity: Severity; score: number | null; images: number }>(
      `SELECT t."id", d."severity"::text AS severity, d."score", t.images FROM (
         SELECT x."vulnerabilityId" AS id, sum(x."images")::int AS images FROM "VulnerabilityImpact" x
         WHERE ($1::"Provider" IS NULL OR x."provider" = $1::"Provider")
           AND ($2::text IS NULL OR x."accountId" IN (SELECT c."id" FROM "CloudAccount" c WHERE c."name" = $2::text OR c."id"::text = $2::text))
         GROUP BY 1 HAVING sum(x."images") > 0 ORDER BY 2 DESC, 1 LIMIT $3) t JOIN "Vulnerability" d ON d."id" = t."id"
       ORDER BY t.images DESC, t."id"`,
      [filter.provider ?? null, filter.account ?? null, top],
    );
    const total = { critical: 0, high: 0, medium: 0, low: 0, informational: 0, unknown: 0 };
    let images = 0;
    let fixable = 0;
    for (const g of groups) {
      images += g.images;
      fixable += g.fixable;
      for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += g[k];
    }
    return {
      images,
      findings: Object.values(total).reduce((a, b) => a + b, 0),
      fixableFindings: fixable,
      severityCounts: counts(total),
      byAccount: groups.map((g) => ({ provider: g.provider, account: g.account, images: g.images, severityCounts: counts(g), fixable: g.fixable })),
      topVulnerabilities: topRows,
    };
  }

  /** Images ordered by their current critical count, then high (the dashboard's worst-first table). */
  mostCritical(limit: number): Promise<ImageRow[]> {
    // Only images with a critical (the (worst, id) index narrows them) are sorted.
    return this.sql.rows<ImageRow>(
      `SELECT im.*, im."provider"::text AS provider, a."name" AS account FROM "Image" im JOIN "CloudAccount" a ON a."id" = im."accountId"
       WHERE im."worst" = 0 ORDER BY im."critical" DESC, im."high" DESC, im."id" LIMIT $1`,
      [limit],
    );
  }

  /**
   * Scans that failed since `since` (a deadline passed: `timed_out`), and scans still not
   * terminal that were created before `stuckBefore` (however long ago), newest first.
   */
  troubledScans(since: Date, stuckBefore: Date, limit: number): Promise<TroubledScanRow[]> {
    return this.sql.rows<TroubledScanRow>(
      `SELECT s."id", s."provider"::text AS provider, a."name" AS account, s."status"::text AS status, s."reason", s."error",
              CASE WHEN s."status" <> 'failed' THEN 'stuck' WHEN s."reason" = 'timed_out' THEN 'timed_out' ELSE 'failed' END AS problem,
              s."createdAt", s."finishedAt"
       FROM "Scan" s JOIN "CloudAccount" a ON a."id" = s."accountId"
       WHERE (s."status" = 'failed' AND s."finishedAt" >= $1)
          OR (s."status" IN ('queued', 'quota_wait', 'running', 'retrying') AND s."createdAt" < $2)
       ORDER BY COALESCE(s."finishedAt", s."createdAt") DESC, s."id" LIMIT $3`,
      [since, stuckBefore, limit],
    );
  }

  /**
   * Images of `scanId` whose run is now their current one and brings critical/high
   * vulnerabilities their previous successful run (with findings kept) did not have at
   * critical/high. A first scan of an image has no previous run: no change.
   */
  async newSevereVulnerabilities(scanId: string): Promise<ImageChange[]> {
    return this.sql.rows<ImageChange>(
      `SELECT im."id" AS "imageId", im."registry", im."repository", im."digest", im."tags", i."id"::text AS "imageScanId", prev."id"::text AS "previousImageScanId",
              json_agg(json_build_object('vulnerabilityId', f."vulnerabilityId", 'severity', f."severity", 'packageName', f."packageName",
                'installedVersion', f."installedVersion", 'fixedVersion', f."fixedVersion", 'score', f."score") ORDER BY f."severity", f."vulnerabilityId") AS "newVulnerabilities"
       FROM "ImageScan" i
       JOIN "Image" im ON im."id" = i."imageId" AND im."currentImageScanId" = i."id"
       CROSS JOIN LATERAL (SELECT p."id" FROM "ImageScan" p WHERE p."imageId" = i."imageId" AND p."id" < i."id" AND p."status" = 'succeeded' AND NOT p."findingsPruned"
                           ORDER BY p."id" DESC LIMIT 1) prev
       JOIN "Finding" f ON f."imageScanId" = i."id" AND f."severity" IN ('CRITICAL', 'HIGH')
       WHERE i."scanId" = $1::uuid
         AND NOT EXISTS (SELECT 1 FROM "Finding" g WHERE g."imageScanId" = prev."id" AND g."vulnerabilityId" = f."vulnerabilityId" AND g."severity" IN ('CRITICAL', 'HIGH'))
       GROUP BY im."id", i."id", prev."id"
       ORDER BY im."id"`,
      [scanId],
    );
  }
}

export { SEVERITIES };
