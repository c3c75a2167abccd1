import { ProviderError, isProviderError } from '@scanq/core';
import type { ImageScan, ImageScanWindowRepository, ScanWithImages } from '@scanq/db';
import { CLOUD_HOLDER, type ScanOnceWindow } from '@scanq/queue';
import { inventoryPriorScan, type ProviderAccount, type ScanProvider } from '@scanq/providers';
import { type GuardedCreate, type StartOutcome, type StartPolicy, toImageRef } from './start-policy.js';

/**
 * AWS ECR allows one StartImageScan per image per 24 h, scan-on-push included. Before
 * starting, a recent scan is reused: one the cloud reports (scan-on-push, another tool), one
 * Postgres remembers, or one another worker claimed in Redis. Only the holder of the Redis
 * claim *and* the Postgres record calls StartImageScan, so two workers never start the same
 * image and a Redis loss never costs a LimitExceededException.
 */
export class AwsScanWindowPolicy implements StartPolicy {
  constructor(
    private readonly window: ScanOnceWindow,
    private readonly records: ImageScanWindowRepository,
    /** How long to wait before trying again when the cloud refuses and has no scan to reuse. */
    private readonly limitRetryMs = 30 * 60 * 1000,
  ) {}

  async start(scan: ScanWithImages, images: ImageScan[], account: ProviderAccount, provider: ScanProvider, create: GuardedCreate): Promise<StartOutcome> {
    const image = images[0];
    if (!image?.digest) throw new ProviderError('terminal', 'InvalidParameterException', 'image digest unresolved', 'invalid_parameter');
    const ref = toImageRef(image);
    const key = { accountId: account.id, registry: image.registry, repository: image.repository, digest: image.digest };
    const parts = [key.accountId, key.registry, key.repository, key.digest];
    const now = Date.now();
    const windowMs = this.window.windowMs;

    // 1. The cloud's own record: scan-on-push or a scan by someone else inside the window
    //    (from the bulk inventory's listing when the image came from one, else asked now).
    const listed = inventoryPriorScan(image.raw);
    const prior = listed !== undefined ? listed : await provider.latestScan(account, ref);
    if (prior?.state === 'in_progress' || (prior?.at && now - prior.at.getTime() < windowMs)) {
      const at = prior.at?.getTime() ?? now;
      await Promise.all([this.window.seed(parts, at), this.records.recordSeen(key, new Date(at))]);
      return { taskId: image.digest, reused: true, reason: 'reused_recent_scan' };
    }

    // 2. The cross-process claim, then its durable twin. Losing either means another scan
    //    started this image inside the window: follow that scan instead.
    const claim = await this.window.claim(parts, scan.id);
    if (!claim.claimed) return { taskId: image.digest, reused: true, reason: 'reused_recent_scan' };
    if (!(await this.records.claim(key, scan.id, new Date(now), windowMs))) {
      const record = await this.records.get(key);
      if (record) await this.window.seed(parts, record.lastRequestedAt.getTime(), record.scanId ?? CLOUD_HOLDER);
      return { taskId: image.digest, reused: true, reason: 'reused_recent_scan' };
    }

    // 3. Start.
    try {
      const { started } = await create(() => provider.startScan(account, scan.target as Record<string, unknown>, [ref]));
      return { taskId: started.taskId, reused: false };
    } catch (err) {
      if (!isProviderError(err)) throw err;
      if (err.code === 'LimitExceededException') {
        // The cloud scanned it inside the window without us seeing it: reuse that scan's
        // findings if the cloud shows one, else wait for the window to open.
        const after = await provider.latestScan(account, ref);
        if (after) return { taskId: image.digest, reused: true, reason: 'limit_exceeded_reused' };
        throw new ProviderError('quota', err.code, err.message, 'limit_exceeded_waiting', this.limitRetryMs);
      }
      if (err.kind === 'terminal') {
        // The cloud refused outright: nothing was scanned, so the window is not spent.
        await Promise.all([this.window.release(parts, scan.id), this.records.release(key, scan.id)]);
      }
      throw err;
    }
  }
}
