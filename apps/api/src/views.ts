import { type Account, type BulkScanView, type BulkSelector, type BulkTotals, type ScheduleView, type FindingView, type ScanView, type SeverityCounts, emptySeverityCounts, redactEndpoint } from '@scanq/core';
import type { BulkScan, CloudAccount, Finding, ImageTotals, Schedule, ScanWithImages } from '@scanq/db';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** Severity counts of one image row, or of a listing's totals over a scan's images. */
const imageCounts = (i: Omit<ImageTotals, 'imageCount'>): SeverityCounts => ({
  CRITICAL: i.critical,
  HIGH: i.high,
  MEDIUM: i.medium,
  LOW: i.low,
  INFORMATIONAL: i.informational,
  UNKNOWN: i.unknown,
});

/** A scan's view; `totals` (a listing's, over every image) when only some images were loaded. */
export function toScanView(scan: ScanWithImages, totals?: ImageTotals): ScanView {
  const summed = emptySeverityCounts();
  const images = scan.images.map((i) => {
    const counts = imageCounts(i);
    for (const k of Object.keys(summed) as (keyof SeverityCounts)[]) summed[k] += counts[k];
    return {
      id: i.id,
      registry: i.registry,
      repository: i.repository,
      tags: i.tags,
      digest: i.digest,
      status: i.status,
      reason: i.reason,
      reused: i.reused,
      progress: i.progress,
      severityCounts: counts,
      scanCompletedAt: iso(i.scanCompletedAt),
    };
  });
  return {
    id: scan.id,
    provider: scan.provider,
    accountId: scan.accountId,
    status: scan.status,
    reason: scan.reason,
    error: scan.error,
    target: scan.target as Record<string, unknown>,
    providerTaskId: scan.providerTaskId,
    progress: scan.progress,
    attempts: scan.attempts,
    severityCounts: totals ? imageCounts(totals) : summed,
    images,
    imageCount: totals?.imageCount ?? images.length,
    deadlineAt: scan.deadlineAt.toISOString(),
    startedAt: iso(scan.startedAt),
    finishedAt: iso(scan.finishedAt),
    createdAt: scan.createdAt.toISOString(),
    updatedAt: scan.updatedAt.toISOString(),
  };
}

export function toFindingView(f: Finding): FindingView {
  return {
    id: f.id.toString(),
    imageScanId: f.imageScanId,
    vulnerabilityId: f.vulnerabilityId,
    severity: f.severity,
    providerSeverity: f.providerSeverity,
    packageName: f.packageName,
    installedVersion: f.installedVersion,
    fixedVersion: f.fixedVersion,
    title: f.title,
    link: f.link,
    score: f.score,
    cvssVector: f.cvssVector,
    providerVulnerabilityId: f.providerVulnerabilityId,
    raw: f.raw,
  };
}

export function toAccountView(a: CloudAccount): Account {
  return {
    id: a.id,
    provider: a.provider,
    name: a.name,
    region: a.region,
    // A row stored before the endpoint rules may hold a user and password: never shown.
    endpoint: redactEndpoint(a.endpoint),
    credentialRef: a.credentialRef,
    settings: (a.settings ?? {}) as Record<string, unknown>,
    labels: (a.labels ?? {}) as Record<string, string>,
    credentials: (a.credentials ?? null) as Record<string, unknown> | null,
    createdAt: a.createdAt.toISOString(),
  };
}

/** Seconds left at the pace seen so far: remaining images × elapsed / finished images. */
export function etaSeconds(bulk: BulkScan, totals: BulkTotals, now = Date.now()): number | null {
  // A cancelled bulk scan runs on until its scans at the cloud end: it has an ETA until it is finished.
  if (bulk.finishedAt) return 0;
  if (!bulk.startedAt) return null;
  const finished = totals.succeeded + totals.failed + totals.cancelled;
  const remaining = totals.queued + totals.running;
  if (remaining === 0) return 0;
  if (finished === 0) return null;
  return Math.round(((now - bulk.startedAt.getTime()) / 1000 / finished) * remaining);
}

const planErrorsOf = (plan: unknown): string[] => {
  const errors = (plan as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [];
};

export function toBulkScanView(bulk: BulkScan, counted: { totals: BulkTotals; byProvider: Record<string, BulkTotals> }): BulkScanView {
  const { timeoutSeconds: _t, ...selector } = bulk.selector as BulkSelector & { timeoutSeconds?: number };
  return {
    id: bulk.id,
    status: bulk.status,
    selector,
    force: bulk.force,
    scheduleId: bulk.scheduleId,
    tickAt: iso(bulk.tickAt),
    totals: counted.totals,
    byProvider: counted.byProvider,
    etaSeconds: etaSeconds(bulk, counted.totals),
    plan: (bulk.plan ?? {}) as Record<string, unknown>,
    planErrors: planErrorsOf(bulk.plan),
    error: bulk.error,
    webhookUrl: bulk.webhookUrl,
    startedAt: iso(bulk.startedAt),
    finishedAt: iso(bulk.finishedAt),
    createdAt: bulk.createdAt.toISOString(),
  };
}

export function toScheduleView(s: Schedule): ScheduleView {
  return {
    id: s.id,
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    selector: s.selector as BulkSelector,
    force: s.force,
    enabled: s.enabled,
    webhookUrl: s.webhookUrl,
    nextRunAt: iso(s.nextRunAt),
    lastRunAt: iso(s.lastRunAt),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}
