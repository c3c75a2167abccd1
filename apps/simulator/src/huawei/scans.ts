import type { SeededImage } from './inventory.js';

/**
 * Per-image scan state. Only images that were asked to scan have a record; everything else is
 * read from the seed, so 20,000+ images cost nothing until they are scanned. Statuses are
 * computed from the clock when read: `scanning` until `completesAt`, then the outcome.
 */

export const SCAN_STATUSES = [
  'unscan',
  'success',
  'scanning',
  'failed',
  'download_failed',
  'image_oversized',
  'waiting_for_scan',
] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export interface ScanView {
  status: ScanStatus;
  /** `scan_failed_desc` of a failed scan, e.g. `download_failed`, `authentication_failed`. */
  failedDesc?: string;
  /** Completion time of the latest finished scan (ms). */
  latestScanTime?: number;
  /** Whether a successful scan's results are on record (vul_num, ListImageVulnerabilities). */
  hasResults: boolean;
}

type Outcome = { status: Exclude<ScanStatus, 'unscan' | 'scanning' | 'waiting_for_scan'>; failedDesc?: string };

interface ScanRecord {
  startedAt: number;
  completesAt: number;
  outcome: Outcome;
  /** The image's state before this scan, still reported while it runs. */
  before: ScanView;
}

/** How a scan of this image ends, by its special kind. */
export function outcomeFor(image: SeededImage): Outcome {
  switch (image.special) {
    case 'scan_fails':
      return { status: 'failed', failedDesc: 'unknown_error' };
    case 'download_fails':
      return { status: 'download_failed', failedDesc: 'download_failed' };
    case 'oversized':
      return { status: 'image_oversized', failedDesc: 'image_oversized' };
    case 'expired_share':
      return { status: 'failed', failedDesc: 'authentication_failed' };
    default:
      return { status: 'success' };
  }
}

function seededView(image: SeededImage): ScanView {
  return image.seededScanTime === undefined
    ? { status: 'unscan', hasResults: false }
    : { status: 'success', latestScanTime: image.seededScanTime, hasResults: true };
}

/** Scan records of one account, keyed by inventory index. */
export class AccountScans {
  private readonly records = new Map<number, ScanRecord>();
  /** Images put under scan since the last reset (for the HSS.1002 quota and state()). */
  started = 0;

  view(image: SeededImage, now: number): ScanView {
    const rec = this.records.get(image.index);
    if (!rec) return seededView(image);
    if (now < rec.completesAt) {
      return { status: 'scanning', latestScanTime: rec.before.latestScanTime, hasResults: rec.before.hasResults };
    }
    return {
      status: rec.outcome.status,
      failedDesc: rec.outcome.failedDesc,
      latestScanTime: rec.completesAt,
      hasResults: rec.outcome.status === 'success' || rec.before.hasResults,
    };
  }

  /** Starts a scan unless one is already running; returns whether it started. */
  start(image: SeededImage, now: number, durationMs: number): boolean {
    const before = this.view(image, now);
    if (before.status === 'scanning') return false;
    this.records.set(image.index, { startedAt: now, completesAt: now + durationMs, outcome: outcomeFor(image), before });
    this.started++;
    return true;
  }

  isScanning(image: SeededImage, now: number): boolean {
    return this.view(image, now).status === 'scanning';
  }
}
