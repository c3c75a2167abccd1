import { type ImageScanStatus, type NormalizedFinding, type ScanStatus, type Severity, SEVERITIES, TERMINAL_SCAN_STATUSES } from '@scanq/core';
import type { Db } from './client.js';
import { SQL_NOW as NOW, type SqlClient, UUID_TEXT as UUID, utcFromJson } from './sql.js';
import { uuidv7 } from './uuidv7.js';
import { IMPACT_CTES, LOCK_IMAGES } from './impact.sql.js';
import { Prisma, type Finding, type ImageScan, type Scan, type StreamEvent } from './generated/prisma/client.js';

export type ScanWithImages = Scan & { images: ImageScan[] };

/** How many images a scan has and their severity counts summed, whatever number were loaded. */
export interface ImageTotals {
  imageCount: number;
  critical: number;
  high: number;
  medium: number;
  low: number;
  informational: number;
  unknown: number;
}
/** A scan as a listing returns it: its first images only, with every image's totals. */
export type ListedScan = ScanWithImages & { imageTotals: ImageTotals };

export interface NewScan {
  /** Made here when absent (UUIDv7); a caller that needs the id before the insert passes one. */
  id?: string;
  /** The BullMQ job that will carry the scan, when known before the insert. */
  jobId?: string;
  provider: Scan['provider'];
  accountId: string;
  target: Record<string, unknown>;
  deadlineAt: Date;
  idempotencyKey?: string;
  requestHash?: string;
  bulkScanId?: string;
  webhookUrl?: string;
}

/** Rows per scan INSERT in bulk planning. */
const SCAN_INSERT_CHUNK = 2000;

export interface NewImageScan {
  registry: string;
  repository: string;
  tags: string[];
  digest?: string | null;
  providerImageId?: string | null;
  status?: ImageScanStatus;
  reused?: boolean;
  raw?: unknown;
}

export interface ImageResult {
  status: ImageScanStatus;
  reason?: string | null;
  scanCompletedAt?: Date | null;
  raw?: unknown;
  findings: NormalizedFinding[];
}

export type ImageCompletion = ImageResult & { imageScanId: string };

/** How a scan ends once every image is settled. */
export interface ScanEnd {
  status: 'succeeded' | 'failed';
  reason?: string | null;
  error?: string | null;
  /**
   * The start this end folds in: a first look right after the cloud call that finds every image
   * done (a reused or instant scan) records the start and the end in one statement.
   */
  start?: ScanStart;
  /**
   * Records the scan's `scan.completed` outbox row (StreamEvent) in the same statement when it
   * ends the scan, with `account` as the event's account name: the end and its event commit
   * together (no end without its event, one commit instead of three). Never for bulk members.
   */
  event?: { account: string };
}

/** What recording a scan's start writes (see `markStarted`). */
export interface ScanStart {
  providerTaskId: string | null;
  startedAt: Date;
  attempts: number;
  jobId: string;
  /** The cloud's earlier scan was reused: its images are marked so. */
  reused: boolean;
}

/** Image columns that follow its current (newest successful) run. */
const IMAGE_CURRENT_COLUMNS = ['currentImageScanId', 'lastScanId', 'lastScannedAt', 'critical', 'high', 'medium', 'low', 'informational', 'unknown', 'fixable', 'worst'] as const;

/** Rows per image INSERT. */
const IMAGE_INSERT_CHUNK = 2000;

export type ScanPatch = Partial<
  Pick<Scan, 'status' | 'reason' | 'error' | 'providerTaskId' | 'progress' | 'attempts' | 'jobId' | 'nextPollAt' | 'startedAt' | 'finishedAt'>
>;

const SEVERITY_COLUMN: Record<Severity, 'critical' | 'high' | 'medium' | 'low' | 'informational' | 'unknown'> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MEDIUM: 'medium',
  LOW: 'low',
  INFORMATIONAL: 'informational',
  UNKNOWN: 'unknown',
};

/**
 * Not at the cloud yet: queued, waiting for quota, or retrying a start that made no cloud task —
 * and no create call outstanding. A create intent without a task means a call that may have made
 * one (its answer lost, or its attempt gone mid-call): the retry will look that task up and
 * follow it, so the scan may already run at the cloud and is not cancelled under it.
 */
const NOT_STARTED = Prisma.sql`(("status" IN ('queued', 'quota_wait') OR ("status" = 'retrying' AND "providerTaskId" IS NULL)) AND "createIntentAt" IS NULL)`;
const NON_TERMINAL = (['queued', 'quota_wait', 'running', 'retrying'] as const satisfies readonly ScanStatus[]).slice();

/** Scan columns a patch may set (names are interpolated into SQL: this list is the guard). */
const PATCH_COLUMNS = new Set<keyof ScanPatch>(['status', 'reason', 'error', 'providerTaskId', 'progress', 'attempts', 'jobId', 'nextPollAt', 'startedAt', 'finishedAt']);
const PATCH_CASTS: Partial<Record<keyof ScanPatch, string>> = { status: '::"ScanStatus"', nextPollAt: '::timestamp(3)', startedAt: '::timestamp(3)', finishedAt: '::timestamp(3)' };
/** `SET` list and values for a patch, parameters numbered from `first`. */
function patchSql(patch: ScanPatch, first: number): { set: string; values: unknown[] } {
  const parts: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(patch) as [keyof ScanPatch, unknown][]) {
    if (value === undefined) continue;
    if (!PATCH_COLUMNS.has(key)) throw new Error(`not a scan patch column: ${key}`);
    values.push(value instanceof Date ? value.toISOString() : value);
    parts.push(`"${key}" = $${first + values.length - 1}${PATCH_CASTS[key] ?? ''}`);
  }
  parts.push(`"updatedAt" = ${NOW}`);
  return { set: parts.join(', '), values };
}

