import type { SqlClient } from './sql.js';

/**
 * Bounded growth: an image keeps full findings for its newest `fullRuns` successful runs (its
 * current one always among them); older runs keep only their severity counts (ImageScan row).
 * Beyond `historyRuns` more, the counts-only rows go too. Raw payloads older than a horizon are dropped. Each call is one short statement over at most
 * `batch` runs (SKIP LOCKED: a run being completed is left for the next pass), so a prune never
 * holds many row locks or blocks completions for long.
 */
export class RetentionRepository {
  constructor(private readonly sql: SqlClient) {}

  /** Prunes one batch of runs beyond the kept ones: their findings deleted, raw dropped. Returns runs and findings pruned. */
  async pruneRuns(fullRuns: number, batch: number): Promise<{ runs: number; findings: number }> {
    const [row] = await this.sql.rows<{ runs: number; findings: number }>(
      `WITH cand AS (
         SELECT i."id" FROM "ImageScan" i JOIN "Image" im ON im."id" = i."imageId"
         WHERE NOT i."findingsPruned" AND i."imageId" IS NOT NULL AND i."id" <> im."currentImageScanId"
           AND (SELECT count(*) FROM "ImageScan" j WHERE j."imageId" = i."imageId" AND j."id" > i."id" AND j."status" = 'succeeded') >= $1::int
         ORDER BY i."findingsPruned", i."id" LIMIT $2::int
         FOR UPDATE OF i SKIP LOCKED),
       del AS (DELETE FROM "Finding" WHERE "imageScanId" IN (SELECT "id" FROM cand) RETURNING 1),
       upd AS (UPDATE "ImageScan" SET "findingsPruned" = true, "rawDropped" = true, "raw" = NULL WHERE "id" IN (SELECT "id" FROM cand) RETURNING 1)
       SELECT (SELECT count(*) FROM upd)::int AS runs, (SELECT count(*) FROM del)::int AS findings`,
      [fullRuns, batch],
    );
    return row!;
  }

  /**
   * Deletes one batch of counts-only runs (already pruned) that have at least `keptRuns` newer
   * successful runs of their image: the history beyond what is kept stops growing. Never a
   * current run, never one with findings.
   */
  async deleteRuns(keptRuns: number, batch: number): Promise<number> {
    return this.sql.execute(
      `WITH cand AS (
         SELECT i."id" FROM "ImageScan" i JOIN "Image" im ON im."id" = i."imageId"
         WHERE i."findingsPruned" AND i."id" <> im."currentImageScanId"
           AND (SELECT count(*) FROM "ImageScan" j WHERE j."imageId" = i."imageId" AND j."id" > i."id" AND j."status" = 'succeeded') >= $1::int
         ORDER BY i."findingsPruned", i."id" LIMIT $2::int
         FOR UPDATE OF i SKIP LOCKED)
       DELETE FROM "ImageScan" WHERE "id" IN (SELECT "id" FROM cand)`,
      [keptRuns, batch],
    );
  }

  /** Drops the raw payloads (the run's and its findings') of one batch of runs created before `horizon`. */
  async dropRaw(horizon: Date, batch: number): Promise<{ runs: number; findings: number }> {
    const [row] = await this.sql.rows<{ runs: number; findings: number }>(
      `WITH cand AS (
         SELECT i."id" FROM "ImageScan" i
         WHERE NOT i."rawDropped" AND i."createdAt" < $1::timestamp(3) AND i."status" NOT IN ('pending', 'scanning')
         ORDER BY i."rawDropped", i."createdAt" LIMIT $2::int
         FOR UPDATE SKIP LOCKED),
       fin AS (UPDATE "Finding" SET "raw" = '{}'::jsonb WHERE "imageScanId" IN (SELECT "id" FROM cand) AND "raw" <> '{}'::jsonb RETURNING 1),
       upd AS (UPDATE "ImageScan" SET "rawDropped" = true, "raw" = NULL WHERE "id" IN (SELECT "id" FROM cand) RETURNING 1)
       SELECT (SELECT count(*) FROM upd)::int AS runs, (SELECT count(*) FROM fin)::int AS findings`,
      [horizon.toISOString(), batch],
    );
    return row!;
  }
}
