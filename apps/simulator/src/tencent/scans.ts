import { sha256Hex } from '../core/seed.js';
import type { SeedAccount, SeedImage } from './seed.js';

/** ScanType values of CreateAssetImageRegistryScanTask (example `["CVE","VIRUS","RISK"]`). */
export type ScanType = 'CVE' | 'VIRUS' | 'RISK';
export const SCAN_TYPES: readonly ScanType[] = ['CVE', 'VIRUS', 'RISK'];

/** Share of an image's scan duration each sub-scan needs: vulnerabilities take longest. */
const SUB_SCAN_SHARE: Record<ScanType, number> = { CVE: 1, VIRUS: 0.75, RISK: 0.5 };
/** The scan-error special image fails this far into its scan. */
const SCAN_ERROR_AT = 0.4;
/** Prior (pre-seeded) scans are reported as having taken this long. */
const PRIOR_SCAN_DURATION_MS = 90_000;

export type ScanStatus = 'NOT_SCAN' | 'SCANNING' | 'SCANNED' | 'SCAN_ERR';
export type ScanFailureReason = 'image_pull' | 'timeout';

export interface ImageScan {
  taskId: number;
  startedAt: number;
  durationMs: number;
  scanTypes: ScanType[];
  /** The scan fails (SCAN_ERR) this many ms after it started. */
  failure?: { atMs: number; reason: ScanFailureReason };
}

export interface ScanTask {
  TaskID: number;
  account: string;
  action: string;
  imageIds: number[];
  scanTypes: ScanType[];
  createdAt: number;
  timeoutSeconds?: number;
}

interface SubScanView {
  status: ScanStatus;
  progress: number;
  error: string;
}

/** The scan-state fields shared by Detail, List items and OneKey progress. */
export interface ScanView {
  ScanStatus: ScanStatus;
  Progress: number;
  CveStatus: ScanStatus;
  VirusStatus: ScanStatus;
  RiskStatus: ScanStatus;
  ScanVulProgress: number;
  ScanVirusProgress: number;
  ScanRiskProgress: number;
  ScanVulError: string;
  ScanVirusError: string;
  ScanRiskError: string;
  ScanRemainTime: number;
  ScanTime: string;
  Reason: string;
  Solution: string;
}

const FAILURES: Record<ScanFailureReason, { error: string; solution: string }> = {
  image_pull: {
    error: 'failed to pull image layers from the registry',
    solution: 'Check that the image still exists and that the registry is reachable, then scan again.',
  },
  timeout: {
    error: 'scan timeout',
    solution: 'Increase the task Timeout and scan again.',
  },
};

/**
 * Runtime scan state: each image's current and previous scan, and the tasks that started them.
 * Everything is computed lazily from the simulator clock, so no timers run.
 */
export class ScanStore {
  private current = new Map<number, ImageScan>();
  private previous = new Map<number, ImageScan>();
  readonly tasks = new Map<number, ScanTask>();
  private nextTaskId = 1;

  reset(seed: string, accounts: SeedAccount[]): void {
    this.current.clear();
    this.previous.clear();
    this.tasks.clear();
    this.nextTaskId = 1 + (parseInt(sha256Hex(`${seed}:tencent:task`).slice(0, 6), 16) % 9000);
    for (const img of accounts.flatMap((a) => a.images)) {
      if (img.priorScanCompletedAtMs === undefined) continue;
      this.current.set(img.Id, {
        taskId: 0,
        startedAt: img.priorScanCompletedAtMs - PRIOR_SCAN_DURATION_MS,
        durationMs: PRIOR_SCAN_DURATION_MS,
        scanTypes: [...SCAN_TYPES],
      });
    }
  }

  /** Registers a task and starts a scan of each image that is not already being scanned. */
  createTask(input: Omit<ScanTask, 'TaskID'>, images: SeedImage[], scanDurationMs: number): ScanTask {
    const task: ScanTask = { ...input, TaskID: this.nextTaskId++ };
    this.tasks.set(task.TaskID, task);
    const timeoutMs = task.timeoutSeconds === undefined ? undefined : task.timeoutSeconds * 1000;
    for (const img of images) this.startImageScan(img, task, scanDurationMs, timeoutMs);
    return task;
  }

  private startImageScan(img: SeedImage, task: ScanTask, scanDurationMs: number, timeoutMs: number | undefined): void {
    const running = this.current.get(img.Id);
    // An image already being scanned keeps its scan: the new task reports that scan's progress.
    if (running && viewScan(running, task.createdAt).ScanStatus === 'SCANNING') return;
    if (running) this.previous.set(img.Id, running);
    // Up to 15% shorter per image (from its digest), so a batch does not finish all at once.
    const jitter = 0.85 + (parseInt(img.ImageDigest.slice(7, 11), 16) / 0xffff) * 0.15;
    const durationMs = Math.round(scanDurationMs * jitter);
    const scan: ImageScan = { taskId: task.TaskID, startedAt: task.createdAt, durationMs, scanTypes: [...task.scanTypes] };
    const end = scanEndMs(scan);
    if (img.special === 'scan_error') scan.failure = { atMs: Math.floor(end * SCAN_ERROR_AT), reason: 'image_pull' };
    if (timeoutMs !== undefined && timeoutMs < end && (!scan.failure || timeoutMs < scan.failure.atMs)) {
      scan.failure = { atMs: timeoutMs, reason: 'timeout' };
    }
    this.current.set(img.Id, scan);
  }

