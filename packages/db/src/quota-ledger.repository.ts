import { type Provider, SCAN_STATUSES, TERMINAL_SCAN_STATUSES } from '@scanq/core';
import { SQL_NOW as NOW, type SqlClient } from './sql.js';

const OPEN = SCAN_STATUSES.filter((s) => !TERMINAL_SCAN_STATUSES.includes(s));

/** What Postgres, the ledger, knows of an account's cloud tasks while Redis has forgotten them. */
export interface OpenTasks {
  /** Open scans whose task exists or may exist at the cloud (its id recorded, the scan running, or a create intent outstanding). */
  holders: string[];
  /** Open scans without a task yet, `exceptScanId` left out: any of them may be creating one right now. */
  starting: number;
  /** scanq kept the account's slots in Redis before (markTracked): a Redis without them lost them. */
  tracked: boolean;
}

/**
 * The ledger side of a quota rebuilt after a Redis loss (Alibaba's 10 tasks per account): which
 * open scans of an account hold a task at the cloud, and whether scanq ever kept the account's
 * slots in Redis (if not, Redis lost nothing and no start can be in flight).
 */
export class QuotaLedgerRepository {
  constructor(private readonly sql: SqlClient) {}

  /** One aggregate over the (status, provider, id) index, however many scans a bulk run has queued. */
  async openTasks(provider: Provider, accountId: string, exceptScanId: string | null = null): Promise<OpenTasks> {
    const [row] = await this.sql.rows<{ holders: string[]; starting: string; tracked: boolean }>(
      `SELECT coalesce(array_agg("id"::text) FILTER (WHERE "providerTaskId" IS NOT NULL OR "status" = 'running' OR "createIntentAt" IS NOT NULL), '{}') AS "holders",
              count(*) FILTER (WHERE "providerTaskId" IS NULL AND "status" <> 'running' AND "createIntentAt" IS NULL AND "id" IS DISTINCT FROM $4::uuid) AS "starting",
              EXISTS (SELECT 1 FROM "CloudAccount" WHERE "id" = $2::uuid AND "quotaTrackedSince" IS NOT NULL) AS "tracked"
         FROM "Scan"
        WHERE "provider" = $1::"Provider" AND "accountId" = $2::uuid AND "status" = ANY($3::"ScanStatus"[])`,
      [provider, accountId, OPEN, exceptScanId],
    );
    return { holders: row?.holders ?? [], starting: Number(row?.starting ?? 0), tracked: row?.tracked ?? false };
  }

  /** Records that the account's slots are kept in Redis from now on (before they are: see openTasks' `tracked`). */
  async markTracked(accountId: string): Promise<void> {
    await this.sql.execute(`UPDATE "CloudAccount" SET "quotaTrackedSince" = ${NOW} WHERE "id" = $1::uuid AND "quotaTrackedSince" IS NULL`, [accountId]);
  }
}
