import { sha256Hex } from '../core/seed.js';
import type { SeedAccount, SeedImage } from './seed.js';

/**
 * Scan tasks and per-image scan state of one SAS account. Nothing runs in the background:
 * every view is computed from the simulator clock, so advancing the clock moves scans on.
 *
 * Each scanned image walks the real `ScaStatus` stages (INIT → … → OTHER_ANALYZER) over its
 * own share of the task's duration (50–100 %) and ends SUCCESS; seeded `scan-fail` images stall
 * in PRE_ANALYZER and end FAIL at 60 %, `scan-timeout` images stall in DOWNLOAD and end TIMEOUT
 * at 100 %. A task is running until all its images are final; then it frees its slot.
 */
export const RUNNING_STAGES = [
  'INIT',
  'START',
  'MESSAGE_SEND',
  'START_RUN',
  'DOWNLOAD',
  'PRE_ANALYZER',
  'WEB_SHELL_ANALYZER',
  'CVE_ANALYZER',
  'BIN_ANALYZER',
  'OTHER_ANALYZER',
] as const;

export type FinalScaStatus = 'SUCCESS' | 'FAIL' | 'TIMEOUT';
export type ScaStatus = (typeof RUNNING_STAGES)[number] | FinalScaStatus;
export type ScaResult = '' | 'TASK_NOT_EXISTS' | 'TASK_NOT_SUPPORT_REGION' | 'forbid_create_repeat_task';

/** Why an image of a task is not scanned by it. */
export type SkipReason = 'unsupported-region' | 'repeat' | 'unauthorized';

/** One image's scan inside one task. */
export interface ImageScan {
  taskId: string;
  startAt: number;
  finishAt: number;
  outcome: FinalScaStatus;
  /** Share of the run (0–1) after which the stages stop advancing (failing images stall). */
  stallAt: number;
  /** Set for images the task reports on without scanning them. */
  skipped?: Exclude<SkipReason, 'repeat'>;
}

export interface ImageState {
  image: SeedImage;
  /** The latest scan started for this image, running or finished. */
  current?: ImageScan;
  /** Earlier scans, summarised when `current` is replaced. */
  priorLastScanAt: number;
  priorFirstSuccessAt: number;
  priorLastSuccessAt: number;
  /** A task asked to scan the image while `current` was running: shown until it finishes. */
  repeatOf?: ImageScan;
}

export interface ScanTask {
  taskId: string;
  /** The numeric id DescribeImageLatestScanTask shows beside the task id. */
  id: number;
  createdAt: number;
  /** When the last scanned image is final; `createdAt` when nothing needed scanning. */
  finishAt: number;
  /** Every image the filters matched, in inventory order. */
  uuids: string[];
  scans: Map<string, ImageScan>;
  skipped: Map<string, SkipReason>;
}

/** What an image shows right now in DescribeImageInstances. */
export interface ImageView {
  scaStatus: ScaStatus | '';
  scaProgress: number;
  scaResult: ScaResult;
  lastScanTime: number;
  firstSuccessAt: number;
  lastSuccessAt: number;
}

export function isRunning(scan: ImageScan, now: number): boolean {
  return now < scan.finishAt;
}

/** Stage and progress of a scan at `now`. */
export function scanProgress(scan: ImageScan, now: number): { status: ScaStatus; progress: number } {
  if (!isRunning(scan, now)) {
    const progress = scan.outcome === 'SUCCESS' ? 100 : Math.floor(scan.stallAt * 100);
    return { status: scan.outcome, progress };
  }
  const span = scan.finishAt - scan.startAt;
  const share = Math.min(span > 0 ? (now - scan.startAt) / span : 1, scan.stallAt);
  const stage = RUNNING_STAGES[Math.min(Math.floor(share * RUNNING_STAGES.length), RUNNING_STAGES.length - 1)];
  return { status: stage as ScaStatus, progress: Math.min(99, Math.floor(share * 100)) };
}

function completedRealScan(scan: ImageScan | undefined, now: number): ImageScan | undefined {
  return scan && !scan.skipped && !isRunning(scan, now) ? scan : undefined;
}