  currentScan(imageId: number): ImageScan | undefined {
    return this.current.get(imageId);
  }

  /**
   * The scan whose results (counts, vulnerabilities) are visible now: the current one once it
   * has finished, else the previous one while a re-scan runs. A failed scan shows no results.
   */
  resultScan(imageId: number, now: number): ImageScan | undefined {
    const cur = this.current.get(imageId);
    if (!cur) return undefined;
    const status = viewScan(cur, now).ScanStatus;
    if (status === 'SCANNED') return cur;
    if (status === 'SCANNING') {
      const prev = this.previous.get(imageId);
      return prev && viewScan(prev, now).ScanStatus === 'SCANNED' ? prev : undefined;
    }
    return undefined;
  }
}

/** Elapsed ms at which a scan that does not fail has finished all its sub-scans. */
export function scanEndMs(scan: ImageScan): number {
  return scan.durationMs * Math.max(...scan.scanTypes.map((t) => SUB_SCAN_SHARE[t]));
}

const NOT_SCANNED: ScanView = {
  ScanStatus: 'NOT_SCAN',
  Progress: 0,
  CveStatus: 'NOT_SCAN',
  VirusStatus: 'NOT_SCAN',
  RiskStatus: 'NOT_SCAN',
  ScanVulProgress: 0,
  ScanVirusProgress: 0,
  ScanRiskProgress: 0,
  ScanVulError: '',
  ScanVirusError: '',
  ScanRiskError: '',
  ScanRemainTime: 0,
  ScanTime: '',
  Reason: '',
  Solution: '',
};

/** An image's scan fields at `now`; sub-scans not requested stay NOT_SCAN with progress 0 (as in the seed example). */
export function viewScan(scan: ImageScan | undefined, now: number): ScanView {
  if (!scan) return { ...NOT_SCANNED };
  const elapsed = Math.max(0, now - scan.startedAt);
  const end = scanEndMs(scan);
  const failedAt = scan.failure && elapsed >= scan.failure.atMs ? scan.failure.atMs : undefined;
  const t = failedAt ?? Math.min(elapsed, end);
  const failureText = scan.failure ? FAILURES[scan.failure.reason] : undefined;

  const sub = (type: ScanType): SubScanView => {
    if (!scan.scanTypes.includes(type)) return { status: 'NOT_SCAN', progress: 0, error: '' };
    const span = scan.durationMs * SUB_SCAN_SHARE[type];
    const done = failedAt === undefined ? t >= span : span < failedAt;
    if (done) return { status: 'SCANNED', progress: 100, error: '' };
    const progress = span <= 0 ? 0 : Math.min(99, Math.floor((100 * t) / span));
    if (failedAt !== undefined) return { status: 'SCAN_ERR', progress, error: failureText?.error ?? '' };
    return { status: 'SCANNING', progress, error: '' };
  };
  const cve = sub('CVE');
  const virus = sub('VIRUS');
  const risk = sub('RISK');
  const selected = [cve, virus, risk].filter((_, i) => scan.scanTypes.includes(SCAN_TYPES[i] as ScanType));

  const status: ScanStatus = failedAt !== undefined ? 'SCAN_ERR' : elapsed >= end ? 'SCANNED' : 'SCANNING';
  const progress = status === 'SCANNED' ? 100 : Math.floor(selected.reduce((a, s) => a + s.progress, 0) / Math.max(1, selected.length));
  const finishedAt = scan.startedAt + (failedAt ?? end);
  return {
    ScanStatus: status,
    Progress: progress,
    CveStatus: cve.status,
    VirusStatus: virus.status,
    RiskStatus: risk.status,
    ScanVulProgress: cve.progress,
    ScanVirusProgress: virus.progress,
    ScanRiskProgress: risk.progress,
    ScanVulError: cve.error,
    ScanVirusError: virus.error,
    ScanRiskError: risk.error,
    ScanRemainTime: status === 'SCANNING' ? Math.ceil((end - elapsed) / 1000) : 0,
    ScanTime: tencentTime(status === 'SCANNING' ? scan.startedAt : finishedAt),
    Reason: status === 'SCAN_ERR' ? (failureText?.error ?? '') : '',
    Solution: status === 'SCAN_ERR' ? (failureText?.solution ?? '') : '',
  };
}

/** ISO 8601 in Beijing time with offset, as TCSS prints times (`2022-01-14T21:03:19+08:00`). */
export function tencentTime(ms: number): string {
  return `${new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}
