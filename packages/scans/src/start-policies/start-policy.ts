import type { ScanReason } from '@scanq/core';
import type { ImageScan, ScanWithImages } from '@scanq/db';
import type { ImageRef, ProviderAccount, ScanProvider, StartedScan } from '@scanq/providers';
import type { GuardedStart } from '../cloud-create.js';

export interface StartOutcome {
  /** Provider handle to poll. */
  taskId: string;
  /** true when an existing cloud scan is followed instead of starting one. */
  reused: boolean;
  reason?: ScanReason;
}

/**
 * Runs a cloud create call through the lifecycle's guard (CloudCreateGuard): at most one task
 * per scan, a task an earlier attempt made adopted instead of created again.
 */
export type GuardedCreate = <T extends StartedScan>(call: () => Promise<T>) => Promise<GuardedStart<T>>;

/**
 * How a provider's scans are started under its quota. The create call itself goes through
 * `create`, never straight to the provider. Throws `ProviderError('quota', …)` with
 * `retryAfterMs` when the quota says "not now": the job then waits without failing.
 */
export interface StartPolicy {
  start(scan: ScanWithImages, images: ImageScan[], account: ProviderAccount, provider: ScanProvider, create: GuardedCreate): Promise<StartOutcome>;
  /** Gives quota back once the scan is over (slots); a no-op for window/rate quotas. */
  release?(scan: ScanWithImages, account: ProviderAccount): Promise<void>;
  /**
   * Called on every poll of a running scan: renews whatever lease the start took (slots), so
   * a live scan keeps its slot and a dead process's slot expires.
   */
  heartbeat?(scan: ScanWithImages, account: ProviderAccount): Promise<void>;
}

export const toImageRef = (img: ImageScan): ImageRef => ({
  registry: img.registry,
  repository: img.repository,
  tags: img.tags,
  digest: img.digest,
  providerImageId: img.providerImageId,
  raw: img.raw,
});

/** No quota beyond what the cloud enforces itself: just start. */
export class DirectStartPolicy implements StartPolicy {
  async start(scan: ScanWithImages, images: ImageScan[], account: ProviderAccount, provider: ScanProvider, create: GuardedCreate): Promise<StartOutcome> {
    const { started } = await create(() => provider.startScan(account, scan.target as Record<string, unknown>, images.map(toImageRef)));
    return { taskId: started.taskId, reused: false };
  }
}