export function imageView(state: ImageState, now: number): ImageView {
  const done = completedRealScan(state.current, now);
  const succeeded = done?.outcome === 'SUCCESS' ? done : undefined;
  const lastSuccessAt = succeeded ? succeeded.finishAt : state.priorLastSuccessAt;
  const firstSuccessAt = state.priorFirstSuccessAt || lastSuccessAt;
  const lastScanTime = done ? done.finishAt : state.priorLastScanAt;
  const scan = state.current;
  if (!scan) {
    const prescanned = lastSuccessAt > 0;
    return {
      scaStatus: prescanned ? 'SUCCESS' : '',
      scaProgress: prescanned ? 100 : 0,
      scaResult: prescanned ? '' : 'TASK_NOT_EXISTS',
      lastScanTime,
      firstSuccessAt,
      lastSuccessAt,
    };
  }
  const { status, progress } = scanProgress(scan, now);
  let scaResult: ScaResult = '';
  if (scan.skipped === 'unsupported-region') scaResult = 'TASK_NOT_SUPPORT_REGION';
  if (state.repeatOf === scan && isRunning(scan, now)) scaResult = 'forbid_create_repeat_task';
  return { scaStatus: status, scaProgress: progress, scaResult, lastScanTime, firstSuccessAt, lastSuccessAt };
}

export interface AccountRuntime {
  authorizationsRemaining: number;
  /** Authorizations consumed since start-up (DescribeImageScanAuthCount's ScanCount). */
  authorizationsUsed: number;
  /** Digests that already consumed an authorization (a digest is paid for once). */
  authorizedDigests: Set<string>;
  noPermission: boolean | '*' | string[];
}

export interface CreateTaskResult {
  task: ScanTask;
  canCreate: boolean;
}

export class AccountScans {
  readonly images: ImageState[];
  readonly byUuid = new Map<string, ImageState>();
  readonly tasks: ScanTask[] = [];
  /** Tasks not yet seen finished; `refresh` moves them out. */
  private readonly running = new Set<ScanTask>();
  beyondQuataCount = 0;
  readonly runtime: AccountRuntime;

  constructor(
    readonly account: SeedAccount,
    private readonly seed: string,
    authorizations: number,
  ) {
    this.images = account.images.map((image) => ({
      image,
      priorLastScanAt: image.previousScanAt ?? 0,
      priorFirstSuccessAt: image.previousScanAt ?? 0,
      priorLastSuccessAt: image.previousScanAt ?? 0,
    }));
    for (const s of this.images) this.byUuid.set(s.image.uuid, s);
    this.runtime = {
      authorizationsRemaining: authorizations,
      authorizationsUsed: 0,
      authorizedDigests: new Set(account.images.filter((i) => i.previousScanAt).map((i) => i.digest)),
      noPermission: false,
    };
  }

  /** Forgets tasks that finished by `now`; returns how many are still running. */
  refresh(now: number): number {
    for (const task of this.running) if (task.finishAt <= now) this.running.delete(task);
    return this.running.size;
  }

  runningTasks(now: number): ScanTask[] {
    this.refresh(now);
    return [...this.running];
  }

  /** Authorizations a task over `images` would consume: one per digest never paid for. */
  authorizationsNeeded(images: readonly ImageState[], now: number): number {
    const digests = new Set<string>();
    for (const s of images) {
      if (!s.image.supportedRegion) continue;
      if (s.current && isRunning(s.current, now)) continue;
      if (!this.runtime.authorizedDigests.has(s.image.digest)) digests.add(s.image.digest);
    }
    return digests.size;
  }