/** A scan row with its images as one JSON column (one round trip), ordered by id (creation order). */
const SCAN_WITH_IMAGES = `SELECT s.*, COALESCE((SELECT json_agg(i ORDER BY i."id") FROM "ImageScan" i WHERE i."scanId" = s."id"), '[]'::json) AS images FROM "Scan" s`;

type ImageJson = Omit<ImageScan, 'createdAt' | 'updatedAt' | 'scanCompletedAt'> & { createdAt: string; updatedAt: string; scanCompletedAt: string | null };

function scanFromRow(row: Scan & { images: ImageJson[] }): ScanWithImages {
  return {
    ...row,
    images: row.images.map((i) => ({ ...i, createdAt: utcFromJson(i.createdAt)!, updatedAt: utcFromJson(i.updatedAt)!, scanCompletedAt: utcFromJson(i.scanCompletedAt) })),
  };
}

/** Scans, their images and findings: the ledger every worker and API call goes through. */
export class ScanRepository {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlClient,
  ) {}

  /**
   * Inserts a scan, or returns the existing one for a repeated idempotency key
   * (`created: false`). The unique index decides races between concurrent requests.
   */
  async create(input: NewScan): Promise<{ scan: ScanWithImages; created: boolean }> {
    return (await this.createBatch([input]))[0]!;
  }

  /**
   * Several submitted scans in one statement (the API's group commit): one INSERT … SELECT FROM
   * unnest, one round trip, all or none committed. Answers in input order: the new row
   * (`created`), or for an idempotency key already taken the scan that holds it (`created:
   * false`, one more SELECT for those). Keys must be distinct within one call (the caller folds
   * repeats onto their first).
   */
  async createBatch(inputs: NewScan[]): Promise<{ scan: ScanWithImages; created: boolean }[]> {
    if (inputs.length === 0) return [];
    const ids = inputs.map((s) => s.id ?? uuidv7());
    const rows = await this.sql.rows<Scan>(
      `INSERT INTO "Scan" ("id", "provider", "accountId", "target", "deadlineAt", "idempotencyKey", "requestHash", "bulkScanId", "webhookUrl", "jobId", "createdAt", "updatedAt")
       SELECT v.id, v.provider::"Provider", v.account, v.target, v.deadline, v.key, v.hash, v.bulk, v.webhook, v.job, ${NOW}, ${NOW}
       FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::jsonb[], $5::timestamp(3)[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[])
         AS v(id, provider, account, target, deadline, key, hash, bulk, webhook, job)
       ON CONFLICT ("idempotencyKey") DO NOTHING RETURNING *`,
      [
        ids,
        inputs.map((s) => s.provider),
        inputs.map((s) => s.accountId),
        inputs.map((s) => JSON.stringify(s.target)),
        inputs.map((s) => s.deadlineAt.toISOString()),
        inputs.map((s) => s.idempotencyKey ?? null),
        inputs.map((s) => s.requestHash ?? null),
        inputs.map((s) => s.bulkScanId ?? null),
        inputs.map((s) => s.webhookUrl ?? null),
        inputs.map((s) => s.jobId ?? null),
      ],
    );
    const inserted = new Map(rows.map((r) => [r.id, r]));
    // Only an idempotency key can conflict: those inputs are answered with the first request's scan.
    const taken = inputs.filter((s, i) => !inserted.has(ids[i]!)).map((s) => s.idempotencyKey);
    const existing = new Map<string, ScanWithImages>();
    if (taken.length > 0) {
      const found = await this.sql.rows<Scan & { images: ImageJson[] }>(`${SCAN_WITH_IMAGES} WHERE s."idempotencyKey" = ANY($1::text[])`, [taken]);
      for (const row of found) existing.set(row.idempotencyKey!, scanFromRow(row));
    }
    return inputs.map((s, i) => {
      const row = inserted.get(ids[i]!);
      if (row) return { scan: { ...row, images: [] }, created: true };
      const scan = s.idempotencyKey === undefined ? undefined : existing.get(s.idempotencyKey);
      if (!scan) throw new Error(`scan with idempotency key ${s.idempotencyKey} conflicted but is gone`);
      return { scan, created: false };
    });
  }

  /**
   * Many scans in a few statements (bulk planning): one INSERT … SELECT FROM unnest per chunk,
   * ids made here (UUIDv7, like Prisma's default). Returns them in input order.
   */
  async createMany(inputs: NewScan[]): Promise<{ id: string; provider: Scan['provider'] }[]> {
    const out: { id: string; provider: Scan['provider'] }[] = [];
    for (let i = 0; i < inputs.length; i += SCAN_INSERT_CHUNK) {
      const chunk = inputs.slice(i, i + SCAN_INSERT_CHUNK);
      const ids = chunk.map(() => uuidv7());
      await this.db.$executeRaw`
        INSERT INTO "Scan" ("id", "provider", "accountId", "target", "deadlineAt", "bulkScanId", "createdAt", "updatedAt")
        SELECT v.id, v.provider::"Provider", v.account, v.target, v.deadline, v.bulk, timezone('UTC', now()), timezone('UTC', now())
        FROM unnest(${ids}::uuid[], ${chunk.map((s) => s.provider)}::text[], ${chunk.map((s) => s.accountId)}::uuid[],
                    ${chunk.map((s) => JSON.stringify(s.target))}::jsonb[], ${chunk.map((s) => s.deadlineAt)}::timestamp(3)[],
                    ${chunk.map((s) => s.bulkScanId ?? null)}::uuid[])
          AS v(id, provider, account, target, deadline, bulk)`;
      chunk.forEach((s, j) => out.push({ id: ids[j]!, provider: s.provider }));
    }
    return out;
  }

  /** Scans that have not reached the cloud (what cancelNotStarted would cancel), with their job ids. */
  async notStarted(where: { id?: string; bulkScanId?: string }): Promise<{ id: string; provider: Scan['provider']; jobId: string | null }[]> {
    if ([where.id, where.bulkScanId].some((id) => id !== undefined && !UUID.test(id))) return [];
    return this.db.$queryRaw`
      SELECT "id"::text AS id, "provider"::text AS provider, "jobId" FROM "Scan"
      WHERE (${where.id ?? null}::uuid IS NULL OR "id" = ${where.id ?? null}::uuid)
        AND (${where.bulkScanId ?? null}::uuid IS NULL OR "bulkScanId" = ${where.bulkScanId ?? null}::uuid)
        AND ${NOT_STARTED}`;
  }

  /**
   * Cancels scans that have not reached the cloud (queued, waiting for quota, or retrying a
   * start without a cloud task): cancelling them loses nothing. Scans already running are left
   * to end in their real result. Returns what it cancelled.
   */
  async cancelNotStarted(where: { id?: string; bulkScanId?: string; only?: string[] }): Promise<{ id: string; provider: Scan['provider']; jobId: string | null }[]> {
    if (where.id === undefined && where.bulkScanId === undefined) throw new Error('cancelNotStarted needs a scan id or a bulk scan id');
    if ([where.id, where.bulkScanId].some((id) => id !== undefined && !UUID.test(id))) return [];
    if (where.only?.length === 0) return [];
    // One statement, not an interactive transaction: cancelling a bulk scan's 100,000 queued
    // scans outlived Prisma's 5 s transaction timeout and failed whole. The guarded UPDATE …
    // RETURNING gives back exactly the scans it cancelled (a scan that started meanwhile is
    // neither cancelled nor reported), and their open images end with them in the same
    // statement. "finishedAt" is Postgres' now like every other finishing statement (the
    // metrics' settled bound relies on that clock). The error a waiting or retrying scan carried
    // goes: a cancelled scan has none of its own.
    return this.db.$queryRaw<{ id: string; provider: Scan['provider']; jobId: string | null }[]>`
      WITH cancelled AS (
        UPDATE "Scan" SET "status" = 'cancelled', "reason" = 'cancelled', "error" = NULL, "finishedAt" = timezone('UTC', now()), "nextPollAt" = NULL, "updatedAt" = timezone('UTC', now())
        WHERE (${where.id ?? null}::uuid IS NULL OR "id" = ${where.id ?? null}::uuid)
          AND (${where.bulkScanId ?? null}::uuid IS NULL OR "bulkScanId" = ${where.bulkScanId ?? null}::uuid)
          AND (${where.only ?? null}::uuid[] IS NULL OR "id" = ANY(${where.only ?? null}::uuid[]))
          AND ${NOT_STARTED}
        RETURNING "id", "provider", "jobId"),
      images AS (
        UPDATE "ImageScan" SET "status" = 'cancelled', "reason" = 'cancelled', "updatedAt" = timezone('UTC', now())
        WHERE "scanId" IN (SELECT "id" FROM cancelled) AND "status" IN ('pending', 'scanning'))
      SELECT "id"::text AS id, "provider"::text AS provider, "jobId" FROM cancelled`;
  }

  /** Digests (of `digests`) scanq scanned successfully on `accountId` since `since`. */
  async recentlyScannedDigests(accountId: string, digests: string[], since: Date): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db.$queryRaw<{ digest: string }[]>`
      SELECT DISTINCT i."digest" FROM "ImageScan" i JOIN "Scan" s ON s."id" = i."scanId"
      WHERE s."accountId" = ${accountId}::uuid AND i."status" = 'succeeded' AND i."scanCompletedAt" >= ${since}
        AND i."digest" = ANY(${digests}::text[])`;
    return new Set(rows.map((r) => r.digest));
  }

  async get(id: string): Promise<ScanWithImages | null> {
    if (!UUID.test(id)) return null;
    const [row] = await this.sql.rows<Scan & { images: ImageJson[] }>(`${SCAN_WITH_IMAGES} WHERE s."id" = $1`, [id]);
    return row ? scanFromRow(row) : null;
  }

  /** Cursor-paged list, newest first (ids are UUIDv7, so id order is creation order). */
  /**
   * A page of scans, newest first, each with its first `imagesPerScan` images and, from one
   * GROUP BY, every image's count and severity totals (a 10,000-image batch scan is a summary
   * in a listing, not 10,000 rows).
   */
  async list(filter: { status?: ScanStatus; provider?: Scan['provider'] }, limit: number, cursor: string | undefined, imagesPerScan: number): Promise<ListedScan[]> {
    const scans = await this.db.scan.findMany({
      where: { ...filter, ...(cursor ? { id: { lt: cursor } } : {}) },
      orderBy: { id: 'desc' },
      take: limit,
      include: { images: { orderBy: { id: 'asc' }, take: imagesPerScan } },
    });
    if (scans.length === 0) return [];
    const rows = await this.sql.rows<ImageTotals & { scanId: string }>(
      `SELECT "scanId", count(*)::int AS "imageCount", sum("critical")::int AS critical, sum("high")::int AS high, sum("medium")::int AS medium,
              sum("low")::int AS low, sum("informational")::int AS informational, sum("unknown")::int AS unknown
       FROM "ImageScan" WHERE "scanId" = ANY($1::uuid[]) GROUP BY "scanId"`,
      [scans.map((sc) => sc.id)],
    );
    const byScan = new Map(rows.map(({ scanId, ...totals }) => [scanId, totals]));
    const none: ImageTotals = { imageCount: 0, critical: 0, high: 0, medium: 0, low: 0, informational: 0, unknown: 0 };
    return scans.map((sc) => ({ ...sc, imageTotals: byScan.get(sc.id) ?? none }));
  }

  /** Sets fields of a scan (unguarded: callers that race a terminal state use `transition`). */
  async update(id: string, patch: ScanPatch): Promise<void> {
    const { set, values } = patchSql(patch, 2);
    await this.sql.execute(`UPDATE "Scan" SET ${set} WHERE "id" = $1`, [id, ...values]);
  }

  /**
   * Applies `patch` only while the scan is still in one of `from`: a guarded state transition,
   * so a late worker can never overwrite a terminal state. Returns whether it applied.
   */
  async transition(id: string, from: readonly ScanStatus[], patch: ScanPatch): Promise<boolean> {
    const { set, values } = patchSql(patch, 3);
    return (await this.sql.execute(`UPDATE "Scan" SET ${set} WHERE "id" = $1 AND "status" = ANY($2::"ScanStatus"[])`, [id, from, ...values])) === 1;
  }

  /**
   * The cloud scan is started (or reused): the guarded transition to running and every pending
   * image to scanning, in one statement. False when the scan left `from` meanwhile.
   */
  async markStarted(id: string, from: readonly ScanStatus[], patch: ScanPatch, reused: boolean): Promise<boolean> {
    const { set, values } = patchSql(patch, 4);
    const [row] = await this.sql.rows<{ n: number }>(
      `WITH s AS (UPDATE "Scan" SET ${set} WHERE "id" = $1 AND "status" = ANY($2::"ScanStatus"[]) RETURNING "id"),
            i AS (UPDATE "ImageScan" SET "status" = 'scanning', "reused" = "reused" OR $3, "updatedAt" = ${NOW}
                  WHERE "scanId" IN (SELECT "id" FROM s) AND "status" = 'pending')
       SELECT count(*)::int AS n FROM s`,
      [id, from, reused, ...values],
    );
    return row!.n === 1;
  }

  /** Ends a non-terminal scan; its unfinished images end with it (one statement, so atomic). */
  async finish(id: string, status: 'succeeded' | 'failed' | 'cancelled', fields: { reason?: string | null; error?: string | null; attempts?: number } = {}): Promise<boolean> {
    const [row] = await this.sql.rows<{ n: number }>(
      `WITH s AS (UPDATE "Scan" SET "status" = $2::"ScanStatus", "reason" = $3, "error" = $4, "finishedAt" = ${NOW}, "nextPollAt" = NULL, "attempts" = COALESCE($7, "attempts"),
                    "progress" = CASE WHEN $2 = 'succeeded' THEN 100 ELSE "progress" END, "updatedAt" = ${NOW}
                  WHERE "id" = $1 AND "status" = ANY($5::"ScanStatus"[]) RETURNING "id"),
            i AS (UPDATE "ImageScan" SET "status" = $6::"ImageScanStatus", "reason" = $3, "updatedAt" = ${NOW}
                  WHERE "scanId" IN (SELECT "id" FROM s) AND "status" IN ('pending', 'scanning'))
       SELECT count(*)::int AS n FROM s`,
      // Succeeded: every image is settled already, so the image update matches nothing.
      [id, status, fields.reason ?? null, fields.error ?? null, NON_TERMINAL, status === 'cancelled' ? 'cancelled' : 'failed', fields.attempts ?? null],
    );
    return row!.n === 1;
  }

  /**
   * Inserts a scan's images (one statement per chunk), returned in input order — only while the
   * scan is in one of `onlyWhile`: a chunk takes a share lock on the scan row, so a cancel either
   * lands first (nothing more is inserted: fewer images come back) or waits and then cancels these
   * images too. Either way no image is left pending under an ended scan.
   */
  async addImages(scanId: string, images: NewImageScan[], onlyWhile: readonly ScanStatus[] = NON_TERMINAL): Promise<ImageScan[]> {
    return this.insertImages(this.sql, scanId, images, onlyWhile);
  }

  /**
   * A scan's images as its start resolved them, stored once: the first start to get here inserts
   * them; one that comes later (or waited behind it) gets the images already stored instead of
   * adding its own copy. Two starts of one scan can overlap — a job re-added by the reconciler
   * beside one still running, or a job taken over from a worker whose lock lapsed — and each
   * resolves the images before the create guard lets only one of them call the cloud; without
   * this the scan would carry every image twice (polled twice, findings stored twice). The scan
   * row's lock, held until the images are in, orders the two. null: the scan is no longer in
   * one of `onlyWhile` (cancelled or timed out while its images were resolved).
   */
  async addResolvedImages(scanId: string, images: NewImageScan[], onlyWhile: readonly ScanStatus[]): Promise<ImageScan[] | null> {
    return this.sql.transaction(async (tx) => {
      const [scan] = await tx.rows<{ id: string }>(`SELECT "id" FROM "Scan" WHERE "id" = $1 AND "status" = ANY($2::"ScanStatus"[]) FOR UPDATE`, [scanId, onlyWhile]);
      if (!scan) return null;
      const stored = await tx.rows<ImageScan>(`SELECT * FROM "ImageScan" WHERE "scanId" = $1 ORDER BY "id"`, [scanId]);
      if (stored.length > 0) return stored;
      return this.insertImages(tx, scanId, images, onlyWhile);
    });
  }

  private async insertImages(sql: Pick<SqlClient, 'rows'>, scanId: string, images: NewImageScan[], onlyWhile: readonly ScanStatus[]): Promise<ImageScan[]> {
    const created: ImageScan[] = [];
    for (let i = 0; i < images.length; i += IMAGE_INSERT_CHUNK) {
      const chunk = images.slice(i, i + IMAGE_INSERT_CHUNK).map((img) => ({
        id: uuidv7(),
        registry: img.registry,
        repository: img.repository,
        tags: img.tags,
        digest: img.digest ?? null,
        providerImageId: img.providerImageId ?? null,
        status: img.status ?? 'pending',
        reused: img.reused ?? false,
        ...(img.raw === undefined ? {} : { raw: img.raw }),
      }));
      const rows = await sql.rows<ImageScan>(
        `INSERT INTO "ImageScan" ("id", "scanId", "registry", "repository", "tags", "digest", "providerImageId", "status", "reused", "raw", "createdAt", "updatedAt")
         SELECT v.id, $1, v.registry, v.repository, ARRAY(SELECT jsonb_array_elements_text(v.tags)), v.digest, v."providerImageId",
                v.status::"ImageScanStatus", v.reused, v.raw, ${NOW}, ${NOW}
         FROM jsonb_to_recordset($2::jsonb) AS v(id uuid, registry text, repository text, tags jsonb, digest text, "providerImageId" text, status text, reused boolean, raw jsonb)
         WHERE EXISTS (SELECT 1 FROM "Scan" s WHERE s."id" = $1 AND s."status" = ANY($3::"ScanStatus"[]) FOR SHARE)
         RETURNING *`,
        [scanId, JSON.stringify(chunk), onlyWhile],
      );
      if (rows.length === 0) break; // the scan ended meanwhile
      // UUIDv7 ids are made in input order, so sorting by id restores it.
      created.push(...rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    }
    return created;
  }

  /** Images of many scans in a few statements (bulk planning knows them from the inventory). */
  async addImagesToScans(images: (NewImageScan & { scanId: string })[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < images.length; i += IMAGE_INSERT_CHUNK) {
      const chunk = images.slice(i, i + IMAGE_INSERT_CHUNK);
      n += await this.db.$executeRaw`
        INSERT INTO "ImageScan" ("id", "scanId", "registry", "repository", "tags", "digest", "providerImageId", "status", "reused", "raw", "createdAt", "updatedAt")
        SELECT v.id, v.scan, v.registry, v.repository, ARRAY(SELECT jsonb_array_elements_text(v.tags)), v.digest, v.pid,
               v.status::"ImageScanStatus", v.reused, v.raw, timezone('UTC', now()), timezone('UTC', now())
        FROM unnest(${chunk.map(() => uuidv7())}::uuid[], ${chunk.map((c) => c.scanId)}::uuid[], ${chunk.map((c) => c.registry)}::text[],
                    ${chunk.map((c) => c.repository)}::text[], ${chunk.map((c) => JSON.stringify(c.tags))}::jsonb[], ${chunk.map((c) => c.digest ?? null)}::text[],
                    ${chunk.map((c) => c.providerImageId ?? null)}::text[], ${chunk.map((c) => c.status ?? 'pending')}::text[],
                    ${chunk.map((c) => c.reused ?? false)}::boolean[], ${chunk.map((c) => (c.raw === undefined ? null : JSON.stringify(c.raw)))}::jsonb[])
          AS v(id, scan, registry, repository, tags, digest, pid, status, reused, raw)`;
    }
    return n;
  }

  /**
   * Scans an interrupted planning attempt inserted (never enqueued): a re-plan starts clean.
   * With `accountId`, that account's only (its listing failed after some pages were planned).
   */
  async deleteUnplannedBulkScans(bulkScanId: string, accountId?: string): Promise<number> {
    return (await this.db.scan.deleteMany({ where: { bulkScanId, status: 'queued', ...(accountId ? { accountId } : {}) } })).count;
  }

  /**
   * The queued scans of a bulk scan, `pageSize` at a time, through one server-side cursor: one
   * pass over the bulk's rows whatever their number (a keyset by id would sort them per page),
   * and never more than a page in this process. The cursor's transaction reads one snapshot.
   */
  async *queuedBulkScanPages(bulkScanId: string, pageSize: number): AsyncIterable<{ id: string; provider: Scan['provider'] }[]> {
    if (!UUID.test(bulkScanId)) return;
    const client = await this.sql.pool.connect();
    let open = false;
    let broken = false;
    try {
      await client.query('BEGIN READ ONLY');
      open = true;
      await client.query(`DECLARE queued_bulk_scans NO SCROLL CURSOR FOR SELECT "id"::text AS id, "provider"::text AS provider FROM "Scan" WHERE "bulkScanId" = $1::uuid AND "status" = 'queued'`, [bulkScanId]);
      for (;;) {
        const { rows } = await client.query<{ id: string; provider: Scan['provider'] }>(`FETCH ${Math.max(1, Math.floor(pageSize))} FROM queued_bulk_scans`);
        if (rows.length > 0) yield rows;
        if (rows.length < pageSize) break;
      }
      await client.query('COMMIT');
      open = false;
    } finally {
      // An error, or a consumer that stopped early: the transaction is rolled back before the
      // connection goes back; one that cannot even roll back is dropped.
      if (open) await client.query('ROLLBACK').catch(() => (broken = true));
      client.release(broken);
    }
  }

  /** Whether any scan of the bulk scan is still open (an index probe, not a count). */
  async bulkHasOpenScans(bulkScanId: string): Promise<boolean> {
    const open = await this.db.scan.findFirst({ where: { bulkScanId, status: { in: NON_TERMINAL } }, select: { id: true } });
    return open !== null;
  }

  /** The worst findings of a bulk scan: most severe first, then highest score. */
  worstFindings(bulkScanId: string, limit: number): Promise<{ vulnerabilityId: string; severity: Severity; score: number | null; packageName: string | null; repository: string; digest: string | null; scanId: string }[]> {
    return this.db.$queryRaw`
      SELECT f."vulnerabilityId", f."severity"::text AS severity, f."score", f."packageName", i."repository", i."digest", f."scanId"::text AS "scanId"
      FROM "Finding" f JOIN "ImageScan" i ON i."id" = f."imageScanId" JOIN "Scan" s ON s."id" = f."scanId"
      WHERE s."bulkScanId" = ${bulkScanId}::uuid
      ORDER BY array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','INFORMATIONAL','UNKNOWN']::text[], f."severity"::text), f."score" DESC NULLS LAST, f."id"
      LIMIT ${limit}`;
  }

  /** Stores one image's outcome (see `completeImages`). */
  async completeImage(scanId: string, imageScanId: string, result: ImageResult): Promise<void> {
    await this.completeImages(scanId, [{ imageScanId, ...result }]);
  }

  /**
   * Stores many images' outcomes: their findings, the severity counts derived from them and
   * each final status; with `finish`, also ends the scan (guarded like `finish`) when these were
   * its last open images, and with `finish.start` also records its start. One statement
   * (data-modifying CTEs) after the images' locks in the same transaction, whatever the number of
   * images and findings: rows travel as
   * one JSON document each, unpacked by Postgres. Returns whether it ended the scan.
   */
  async completeImages(scanId: string, results: ImageCompletion[], finish?: ScanEnd): Promise<boolean> {
    return (await this.completeImagesEnding(scanId, results, finish)).ended;
  }

  /**
   * `completeImages`, also handing back the `scan.completed` outbox row it recorded
   * (`finish.event`; null when it did not end the scan, or the row was there already).
   */
  async completeImagesEnding(scanId: string, results: ImageCompletion[], finish?: ScanEnd): Promise<{ ended: boolean; event: StreamEvent | null }> {
    if (results.length === 0) return { ended: finish ? await this.finish(scanId, finish.status, finish) : false, event: null };
    const images = results.map((r) => {
      const c = { critical: 0, high: 0, medium: 0, low: 0, informational: 0, unknown: 0, fixable: 0, worst: SEVERITIES.length as number };
      for (const f of r.findings) {
        c[SEVERITY_COLUMN[f.severity]] += 1;
        if (f.fixedVersion) c.fixable += 1;
        c.worst = Math.min(c.worst, SEVERITIES.indexOf(f.severity));
      }
      return { id: r.imageScanId, status: r.status, reason: r.reason ?? null, completed: r.scanCompletedAt?.toISOString() ?? null, ...(r.raw === undefined ? {} : { raw: r.raw }), ...c };
    });
    const findings = results.flatMap((r) =>
      r.findings.map((f) => ({
        i: r.imageScanId,
        v: f.vulnerabilityId,
        s: f.severity,
        ps: f.providerSeverity,
        p: f.packageName ?? null,
        iv: f.installedVersion ?? null,
        fv: f.fixedVersion ?? null,
        t: f.title ?? null,
        l: f.link ?? null,
        sc: f.score ?? null,
        cv: f.cvssVector ?? null,
        pv: f.providerVulnerabilityId ?? null,
        ls: f.links ?? (f.link ? [f.link] : []),
        r: f.raw ?? {},
      })),
    );
    // The old findings go by an id array, not a join on v: Postgres plans jsonb_to_recordset as
    // 100 rows whatever it holds, which made this DELETE a hash join over all of "Finding".
    // The inventory rides on the same statement: each succeeded image with a digest upserts its
    // Image row, whose current run moves to this one when it is the newer (ids are UUIDv7; the same
    // run completed again refreshes the counts), and
    // the findings' ids enter the dictionary. Nothing is copied per image: current findings are
    // this run's Finding rows, found through Image."currentImageScanId".
    // The maintained impact counts ride on it too (see impact.sql.ts): their delta needs the
    // images' advisory locks taken first, in the same transaction.
    const [row] = await this.sql.transaction(async (tx) => {
      await tx.rows(LOCK_IMAGES, [scanId, images.map((i) => i.id)]);
      return tx.rows<{ ended: number } & (StreamEvent | { [K in keyof StreamEvent]: null })>(
      `WITH v AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS v(id uuid, status text, reason text, completed timestamp(3), raw jsonb,
                    critical int, high int, medium int, low int, informational int, unknown int, fixable int, worst int)),
            f AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS f(i uuid, v text, s text, ps text, p text, iv text, fv text, t text, l text, sc float8,
                    cv text, pv text, ls text[], r jsonb)),${IMPACT_CTES}
            gone AS (DELETE FROM "Finding" WHERE "imageScanId" = ANY($8::uuid[])),
            added AS (INSERT INTO "Finding" ("scanId", "imageScanId", "vulnerabilityId", "severity", "providerSeverity", "packageName",
                        "installedVersion", "fixedVersion", "title", "link", "score", "cvssVector", "providerVulnerabilityId", "raw", "createdAt")
                      SELECT $1, f.i, f.v, f.s::"Severity", f.ps, f.p, f.iv, f.fv, f.t, f.l, f.sc, f.cv, f.pv, f.r, ${NOW} FROM f),
            dict AS (INSERT INTO "Vulnerability" AS d ("id", "severity", "score", "cvssVector", "title", "links", "aliases", "createdAt", "updatedAt")
                     SELECT DISTINCT ON (f.v) f.v, f.s::"Severity", f.sc, f.cv, f.t, f.ls, CASE WHEN f.pv IS NULL THEN '{}'::text[] ELSE ARRAY[f.pv] END, ${NOW}, ${NOW}
                     -- A LATERAL lookup with LIMIT 1, not NOT EXISTS: Postgres guesses 100 rows for the recordset and
                     -- plans NOT EXISTS as a hash anti-join over the whole dictionary (a seq scan that grows with every
                     -- CVE seen: 92% of the completion's time in the spine bench); this is one primary-key probe per finding.
                     FROM f LEFT JOIN LATERAL (SELECT true AS known, k."score", k."cvssVector", k."aliases" FROM "Vulnerability" k WHERE k."id" = f.v LIMIT 1) k ON true
                     -- A known id with nothing to add is skipped before the upsert: ON CONFLICT would lock its row,
                     -- serializing every completion that sees a common CVE. Only gaps are filled.
                     WHERE k.known IS NULL OR NOT ((k."score" IS NOT NULL OR f.sc IS NULL) AND (k."cvssVector" IS NOT NULL OR f.cv IS NULL)
                                                   AND (f.pv IS NULL OR f.pv = ANY(k."aliases")))
                     ORDER BY f.v, f.sc DESC NULLS LAST
                     ON CONFLICT ("id") DO UPDATE SET "score" = COALESCE(d."score", EXCLUDED."score"), "cvssVector" = COALESCE(d."cvssVector", EXCLUDED."cvssVector"),
                       "aliases" = ARRAY(SELECT DISTINCT a FROM unnest(d."aliases" || EXCLUDED."aliases") a ORDER BY a), "updatedAt" = ${NOW}
                     WHERE (d."score" IS NULL AND EXCLUDED."score" IS NOT NULL) OR (d."cvssVector" IS NULL AND EXCLUDED."cvssVector" IS NOT NULL)
                        OR NOT (EXCLUDED."aliases" <@ d."aliases")),
            img AS (INSERT INTO "Image" AS m ("id", "provider", "accountId", "registry", "repository", "digest", "tags", "currentImageScanId", "lastScanId",
                      "lastScannedAt", "critical", "high", "medium", "low", "informational", "unknown", "fixable", "worst", "createdAt", "updatedAt")
                    SELECT DISTINCT ON (i."registry", i."repository", i."digest") gen_random_uuid(), s."provider", s."accountId", i."registry", i."repository",
                      i."digest", i."tags", v.id, $1, COALESCE(v.completed, ${NOW}), v.critical, v.high, v.medium, v.low, v.informational, v.unknown,
                      v.fixable, v.worst, ${NOW}, ${NOW}
                    FROM v JOIN "ImageScan" i ON i."id" = v.id AND i."scanId" = $1 JOIN "Scan" s ON s."id" = $1
                    WHERE v.status = 'succeeded' AND i."digest" IS NOT NULL
                    ORDER BY i."registry", i."repository", i."digest", v.id DESC
                    ON CONFLICT ("accountId", "registry", "repository", "digest") DO UPDATE SET
                      "tags" = ARRAY(SELECT DISTINCT t FROM unnest(m."tags" || EXCLUDED."tags") t ORDER BY t),
                      ${IMAGE_CURRENT_COLUMNS.map((c) => `"${c}" = CASE WHEN EXCLUDED."currentImageScanId" >= m."currentImageScanId" THEN EXCLUDED."${c}" ELSE m."${c}" END`).join(', ')},
                      "updatedAt" = ${NOW}
                    RETURNING m."id", m."registry", m."repository", m."digest"),
            settled AS (UPDATE "ImageScan" AS i SET
                          "status" = v.status::"ImageScanStatus", "reason" = v.reason, "progress" = 100, "scanCompletedAt" = v.completed,
                          "raw" = COALESCE(v.raw, i."raw"), "critical" = v.critical, "high" = v.high, "medium" = v.medium, "low" = v.low,
                          "informational" = v.informational, "unknown" = v.unknown, "reused" = i."reused" OR $13,
                          "imageId" = (SELECT img."id" FROM img WHERE v.status = 'succeeded' AND img."registry" = i."registry" AND img."repository" = i."repository" AND img."digest" = i."digest"),
                          "updatedAt" = ${NOW}
                        FROM v WHERE i."id" = v.id AND i."scanId" = $1
                        RETURNING i."id", i."repository", i."digest", i."tags", i."status", i."critical", i."high", i."medium", i."low", i."informational", i."unknown"),
            ended AS (UPDATE "Scan" SET "status" = $4::"ScanStatus", "reason" = $5, "error" = $6, "finishedAt" = ${NOW}, "nextPollAt" = NULL,
                        "progress" = CASE WHEN $4 = 'succeeded' THEN 100 ELSE "progress" END,
                        "providerTaskId" = COALESCE($9, "providerTaskId"), "startedAt" = COALESCE("startedAt", $10::timestamp(3)),
                        "attempts" = COALESCE($11::int, "attempts"), "jobId" = COALESCE($12, "jobId"), "updatedAt" = ${NOW}
                      WHERE $4::text IS NOT NULL AND "id" = $1 AND "status" = ANY($7::"ScanStatus"[]) RETURNING "id", "provider", "bulkScanId"),
            -- The outbox row of the end, with scanCompletedPayload's shape (webhook.service.ts): the
            -- images as stored once this statement is done, those it settled from its RETURNING
            -- (a CTE's writes are invisible to the statement's other reads), the rest as they were.
            ev AS (INSERT INTO "StreamEvent" ("id", "key", "event", "scanId", "payload", "createdAt")
                   SELECT $14::uuid, 'scan.completed:' || e."id", 'scan.completed', e."id",
                          jsonb_build_object('event', 'scan.completed', 'scan', jsonb_build_object('id', e."id", 'provider', e."provider", 'account', $15::text,
                            'status', $4::text, 'reason', $5::text, 'images', (
                              SELECT COALESCE(jsonb_agg(jsonb_build_object('repository', x."repository", 'digest', x."digest", 'tags', to_jsonb(x."tags"), 'status', x."status",
                                       'severityCounts', jsonb_build_object('CRITICAL', x."critical", 'HIGH', x."high", 'MEDIUM', x."medium", 'LOW', x."low",
                                         'INFORMATIONAL', x."informational", 'UNKNOWN', x."unknown")) ORDER BY x."id"), '[]'::jsonb)
                              FROM (SELECT * FROM settled
                                    UNION ALL
                                    SELECT o."id", o."repository", o."digest", o."tags", o."status", o."critical", o."high", o."medium", o."low", o."informational", o."unknown"
                                    FROM "ImageScan" o WHERE o."scanId" = $1 AND o."id" <> ALL($8::uuid[])) x))),
                          ${NOW}
                   FROM ended e WHERE $15::text IS NOT NULL AND e."bulkScanId" IS NULL
                   ON CONFLICT ("key") DO NOTHING RETURNING *)
       SELECT (SELECT count(*)::int FROM ended) AS ended, ev.* FROM (SELECT 1) one LEFT JOIN ev ON true`,
      [
        scanId,
        JSON.stringify(images),
        JSON.stringify(findings),
        finish?.status ?? null,
        finish?.reason ?? null,
        finish?.error ?? null,
        NON_TERMINAL,
        images.map((i) => i.id),
        finish?.start?.providerTaskId ?? null,
        finish?.start?.startedAt.toISOString() ?? null,
        finish?.start?.attempts ?? null,
        finish?.start?.jobId ?? null,
        finish?.start?.reused ?? false,
        uuidv7(),
        finish?.event?.account ?? null,
      ],
    );
    });
    const { ended, ...event } = row!;
    return { ended: ended === 1, event: event.id ? (event as StreamEvent) : null };
  }

  /**
   * Progress of images still scanning, many at once (one statement). Only open images move: one
   * a cancel or time-out ended while the cloud was being asked stays ended.
   */
  async updateImagesProgress(updates: { imageScanId: string; progress?: number; raw?: unknown }[]): Promise<void> {
    if (updates.length === 0) return;
    await this.sql.execute(
      `UPDATE "ImageScan" AS i SET
         "status" = 'scanning', "progress" = COALESCE(v.progress, i."progress"), "raw" = COALESCE(v.raw, i."raw"), "updatedAt" = ${NOW}
       FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, progress int, raw jsonb)
       WHERE i."id" = v.id AND i."status" IN ('pending', 'scanning')`,
      [JSON.stringify(updates.map((u) => ({ id: u.imageScanId, progress: u.progress ?? null, ...(u.raw === undefined ? {} : { raw: u.raw }) })))],
    );
  }

  /** Findings of a scan, cursor-paged by id, optionally only some severities. */
  findings(scanId: string, options: { severities?: Severity[]; limit: number; cursor?: bigint }): Promise<Finding[]> {
    return this.db.finding.findMany({
      where: {
        scanId,
        ...(options.severities?.length ? { severity: { in: options.severities } } : {}),
        ...(options.cursor !== undefined ? { id: { gt: options.cursor } } : {}),
      },
      orderBy: { id: 'asc' },
      take: options.limit,
    });
  }

  exists(id: string): Promise<boolean> {
    return this.db.scan.count({ where: { id } }).then((n) => n > 0);
  }

  /** Non-terminal scans not touched for `idleMs`, oldest first: the reconciler's work list. */
  /** Open scans idle for `idleMs`, oldest first, a page at a time (`after`: the last one of the previous page). */
  findStale(idleMs: number, limit: number, after?: { updatedAt: Date; id: string }): Promise<Scan[]> {
    // Scans of a bulk scan still planning have no job yet by design (the planner enqueues them
    // once the plan is recorded, or a re-plan deletes them): they are not lost.
    const idle = { status: { in: NON_TERMINAL }, updatedAt: { lt: new Date(Date.now() - idleMs) }, OR: [{ bulkScanId: null }, { bulkScan: { is: { status: { not: 'planning' as const } } } }] };
    return this.db.scan.findMany({
      where: after ? { AND: [idle, { OR: [{ updatedAt: { gt: after.updatedAt } }, { updatedAt: after.updatedAt, id: { gt: after.id } }] }] } : idle,
      orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
  }

  findPastDeadline(now: Date, limit: number): Promise<Scan[]> {
    return this.db.scan.findMany({
      where: { status: { in: NON_TERMINAL }, deadlineAt: { lt: now } },
      orderBy: { deadlineAt: 'asc' },
      take: limit,
    });
  }

  /** Marks a scan as touched (updatedAt) without changing anything else. */
  touch(id: string): Promise<unknown> {
    return this.db.scan.updateMany({ where: { id }, data: { updatedAt: new Date() } });
  }
}

export { TERMINAL_SCAN_STATUSES, SEVERITIES };
