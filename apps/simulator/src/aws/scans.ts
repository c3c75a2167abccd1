import type { EcrImage } from './inventory.js';

/** ECR allows one scan per image per 24 hours, scan on push included. */
export const SCAN_WINDOW_MS = 24 * 3600 * 1000;

export interface ScanRecord {
  /** Epoch ms on the simulator clock. */
  startedAt: number;
  completesAt: number;
  trigger: 'push' | 'manual';
}

export type ScanStatus = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

/**
 * The latest scan of each image, keyed by registry, repository and digest: an image is its
 * digest, so every tag of it shares one record and one 24 h window. Also counts what tests and
 * benchmarks want to read back: scans started and LimitExceeded answers per image.
 */
export class ScanBook {
  private readonly latest = new Map<string, ScanRecord>();
  private readonly started = new Map<string, number>();
  private readonly limited = new Map<string, number>();

  static key(registryId: string, repositoryName: string, digest: string): string {
    return `${registryId}/${repositoryName}@${digest}`;
  }

  get(key: string): ScanRecord | undefined {
    return this.latest.get(key);
  }

  /** Records a scan that happened before the simulator started (not counted as started here). */
  seed(key: string, record: ScanRecord): void {
    this.latest.set(key, record);
  }

  /** Whether a scan started within the last 24 h blocks a new one. */
  blocked(key: string, now: number): boolean {
    const record = this.latest.get(key);
    return record !== undefined && now - record.startedAt < SCAN_WINDOW_MS;
  }

  start(key: string, now: number, durationMs: number): ScanRecord {
    const record: ScanRecord = { startedAt: now, completesAt: now + durationMs, trigger: 'manual' };
    this.latest.set(key, record);
    this.started.set(key, (this.started.get(key) ?? 0) + 1);
    return record;
  }

  noteLimitExceeded(key: string): void {
    this.limited.set(key, (this.limited.get(key) ?? 0) + 1);
  }

  counters(): {
    scansStarted: Record<string, number>;
    scansStartedTotal: number;
    limitExceeded: Record<string, number>;
    limitExceededTotal: number;
  } {
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    return {
      scansStarted: Object.fromEntries(this.started),
      scansStartedTotal: sum(this.started),
      limitExceeded: Object.fromEntries(this.limited),
      limitExceededTotal: sum(this.limited),
    };
  }
}

/** Where a scan stands at `now`: running until its duration has passed, then done. */
export function scanStatus(record: ScanRecord, image: EcrImage, now: number): ScanStatus {
  if (now < record.completesAt) return 'IN_PROGRESS';
  return image.kind === 'failing' ? 'FAILED' : 'COMPLETE';
}

export const SCAN_STATUS_DESCRIPTIONS: Record<ScanStatus, string | undefined> = {
  IN_PROGRESS: undefined,
  COMPLETE: 'The scan was completed successfully.',
  FAILED: 'UnsupportedImageError: The operating system and/or package manager are not supported.',
};
