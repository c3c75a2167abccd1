import type { ScanStatus } from '@scanq/core';
import { SQL_NOW as NOW, type SqlClient } from './sql.js';

/** A scan's create intent as Postgres holds it now (ages on Postgres' clock, so worker clocks never matter). */
export interface CreateIntent {
  /** When the last create call was about to be sent; null when none is outstanding. */
  at: Date | null;
  /** The job lock token of the attempt whose call may still be in flight; null once it answered. */
  owner: string | null;
  /** ms since `at` on Postgres' clock (0 when there is no intent). */
  ageMs: number;
  /** The recorded cloud task: once set, nothing is created any more. */
  providerTaskId: string | null;
  status: ScanStatus;
}

/**
 * The write-ahead record of a cloud create call (design: "Side effects at the cloud, exactly
 * once"): recorded before the call, compare-and-set, so of two attempts racing on one scan only
 * one sends; answered by the task id (markStarted), cleared after a definite refusal, or left
 * for the next attempt to look the task up at the cloud.
 */
export class CreateIntentRepository {
  constructor(private readonly sql: SqlClient) {}

  async get(scanId: string): Promise<CreateIntent | null> {
    const [row] = await this.sql.rows<{ at: Date | null; owner: string | null; ageMs: number | null; providerTaskId: string | null; status: ScanStatus }>(
      `SELECT "createIntentAt" AS at, "createOwner" AS owner, "providerTaskId", "status",
              (EXTRACT(EPOCH FROM (${NOW} - "createIntentAt")) * 1000)::float8 AS "ageMs"
         FROM "Scan" WHERE "id" = $1`,
      [scanId],
    );
    return row ? { ...row, ageMs: Math.max(0, row.ageMs ?? 0) } : null;
  }

  /**
   * The common case in one round trip: records the intent for `owner` when none is outstanding
   * (as `claim` with `expected` null), else hands back the intent as it stands for the caller to
   * judge (`get`). `claimedAt` null with an intent whose `at` is null: another attempt claimed
   * between this statement's read and its write.
   */
  async claimIfNone(scanId: string, owner: string, active: readonly ScanStatus[]): Promise<{ claimedAt: Date | null; intent: CreateIntent | null }> {
    const [row] = await this.sql.rows<{ at: Date | null; owner: string | null; ageMs: number | null; providerTaskId: string | null; status: ScanStatus; claimedAt: Date | null }>(
      `WITH cur AS (SELECT "createIntentAt" AS at, "createOwner" AS owner, "providerTaskId", "status",
                           (EXTRACT(EPOCH FROM (${NOW} - "createIntentAt")) * 1000)::float8 AS "ageMs"
                      FROM "Scan" WHERE "id" = $1),
            claimed AS (UPDATE "Scan" SET "createIntentAt" = ${NOW}, "createOwner" = $2, "updatedAt" = ${NOW}
                         WHERE "id" = $1 AND "status" = ANY($3::"ScanStatus"[]) AND "providerTaskId" IS NULL AND "createIntentAt" IS NULL
                         RETURNING "createIntentAt" AS at)
       SELECT cur.*, claimed.at AS "claimedAt" FROM cur LEFT JOIN claimed ON true`,
      [scanId, owner, active],
    );
    if (!row) return { claimedAt: null, intent: null };
    const { claimedAt, ...intent } = row;
    return { claimedAt, intent: { ...intent, ageMs: Math.max(0, intent.ageMs ?? 0) } };
  }

  /**
   * Records the intent for `owner`, only while the scan is active, has no task, and its intent is
   * still `expected` (what this attempt read). Returns the recorded time, or null when another
   * attempt got there first.
   */
  async claim(scanId: string, owner: string, expected: Date | null, active: readonly ScanStatus[]): Promise<Date | null> {
    const [row] = await this.sql.rows<{ at: Date }>(
      `UPDATE "Scan" SET "createIntentAt" = ${NOW}, "createOwner" = $2, "updatedAt" = ${NOW}
        WHERE "id" = $1 AND "status" = ANY($3::"ScanStatus"[]) AND "providerTaskId" IS NULL
          AND "createIntentAt" IS NOT DISTINCT FROM $4::timestamp(3)
        RETURNING "createIntentAt" AS at`,
      [scanId, owner, active, expected ? expected.toISOString() : null],
    );
    return row?.at ?? null;
  }

  /** The call answered with an error that may hide a created task: the next attempt looks it up at once. */
  async answered(scanId: string, owner: string): Promise<void> {
    await this.sql.execute(`UPDATE "Scan" SET "createOwner" = NULL WHERE "id" = $1 AND "createOwner" = $2 AND "providerTaskId" IS NULL`, [scanId, owner]);
  }

  /** The cloud refused outright (nothing created), or the lookup found nothing: no intent is outstanding. */
  async clear(scanId: string, expected: Date | null): Promise<void> {
    await this.sql.execute(
      `UPDATE "Scan" SET "createIntentAt" = NULL, "createOwner" = NULL WHERE "id" = $1 AND "providerTaskId" IS NULL AND "createIntentAt" IS NOT DISTINCT FROM $2::timestamp(3)`,
      [scanId, expected ? expected.toISOString() : null],
    );
  }
}
