import { type ImageScanStatus, type NormalizedFinding, type ScanStatus, type Severity, SEVERITIES, TERMINAL_SCAN_STATUSES } from '@scanq/core';
import type { Db } from './client.js';
import { uuidv7 } from './uuidv7.js';
import { Prisma, type Finding, type ImageScan, type Scan } from './generated/prisma/client.js';

export type ScanWithImages = Scan & { images: ImageScan[] };

export interface NewScan {
  provider: Scan['provider'];
  accountId: string;
  target: Record<string, unknown>;
  deadlineAt: Date;
  idempotencyKey?: string;
  requestHash?: string;
  bulkScanId?: string;
  webhookUrl?: string;
}

/** Scans not started at the cloud yet: cancelling them loses nothing. */
const NOT_STARTED: Prisma.ScanWhereInput = { OR: [{ status: { in: ['queued', 'quota_wait'] } }, { status: 'retrying', providerTaskId: null }] };

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

/** Rows per findings INSERT: 12 columns each stays far below Postgres' 65,535 bind parameters. */
const FINDING_INSERT_CHUNK = 2000;
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

const NON_TERMINAL = (['queued', 'quota_wait', 'running', 'retrying'] as const satisfies readonly ScanStatus[]).slice();

/** Scans, their images and findings: the ledger every worker and API call goes through. */
export class ScanRepository {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a scan, or returns the existing one for a repeated idempotency key
   * (`created: false`). The unique index decides races between concurrent requests.
   */
  async create(input: NewScan): Promise<{ scan: ScanWithImages; created: boolean }> {
    try {
      const scan = await this.db.scan.create({
        data: { ...input, target: input.target as Prisma.InputJsonValue },
        include: { images: true },
      });
      return { scan, created: true };
    } catch (err) {
      if (input.idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        const existing = await this.db.scan.findUnique({ where: { idempotencyKey: input.idempotencyKey }, include: { images: true } });
        if (existing) return { scan: existing, created: false };
      }
      throw err;
    }
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
        INSERT INTO "Scan" ("id", "provider", "accountId", "target", "deadlineAt", "bulkScanId", "updatedAt")
        SELECT v.id, v.provider::"Provider", v.account, v.target, v.deadline, v.bulk, now()
        FROM unnest(${ids}::uuid[], ${chunk.map((s) => s.provider)}::text[], ${chunk.map((s) => s.accountId)}::uuid[],
                    ${chunk.map((s) => JSON.stringify(s.target))}::jsonb[], ${chunk.map((s) => s.deadlineAt)}::timestamp(3)[],
                    ${chunk.map((s) => s.bulkScanId ?? null)}::uuid[])
          AS v(id, provider, account, target, deadline, bulk)`;
      chunk.forEach((s, j) => out.push({ id: ids[j]!, provider: s.provider }));
    }
    return out;
  }

  /**
   * Cancels scans that have not reached the cloud (queued, waiting for quota, or retrying a
   * start); scans already running are left to end in their real result. Returns what it cancelled.
   */
  async cancelNotStarted(where: { id?: string; bulkScanId?: string }): Promise<{ id: string; provider: Scan['provider']; jobId: string | null }[]> {
    return this.db.$transaction(async (tx) => {
      const scans = await tx.scan.findMany({ where: { ...where, ...NOT_STARTED }, select: { id: true, provider: true, jobId: true } });
      if (scans.length === 0) return [];
      const ids = scans.map((s) => s.id);
      await tx.scan.updateMany({ where: { id: { in: ids }, ...NOT_STARTED }, data: { status: 'cancelled', reason: 'cancelled', finishedAt: new Date(), nextPollAt: null } });
      await tx.imageScan.updateMany({ where: { scanId: { in: ids }, status: { in: ['pending', 'scanning'] } }, data: { status: 'cancelled', reason: 'cancelled' } });
      return scans;
    });
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

  get(id: string): Promise<ScanWithImages | null> {
    return this.db.scan.findUnique({ where: { id }, include: { images: { orderBy: { createdAt: 'asc' } } } });
  }

  /** Cursor-paged list, newest first (ids are UUIDv7, so id order is creation order). */
  list(filter: { status?: ScanStatus; provider?: Scan['provider'] }, limit: number, cursor?: string): Promise<ScanWithImages[]> {
    return this.db.scan.findMany({
      where: { ...filter, ...(cursor ? { id: { lt: cursor } } : {}) },
      orderBy: { id: 'desc' },
      take: limit,
      include: { images: { orderBy: { createdAt: 'asc' } } },
    });
  }

  update(id: string, patch: ScanPatch): Promise<Scan> {
    return this.db.scan.update({ where: { id }, data: patch });
  }

  /**
   * Applies `patch` only while the scan is still in one of `from`: a guarded state transition,
   * so a late worker can never overwrite a terminal state. Returns whether it applied.
   */
  async transition(id: string, from: readonly ScanStatus[], patch: ScanPatch): Promise<boolean> {
    const res = await this.db.scan.updateMany({ where: { id, status: { in: [...from] } }, data: patch });
    return res.count === 1;
  }

  /** Ends a non-terminal scan; its unfinished images end with it. */
  async finish(id: string, status: 'succeeded' | 'failed' | 'cancelled', fields: { reason?: string | null; error?: string | null } = {}): Promise<boolean> {
    const end = { status, reason: fields.reason ?? null, error: fields.error ?? null, finishedAt: new Date(), nextPollAt: null, ...(status === 'succeeded' ? { progress: 100 } : {}) };
    // Succeeded: every image is already settled, so one guarded UPDATE is the whole change.
    if (status === 'succeeded') return (await this.db.scan.updateMany({ where: { id, status: { in: NON_TERMINAL } }, data: end })).count === 1;
    return this.db.$transaction(async (tx) => {
      const res = await tx.scan.updateMany({ where: { id, status: { in: NON_TERMINAL } }, data: end });
      if (res.count === 1) {
        await tx.imageScan.updateMany({
          where: { scanId: id, status: { in: ['pending', 'scanning'] } },
          data: { status: status === 'cancelled' ? 'cancelled' : 'failed', reason: fields.reason ?? null },
        });
      }
      return res.count === 1;
    });
  }

  async addImages(scanId: string, images: NewImageScan[]): Promise<ImageScan[]> {
    const created: ImageScan[] = [];
    for (let i = 0; i < images.length; i += IMAGE_INSERT_CHUNK) {
      created.push(...(await this.db.imageScan.createManyAndReturn({ data: images.slice(i, i + IMAGE_INSERT_CHUNK).map((img) => ({
        scanId,
        registry: img.registry,
        repository: img.repository,
        tags: img.tags,
        digest: img.digest ?? null,
        providerImageId: img.providerImageId ?? null,
        status: img.status ?? 'pending',
        reused: img.reused ?? false,
        raw: img.raw === undefined ? Prisma.JsonNull : (img.raw as Prisma.InputJsonValue),
      })) })));
    }
    return created;
  }

  /** Images of many scans in a few statements (bulk planning knows them from the inventory). */
  async addImagesToScans(images: (NewImageScan & { scanId: string })[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < images.length; i += IMAGE_INSERT_CHUNK) {
      const chunk = images.slice(i, i + IMAGE_INSERT_CHUNK);
      n += await this.db.$executeRaw`
        INSERT INTO "ImageScan" ("id", "scanId", "registry", "repository", "tags", "digest", "providerImageId", "status", "reused", "raw", "updatedAt")
        SELECT v.id, v.scan, v.registry, v.repository, ARRAY(SELECT jsonb_array_elements_text(v.tags)), v.digest, v.pid,
               v.status::"ImageScanStatus", v.reused, v.raw, now()
        FROM unnest(${chunk.map(() => uuidv7())}::uuid[], ${chunk.map((c) => c.scanId)}::uuid[], ${chunk.map((c) => c.registry)}::text[],
                    ${chunk.map((c) => c.repository)}::text[], ${chunk.map((c) => JSON.stringify(c.tags))}::jsonb[], ${chunk.map((c) => c.digest ?? null)}::text[],
                    ${chunk.map((c) => c.providerImageId ?? null)}::text[], ${chunk.map((c) => c.status ?? 'pending')}::text[],
                    ${chunk.map((c) => c.reused ?? false)}::boolean[], ${chunk.map((c) => (c.raw === undefined ? null : JSON.stringify(c.raw)))}::jsonb[])
          AS v(id, scan, registry, repository, tags, digest, pid, status, reused, raw)`;
    }
    return n;
  }

  /** Scans an interrupted planning attempt inserted (never enqueued): a re-plan starts clean. */
  async deleteUnplannedBulkScans(bulkScanId: string): Promise<number> {
    return (await this.db.scan.deleteMany({ where: { bulkScanId, status: 'queued' } })).count;
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

  updateImage(id: string, patch: Partial<Pick<ImageScan, 'status' | 'reason' | 'reused' | 'progress' | 'digest' | 'providerImageId'>> & { raw?: unknown }): Promise<ImageScan> {
    const { raw, ...rest } = patch;
    return this.db.imageScan.update({
      where: { id },
      data: { ...rest, ...(raw === undefined ? {} : { raw: raw as Prisma.InputJsonValue }) },
    });
  }

  /** After a start: every pending image of the scan is now scanning (reused: following a cloud scan). */
  async markImagesScanning(scanId: string, reused: boolean): Promise<void> {
    await this.db.imageScan.updateMany({ where: { scanId, status: 'pending' }, data: { status: 'scanning', ...(reused ? { reused: true } : {}) } });
  }

  /** Stores one image's outcome (see `completeImages`). */
  completeImage(scanId: string, imageScanId: string, result: ImageResult): Promise<void> {
    return this.completeImages(scanId, [{ imageScanId, ...result }]);
  }

  /**
   * Stores many images' outcomes in one transaction: their findings (batched inserts), the
   * severity counts derived from them and each final status (one UPDATE … FROM unnest). A
   * poll that finishes a page of images costs a handful of round trips, not one per image.
   */
  async completeImages(scanId: string, results: ImageCompletion[]): Promise<void> {
    if (results.length === 0) return;
    const ids = results.map((r) => r.imageScanId);
    const rows = results.flatMap((r) =>
      r.findings.map((f) => ({
        scanId,
        imageScanId: r.imageScanId,
        vulnerabilityId: f.vulnerabilityId,
        severity: f.severity,
        providerSeverity: f.providerSeverity,
        packageName: f.packageName ?? null,
        installedVersion: f.installedVersion ?? null,
        fixedVersion: f.fixedVersion ?? null,
        title: f.title ?? null,
        link: f.link ?? null,
        score: f.score ?? null,
        raw: (f.raw ?? {}) as Prisma.InputJsonValue,
      })),
    );
    const counts = results.map((r) => {
      const c = { critical: 0, high: 0, medium: 0, low: 0, informational: 0, unknown: 0 };
      for (const f of r.findings) c[SEVERITY_COLUMN[f.severity]] += 1;
      return c;
    });
    const col = <T>(f: (r: ImageCompletion, i: number) => T): T[] => results.map(f);
    await this.db.$transaction(async (tx) => {
      await tx.finding.deleteMany({ where: { imageScanId: { in: ids } } });
      for (let i = 0; i < rows.length; i += FINDING_INSERT_CHUNK) await tx.finding.createMany({ data: rows.slice(i, i + FINDING_INSERT_CHUNK) });
      await tx.$executeRaw`
        UPDATE "ImageScan" AS i SET
          "status" = v.status::"ImageScanStatus", "reason" = v.reason, "progress" = 100,
          "scanCompletedAt" = v.completed, "raw" = COALESCE(v.raw, i."raw"),
          "critical" = v.critical, "high" = v.high, "medium" = v.medium, "low" = v.low,
          "informational" = v.informational, "unknown" = v.unknown, "updatedAt" = now()
        FROM unnest(
          ${ids}::uuid[], ${col((r) => r.status)}::text[], ${col((r) => r.reason ?? null)}::text[],
          ${col((r) => r.scanCompletedAt ?? null)}::timestamp(3)[], ${col((r) => (r.raw === undefined ? null : JSON.stringify(r.raw)))}::jsonb[],
          ${col((_, i) => counts[i]!.critical)}::int[], ${col((_, i) => counts[i]!.high)}::int[], ${col((_, i) => counts[i]!.medium)}::int[],
          ${col((_, i) => counts[i]!.low)}::int[], ${col((_, i) => counts[i]!.informational)}::int[], ${col((_, i) => counts[i]!.unknown)}::int[]
        ) AS v(id, status, reason, completed, raw, critical, high, medium, low, informational, unknown)
        WHERE i.id = v.id AND i."scanId" = ${scanId}::uuid`;
    }, { timeout: 120_000 }); // a poll may settle hundreds of images with thousands of findings
  }

  /** Progress of images still scanning, many at once (one statement). */
  async updateImagesProgress(updates: { imageScanId: string; progress?: number; raw?: unknown }[]): Promise<void> {
    if (updates.length === 0) return;
    await this.db.$executeRaw`
      UPDATE "ImageScan" AS i SET
        "status" = 'scanning', "progress" = COALESCE(v.progress, i."progress"), "raw" = COALESCE(v.raw, i."raw"), "updatedAt" = now()
      FROM unnest(
        ${updates.map((u) => u.imageScanId)}::uuid[], ${updates.map((u) => u.progress ?? null)}::int[],
        ${updates.map((u) => (u.raw === undefined ? null : JSON.stringify(u.raw)))}::jsonb[]
      ) AS v(id, progress, raw)
      WHERE i.id = v.id`;
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
  findStale(idleMs: number, limit: number): Promise<Scan[]> {
    return this.db.scan.findMany({
      where: { status: { in: NON_TERMINAL }, updatedAt: { lt: new Date(Date.now() - idleMs) } },
      orderBy: { updatedAt: 'asc' },
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