  /**
   * Creates a task over `images` (already known to be non-empty and within the task limit).
   * Images in unsupported regions and images already being scanned are final at once; so are
   * images the remaining authorizations cannot pay for (they end FAIL without being scanned).
   */
  createTask(images: readonly ImageState[], now: number, durationMs: number, taskLimit: number, spreadPercent = 50): CreateTaskResult {
    const n = this.tasks.length;
    const task: ScanTask = {
      taskId: sha256Hex(`${this.seed}:alibaba:${this.account.name}:task:${n}`).slice(0, 32),
      id: 9_755_000 + n,
      createdAt: now,
      finishAt: now,
      uuids: images.map((s) => s.image.uuid),
      scans: new Map(),
      skipped: new Map(),
    };
    for (const s of images) {
      const { image } = s;
      if (s.current && isRunning(s.current, now)) {
        s.repeatOf = s.current;
        task.skipped.set(image.uuid, 'repeat');
        continue;
      }
      let scan: ImageScan;
      if (!image.supportedRegion) {
        // As in the seed's example: the scan "succeeds" with ScaResult TASK_NOT_SUPPORT_REGION.
        scan = { taskId: task.taskId, startAt: now, finishAt: now, outcome: 'SUCCESS', stallAt: 1, skipped: 'unsupported-region' };
        task.skipped.set(image.uuid, 'unsupported-region');
      } else if (!this.authorize(image.digest)) {
        scan = { taskId: task.taskId, startAt: now, finishAt: now, outcome: 'FAIL', stallAt: 0, skipped: 'unauthorized' };
        task.skipped.set(image.uuid, 'unauthorized');
      } else {
        scan = this.plannedScan(task.taskId, image, now, durationMs, spreadPercent);
        task.finishAt = Math.max(task.finishAt, scan.finishAt);
      }
      this.replaceCurrent(s, scan, now);
      task.scans.set(image.uuid, scan);
    }
    this.tasks.push(task);
    if (task.finishAt > now) this.running.add(task);
    return { task, canCreate: this.running.size < taskLimit };
  }

  private authorize(digest: string): boolean {
    if (this.runtime.authorizedDigests.has(digest)) return true;
    if (this.runtime.authorizationsRemaining <= 0) return false;
    this.runtime.authorizationsRemaining -= 1;
    this.runtime.authorizationsUsed += 1;
    this.runtime.authorizedDigests.add(digest);
    return true;
  }

  private plannedScan(taskId: string, image: SeedImage, now: number, durationMs: number, spreadPercent: number): ImageScan {
    // Each image takes its own deterministic share ((100 − spread) … 100 %) of the task's duration.
    const spread = spreadPercent / 100;
    const share = 1 - spread + (parseInt(sha256Hex(`${taskId}:${image.digest}`).slice(0, 8), 16) / 0xffffffff) * spread;
    switch (image.behaviour) {
      case 'scan-fail':
        return { taskId, startAt: now, finishAt: now + Math.round(durationMs * 0.6), outcome: 'FAIL', stallAt: 0.55 };
      case 'scan-timeout':
        return { taskId, startAt: now, finishAt: now + durationMs, outcome: 'TIMEOUT', stallAt: 0.45 };
      default:
        return { taskId, startAt: now, finishAt: now + Math.round(durationMs * share), outcome: 'SUCCESS', stallAt: 1 };
    }
  }

  private replaceCurrent(s: ImageState, scan: ImageScan, now: number): void {
    const view = imageView(s, now);
    s.priorLastScanAt = view.lastScanTime;
    s.priorLastSuccessAt = view.lastSuccessAt;
    s.priorFirstSuccessAt = view.firstSuccessAt;
    s.current = scan;
    delete s.repeatOf;
  }

  /** Task-level figures, as PublicCreateImageScanTask reports them. */
  taskSummary(task: ScanTask, now: number): { finishCount: number; progress: number; status: string; result: string } {
    let finishCount = 0;
    let progressSum = 0;
    let failed = 0;
    let scanned = 0;
    for (const uuid of task.uuids) {
      const scan = task.scans.get(uuid);
      if (!scan) {
        finishCount += 1; // a repeat: this task does not scan it
        progressSum += 100;
        continue;
      }
      const p = scanProgress(scan, now);
      if (!isRunning(scan, now)) {
        finishCount += 1;
        progressSum += 100;
      } else {
        progressSum += p.progress;
      }
      if (!scan.skipped) {
        scanned += 1;
        if (!isRunning(scan, now) && scan.outcome !== 'SUCCESS') failed += 1;
      }
    }
    const total = task.uuids.length;
    const allUnsupported = [...task.skipped.values()].filter((r) => r === 'unsupported-region').length === total;
    const running = finishCount < total;
    return {
      finishCount,
      progress: total ? Math.floor(progressSum / total) : 100,
      status: running ? (now === task.createdAt ? 'INIT' : 'PRE_ANALYZER') : scanned > 0 && failed === scanned ? 'FAIL' : 'SUCCESS',
      result: allUnsupported ? 'TASK_NOT_SUPPORT_REGION' : 'SUCCESS',
    };
  }
}
