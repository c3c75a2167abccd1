/**
 * The maintained impact counts ("VulnerabilityImpact": images each vulnerability affects now, per
 * account and per kinds of finding) as the completion statement keeps them. Each image whose
 * current run changes moves, per vulnerability id, from the row of its old kinds to the row of its
 * new ones; an unchanged image nets to zero and touches no row, so a nightly rescan that finds the
 * same vulnerabilities writes nothing here.
 *
 * Exactness under concurrent completions: the delta reads the image's current run and that run's
 * findings from the statement's snapshot, so two completions of the same image must not overlap.
 * `LOCK_IMAGES` runs first in the same transaction and takes a transaction advisory lock per image
 * key's bucket, in bucket order (no deadlock between completions sharing images); the completion statement
 * after it gets a snapshot that holds every earlier completion of those images. Count rows are
 * upserted in key order, so completions sharing common ids queue behind each other, never cycle.
 */

/**
 * Image keys share `IMAGE_LOCK_BUCKETS` advisory locks (two-key form, class `IMAGE_LOCK_CLASS`:
 * a key space apart from the one-key locks of migrations and account applies). One lock per
 * image ran out of Postgres' shared lock table (max_locks_per_transaction × max_connections,
 * 6,400 by default) on a Huawei batch completing 10,000 images at once: "out of shared memory".
 * Two images in one bucket only wait for each other; a completion holds at most 256 locks.
 */
export const IMAGE_LOCK_BUCKETS = 256;
const IMAGE_LOCK_CLASS = 0x5343_4e51; // "SCNQ"

/** $1 scan id, $2 image scan ids: the advisory locks of the images' buckets (account, registry, repository, digest), in order. */
export const LOCK_IMAGES = `SELECT count(pg_advisory_xact_lock(${IMAGE_LOCK_CLASS}, x.k))::int AS locked FROM (
    SELECT DISTINCT (hashtext(s."accountId"::text || ' ' || i."registry" || ' ' || i."repository" || ' ' || i."digest") & ${IMAGE_LOCK_BUCKETS - 1}) AS k
    FROM "ImageScan" i JOIN "Scan" s ON s."id" = i."scanId"
    WHERE i."id" = ANY($2::uuid[]) AND i."scanId" = $1 AND i."digest" IS NOT NULL
    ORDER BY 1) x`;

/**
 * CTEs of the completion statement (after its \`v\` and \`f\` recordsets; $1 is the scan id):
 * \`mine\` the run each image of this completion would make current, \`moved\` the images whose
 * current run this completion replaces (old: the run it was, null for a new image; run: the new
 * one, null when a current run is re-completed as not succeeded), \`counted\` the upsert.
 */
export const IMPACT_CTES = `
            mine AS (SELECT DISTINCT ON (i."registry", i."repository", i."digest") v.id AS run, i."registry", i."repository", i."digest"
                     FROM v JOIN "ImageScan" i ON i."id" = v.id AND i."scanId" = $1
                     WHERE v.status = 'succeeded' AND i."digest" IS NOT NULL
                     ORDER BY i."registry", i."repository", i."digest", v.id DESC),
            moved AS (SELECT mine.run, m."currentImageScanId" AS old
                      FROM mine JOIN "Scan" s ON s."id" = $1
                      LEFT JOIN "Image" m ON m."accountId" = s."accountId" AND m."registry" = mine."registry" AND m."repository" = mine."repository" AND m."digest" = mine."digest"
                      WHERE m."id" IS NULL OR mine.run >= m."currentImageScanId"
                      UNION ALL
                      SELECT NULL::uuid, m."currentImageScanId" FROM v JOIN "Image" m ON m."currentImageScanId" = v.id
                      WHERE v.status <> 'succeeded' AND NOT EXISTS (SELECT 1 FROM mine WHERE mine."registry" = m."registry" AND mine."repository" = m."repository" AND mine."digest" = m."digest")),
            delta AS (SELECT x.vid, x.kinds, sum(x.d)::int AS d FROM (
                        SELECT f.v AS vid, bit_or("findingKindBit"(f.s::"Severity", f.fv)) AS kinds, 1 AS d
                        FROM moved JOIN f ON f.i = moved.run GROUP BY moved.run, f.v
                        UNION ALL
                        -- LATERAL: an index probe per replaced run (a plain join is planned as a hash over every finding).
                        SELECT o.vid, o.kinds, -1 FROM moved CROSS JOIN LATERAL (
                          SELECT o."vulnerabilityId" AS vid, bit_or("findingKindBit"(o."severity", o."fixedVersion")) AS kinds
                          FROM "Finding" o WHERE o."imageScanId" = moved.old GROUP BY 1) o) x
                      GROUP BY x.vid, x.kinds HAVING sum(x.d) <> 0),
            counted AS (INSERT INTO "VulnerabilityImpact" AS c ("vulnerabilityId", "accountId", "provider", "kinds", "images")
                        SELECT delta.vid, s."accountId", s."provider", delta.kinds, delta.d FROM delta JOIN "Scan" s ON s."id" = $1
                        ORDER BY delta.vid, delta.kinds
                        ON CONFLICT ("vulnerabilityId", "accountId", "kinds") DO UPDATE SET "images" = c."images" + EXCLUDED."images"),`;

/**
 * The counts recomputed from every image's current findings (what the migration backfilled): for
 * an empty "VulnerabilityImpact", e.g. after loading images and findings in bulk.
 */
export const RECOUNT_IMPACT = `INSERT INTO "VulnerabilityImpact" ("vulnerabilityId", "accountId", "provider", "kinds", "images")
  SELECT x."vulnerabilityId", im."accountId", im."provider", x.kinds, count(*)::int
  FROM "Image" im
  CROSS JOIN LATERAL (SELECT f."vulnerabilityId", bit_or("findingKindBit"(f."severity", f."fixedVersion")) AS kinds
                      FROM "Finding" f WHERE f."imageScanId" = im."currentImageScanId" GROUP BY 1) x
  GROUP BY 1, 2, 3, 4`;
