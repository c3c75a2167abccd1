import { BULK_TOTAL_STATES, type BulkTotals, type ScanStatus } from '@scanq/core';
import type { Db } from './client.js';
import { Prisma, type BulkScan } from './generated/prisma/client.js';

export interface NewBulkScan {
  selector: Record<string, unknown>;
  force: boolean;
  timeoutSeconds?: number;
  scheduleId?: string;
  tickAt?: Date;
  webhookUrl?: string | null;
  /** A bulk request's idempotency key and the hash of what it asked for (see BulkScanService.create). */
  idempotencyKey?: string;
  requestHash?: string;
}

const emptyTotals = (): BulkTotals => Object.fromEntries(BULK_TOTAL_STATES.map((s) => [s, 0])) as BulkTotals;

/** Scan status → the bulk view's state. */
const STATE_OF: Record<ScanStatus, keyof BulkTotals> = {
  queued: 'queued',
  quota_wait: 'queued',
  retrying: 'running',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** Bulk scans: their rows, and totals read from their scans' images in one GROUP BY. */
export class BulkScanRepository {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a bulk scan. For a schedule tick, the (schedule, tick) unique key makes a duplicate
   * tick harmless: it returns `created: false` and the first one; so does a repeated
   * idempotency key (the caller compares `requestHash`).
   */
  async create(input: NewBulkScan): Promise<{ bulk: BulkScan; created: boolean }> {
    const data = {
      selector: { ...input.selector, ...(input.timeoutSeconds ? { timeoutSeconds: input.timeoutSeconds } : {}) } as Prisma.InputJsonValue,
      force: input.force,
      scheduleId: input.scheduleId ?? null,
      tickAt: input.tickAt ?? null,
      webhookUrl: input.webhookUrl ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      requestHash: input.requestHash ?? null,
    };
    try {
      return { bulk: await this.db.bulkScan.create({ data }), created: true };
    } catch (err) {
      if (input.scheduleId && input.tickAt && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        const existing = await this.db.bulkScan.findUnique({ where: { scheduleId_tickAt: { scheduleId: input.scheduleId, tickAt: input.tickAt } } });
        if (existing) return { bulk: existing, created: false };
      }
      if (input.idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        const existing = await this.db.bulkScan.findUnique({ where: { idempotencyKey: input.idempotencyKey } });
        if (existing) return { bulk: existing, created: false };
      }
      throw err;
    }
  }

  get(id: string): Promise<BulkScan | null> {
    return this.db.bulkScan.findUnique({ where: { id } });
  }

  list(limit: number, cursor?: string, scheduleId?: string): Promise<BulkScan[]> {
    return this.db.bulkScan.findMany({
      where: { ...(cursor ? { id: { lt: cursor } } : {}), ...(scheduleId ? { scheduleId } : {}) },
      orderBy: { id: 'desc' },
      take: limit,
    });
  }

  /**
   * Planning done: what was selected and skipped, and how the work was split — recorded even
   * when the bulk scan was cancelled meanwhile (its totals still add up); it moves from
   * `planning` to `running` only if it is still planning. Returns whether it moved.
   */
  async planned(id: string, fields: { selected: number; skipped: number; plan: Record<string, unknown> }): Promise<boolean> {
    const rows = await this.db.$queryRaw<{ moved: boolean }[]>`
      UPDATE "BulkScan" SET "selected" = ${fields.selected}, "skipped" = ${fields.skipped}, "plan" = ${JSON.stringify(fields.plan)}::jsonb,
        "status" = CASE WHEN "status" = 'planning' THEN 'running'::"BulkScanStatus" ELSE "status" END,
        "startedAt" = COALESCE("startedAt", timezone('UTC', now())), "updatedAt" = timezone('UTC', now())
      WHERE "id" = ${id}::uuid
      RETURNING ("status" = 'running') AS moved`;
    return rows[0]?.moved === true;
  }

  /**
   * Cancels a bulk scan that is still open: status `cancelled` at once, but not finished — its
   * scans already at the cloud still end in their real result, and `finish` records the end
   * (and the completion event) once the last one has. Returns the status it had, or null when
   * this call did not cancel it (unknown, or ended already).
   */
  async cancel(id: string): Promise<'planning' | 'running' | null> {
    const rows = await this.db.$queryRaw<{ was: 'planning' | 'running' }[]>`
      UPDATE "BulkScan" b SET "status" = 'cancelled', "updatedAt" = timezone('UTC', now())
      FROM (SELECT "id", "status" AS was FROM "BulkScan" WHERE "id" = ${id}::uuid FOR UPDATE) old
      WHERE b."id" = old."id" AND old.was IN ('planning', 'running')
      RETURNING old.was::text AS was`;
    return rows[0]?.was ?? null;
  }

  /**
   * Ends a bulk scan that is `from` and not finished yet: `status` (a cancelled one stays
   * cancelled), its end time and completion summary. Returns whether this call ended it.
   */
  async finish(id: string, from: BulkScan['status'], status: 'succeeded' | 'failed' | 'cancelled', fields: { error?: string; summary?: unknown } = {}): Promise<boolean> {
    const res = await this.db.bulkScan.updateMany({
      where: { id, status: from, finishedAt: null },
      data: { status, finishedAt: new Date(), error: fields.error ?? null, ...(fields.summary === undefined ? {} : { summary: fields.summary as Prisma.InputJsonValue }) },
    });
    return res.count === 1;
  }

  setSummary(id: string, summary: unknown): Promise<unknown> {
    return this.db.bulkScan.update({ where: { id }, data: { summary: summary as Prisma.InputJsonValue } });
  }

  /**
   * Per-state totals, counted in images (one per digest) and by provider. Scan rows carry the
   * state while an image waits or runs; a finished image counts by its own result.
   */
  async totals(bulk: BulkScan): Promise<{ totals: BulkTotals; byProvider: Record<string, BulkTotals> }> {
    const rows = await this.db.$queryRaw<{ provider: string; scan_status: ScanStatus; image_status: string | null; n: bigint }[]>`
      SELECT s."provider"::text AS provider, s."status"::text AS scan_status, i."status"::text AS image_status, count(*) AS n
      FROM "Scan" s LEFT JOIN "ImageScan" i ON i."scanId" = s."id"
      WHERE s."bulkScanId" = ${bulk.id}::uuid
      GROUP BY 1, 2, 3`;
    const totals = emptyTotals();
    const byProvider: Record<string, BulkTotals> = {};
    const plan = (bulk.plan ?? {}) as { skippedByProvider?: Record<string, number> };
    for (const r of rows) {
      const n = Number(r.n);
      const state: keyof BulkTotals =
        r.image_status === 'succeeded' ? 'succeeded' : r.image_status === 'failed' ? 'failed' : r.image_status === 'cancelled' ? 'cancelled' : r.image_status === 'skipped' ? 'skipped' : STATE_OF[r.scan_status];
      const p = (byProvider[r.provider] ??= emptyTotals());
      p[state] += n;
      totals[state] += n;
    }
    for (const [provider, n] of Object.entries(plan.skippedByProvider ?? {})) {
      (byProvider[provider] ??= emptyTotals()).skipped += n;
    }
    totals.skipped += bulk.skipped;
    // While planning (or cancelled during it) the scans inserted so far may outnumber the
    // recorded selection: planned is never less than what the states add up to.
    const counted = BULK_TOTAL_STATES.filter((s) => s !== 'planned').reduce((a, s) => a + totals[s], 0);
    totals.planned = Math.max(bulk.selected + bulk.skipped, counted);
    for (const p of Object.values(byProvider)) p.planned = BULK_TOTAL_STATES.filter((s) => s !== 'planned').reduce((a, s) => a + p[s], 0);
    return { totals, byProvider };
  }

  /** Scans of the bulk scan that are not terminal yet. */
  async openScans(id: string): Promise<number> {
    return this.db.scan.count({ where: { bulkScanId: id, status: { in: ['queued', 'quota_wait', 'running', 'retrying'] } } });
  }

  /** Bulk scans not finished (running, or cancelled with scans still at the cloud): the reconciler checks they finish. */
  unfinished(limit: number): Promise<BulkScan[]> {
    return this.db.bulkScan.findMany({ where: { status: { in: ['running', 'cancelled'] }, finishedAt: null }, orderBy: { id: 'asc' }, take: limit });
  }

  /** Bulk scans stuck in planning (their plan job vanished) for longer than `idleMs`. */
  stuckPlanning(idleMs: number, limit: number): Promise<BulkScan[]> {
    return this.db.bulkScan.findMany({ where: { status: 'planning', updatedAt: { lt: new Date(Date.now() - idleMs) } }, take: limit });
  }
}
