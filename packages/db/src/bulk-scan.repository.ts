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
   * tick harmless: it returns `created: false` and the first one.
   */
  async create(input: NewBulkScan): Promise<{ bulk: BulkScan; created: boolean }> {
    const data = {
      selector: { ...input.selector, ...(input.timeoutSeconds ? { timeoutSeconds: input.timeoutSeconds } : {}) } as Prisma.InputJsonValue,
      force: input.force,
      scheduleId: input.scheduleId ?? null,
      tickAt: input.tickAt ?? null,
      webhookUrl: input.webhookUrl ?? null,
    };
    try {
      return { bulk: await this.db.bulkScan.create({ data }), created: true };
    } catch (err) {
      if (input.scheduleId && input.tickAt && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        const existing = await this.db.bulkScan.findUnique({ where: { scheduleId_tickAt: { scheduleId: input.scheduleId, tickAt: input.tickAt } } });
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

  /** Planning done: what was selected and skipped, and how the work was split. */
  async planned(id: string, fields: { selected: number; skipped: number; plan: Record<string, unknown> }): Promise<boolean> {
    const res = await this.db.bulkScan.updateMany({
      where: { id, status: 'planning' },
      data: { status: 'running', selected: fields.selected, skipped: fields.skipped, plan: fields.plan as Prisma.InputJsonValue, startedAt: new Date() },
    });
    return res.count === 1;
  }

  /** Ends a bulk scan that is still open; returns whether this call ended it. */
  async finish(id: string, status: 'succeeded' | 'failed' | 'cancelled', fields: { error?: string; summary?: unknown } = {}): Promise<boolean> {
    const res = await this.db.bulkScan.updateMany({
      where: { id, status: { in: ['planning', 'running'] } },
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
    totals.planned = bulk.selected + bulk.skipped;
    for (const p of Object.values(byProvider)) p.planned = BULK_TOTAL_STATES.filter((s) => s !== 'planned').reduce((a, s) => a + p[s], 0);
    return { totals, byProvider };
  }

  /** Scans of the bulk scan that are not terminal yet. */
  async openScans(id: string): Promise<number> {
    return this.db.scan.count({ where: { bulkScanId: id, status: { in: ['queued', 'quota_wait', 'running', 'retrying'] } } });
  }

  /** Bulk scans still running: the reconciler checks they finish. */
  running(limit: number): Promise<BulkScan[]> {
    return this.db.bulkScan.findMany({ where: { status: 'running' }, orderBy: { id: 'asc' }, take: limit });
  }

  /** Bulk scans stuck in planning (their plan job vanished) for longer than `idleMs`. */
  stuckPlanning(idleMs: number, limit: number): Promise<BulkScan[]> {
    return this.db.bulkScan.findMany({ where: { status: 'planning', updatedAt: { lt: new Date(Date.now() - idleMs) } }, take: limit });
  }
}
