import { BULK_JOB_PRIORITY, JobName, type Provider, QueueName, jobIds, queueForProvider } from '@scanq/core';
import type { BulkScanRepository, Scan, ScanRepository } from '@scanq/db';
import { type BulkScanService, PLAN_JOB_OPTIONS } from './bulk-scan.service.js';
import type { QueueRepository } from '@scanq/queue';
import type { Logger } from 'pino';
import type { ScanLifecycleService } from './lifecycle.service.js';
import type { EventStreamService } from './event-stream.service.js';

export interface ReconcileReport {
  timedOut: number;
  reenqueued: number;
  checked: number;
  /** Bulk scans whose plan job was re-added or whose completion was re-checked. */
  bulk: number;
  /** Events appended to the `events` stream that had waited for Redis. */
  events: number;
}

/**
 * Postgres is the ledger, Redis only carries work. On every maintenance tick: ends scans past their
 * deadline (`failed`/`timed_out`), and re-enqueues every non-terminal scan whose job is gone
 * (Redis flushed, a crash between the insert and the enqueue), so no scan stays open forever.
 */
export class ReconcileService {
  constructor(
    private readonly scans: ScanRepository,
    private readonly queues: QueueRepository,
    private readonly lifecycle: ScanLifecycleService,
    private readonly options: { graceMs: number; batch?: number },
    private readonly log: Logger,
    private readonly bulk?: { service: BulkScanService; rows: BulkScanRepository },
    private readonly events?: EventStreamService,
  ) {}

  async reconcile(): Promise<ReconcileReport> {
    const batch = this.options.batch ?? 500;
    const report: ReconcileReport = { timedOut: 0, reenqueued: 0, checked: 0, bulk: 0, events: 0 };

    for (const scan of await this.scans.findPastDeadline(new Date(), batch)) {
      const full = await this.scans.get(scan.id);
      if (full) await this.lifecycle.timeOut(full);
      report.timedOut += 1;
    }

    // Every idle open scan, page by page: parked polls (live jobs) must not hide lost ones behind them.
    const suffix = Date.now().toString(36);
    for (let after: Scan | undefined; ; ) {
      const stale = await this.scans.findStale(this.options.graceMs, batch, after);
      if (stale.length === 0) break;
      after = stale[stale.length - 1];
      report.checked += stale.length;
      const live = await this.liveJobs(stale);
      for (const [i, scan] of stale.entries()) {
        if (live[i]) continue;
        const queue = queueForProvider(scan.provider as Provider);
        // Started scans resume polling; the rest start (again): a start that may have reached the
        // cloud looks its task up first (CloudCreateGuard), so a re-start never duplicates it.
        const jobId = scan.providerTaskId ? `${jobIds.poll(scan.id)}-r${suffix}` : `${jobIds.start(scan.id)}-r${suffix}`;
        const priority = scan.bulkScanId ? { priority: BULK_JOB_PRIORITY } : {};
        if (scan.providerTaskId) await this.queues.add(queue, 'scan.poll', { scanId: scan.id, pollCount: 0 }, { jobId, ...priority });
        else await this.queues.add(queue, 'scan.start', { scanId: scan.id }, { jobId, ...priority });
        await this.scans.update(scan.id, { jobId });
        report.reenqueued += 1;
      }
      if (stale.length < batch) break;
    }
    if (this.bulk) {
      // Bulk scans: a lost plan job is added again (same job id: never twice at once), and a
      // running bulk scan whose last scan ended without its completion is completed.
      for (const b of await this.bulk.rows.stuckPlanning(this.options.graceMs, batch)) {
        const [live] = await this.queues.liveJobs([{ queue: QueueName.maintenance, id: jobIds.bulkPlan(b.id) }]);
        if (live) continue; // still queued or planning
        await this.queues.add(QueueName.maintenance, JobName.BulkPlan, { bulkScanId: b.id }, { jobId: `${jobIds.bulkPlan(b.id)}-r${suffix}`, ...PLAN_JOB_OPTIONS });
        report.bulk += 1;
      }
      for (const b of await this.bulk.rows.unfinished(batch)) {
        await this.bulk.service.scanFinished(b.id);
        report.bulk += 1;
      }
    }
    if (this.events) report.events = await this.events.appendPending();
    if (report.reenqueued || report.timedOut) this.log.info(report, 'reconciled scans');
    return report;
  }

  /** Per scan: does a job for it still live (its current job, or its start or poll job)? */
  private async liveJobs(scans: Scan[]): Promise<boolean[]> {
    const candidates = scans.map((scan) => [...new Set([scan.jobId, jobIds.start(scan.id), jobIds.poll(scan.id)].filter((x): x is string => !!x))].map((id) => ({ queue: queueForProvider(scan.provider as Provider), id })));
    const live = await this.queues.liveJobs(candidates.flat());
    let at = 0;
    return candidates.map((c) => live.slice(at, (at += c.length)).some(Boolean));
  }
}
