import type { Db } from './client.js';
import { SQL_NOW as NOW, type SqlClient } from './sql.js';

export interface WindowKey {
  accountId: string;
  registry: string;
  repository: string;
  digest: string;
}

/**
 * The durable record of "when was a scan of this digest last requested" (AWS's one scan per
 * image per 24 h). Redis holds the fast cross-process claim; this table survives a Redis loss.
 */
export class ImageScanWindowRepository {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlClient,
  ) {}

  get(key: WindowKey) {
    return this.db.imageScanWindow.findUnique({ where: { accountId_registry_repository_digest: key } });
  }

  /**
   * Records a request by `scanId` at `at`, unless another scan already requested this digest
   * within `windowMs`. Atomic (one INSERT … ON CONFLICT … WHERE), so two workers can never both
   * get `true` inside one window. The same scan asking again (a retry) gets `true`.
   */
  async claim(key: WindowKey, scanId: string | null, at: Date, windowMs: number): Promise<boolean> {
    const rows = await this.sql.rows(
      `INSERT INTO "ImageScanWindow" ("accountId", "registry", "repository", "digest", "lastRequestedAt", "scanId", "createdAt", "updatedAt")
       VALUES ($1, $2, $3, $4, $5::timestamp(3), $6, ${NOW}, ${NOW})
       ON CONFLICT ("accountId", "registry", "repository", "digest") DO UPDATE
         SET "lastRequestedAt" = EXCLUDED."lastRequestedAt", "scanId" = EXCLUDED."scanId", "updatedAt" = ${NOW}
         WHERE "ImageScanWindow"."lastRequestedAt" < $7::timestamp(3)
            OR ("ImageScanWindow"."scanId" IS NOT NULL AND "ImageScanWindow"."scanId" = EXCLUDED."scanId")
       RETURNING 1`,
      [key.accountId, key.registry, key.repository, key.digest, at.toISOString(), scanId, new Date(at.getTime() - windowMs).toISOString()],
    );
    return rows.length === 1;
  }

  /**
   * Records a scan the cloud reports (scan-on-push, or ours seen completing), if newer than what
   * we know; the scan that requested it, if any, stays recorded.
   */
  async recordSeen(key: WindowKey, at: Date): Promise<void> {
    await this.sql.execute(
      `INSERT INTO "ImageScanWindow" ("accountId", "registry", "repository", "digest", "lastRequestedAt", "scanId", "createdAt", "updatedAt")
       VALUES ($1, $2, $3, $4, $5::timestamp(3), NULL, ${NOW}, ${NOW})
       ON CONFLICT ("accountId", "registry", "repository", "digest") DO UPDATE
         SET "lastRequestedAt" = EXCLUDED."lastRequestedAt", "updatedAt" = ${NOW}
         WHERE "ImageScanWindow"."lastRequestedAt" < EXCLUDED."lastRequestedAt"`,
      [key.accountId, key.registry, key.repository, key.digest, at.toISOString()],
    );
  }

  /** Drops our claim when the cloud refused the start outright (the image was never scanned). */
  async release(key: WindowKey, scanId: string): Promise<void> {
    await this.db.imageScanWindow.deleteMany({ where: { ...key, scanId } });
  }

  /** Images of an account whose window is still closed (scanned after `since`), soonest to open first. */
  async inWindow(accountId: string, since: Date, limit: number): Promise<{ total: number; soonest: { repository: string; digest: string; lastRequestedAt: Date }[] }> {
    const where = { accountId, lastRequestedAt: { gt: since } };
    const [total, soonest] = await Promise.all([
      this.db.imageScanWindow.count({ where }),
      this.db.imageScanWindow.findMany({ where, orderBy: { lastRequestedAt: 'asc' }, take: limit, select: { repository: true, digest: true, lastRequestedAt: true } }),
    ]);
    return { total, soonest };
  }
}
