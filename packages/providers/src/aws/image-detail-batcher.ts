import type { ImageDetail, ImageIdentifier } from '@aws-sdk/client-ecr';
import { isProviderError } from '@scanq/core';

/** DescribeImages takes at most 100 `imageIds` a call. */
export const DESCRIBE_IMAGES_MAX_IDS = 100;

/** One DescribeImages call for some image ids of one repository; errors already ProviderErrors. */
export type DescribeImageIds = (imageIds: ImageIdentifier[]) => Promise<ImageDetail[]>;

interface Waiter {
  imageId: ImageIdentifier;
  resolve(detail: ImageDetail | undefined): void;
  reject(err: unknown): void;
}

interface Batch {
  describe: DescribeImageIds;
  waiters: Waiter[];
}

/** The detail a DescribeImages answer holds for `id`: by digest when the id names one, else by tag. */
function detailFor(details: ImageDetail[], id: ImageIdentifier): ImageDetail | undefined {
  return details.find((d) =>
    id.imageDigest ? d.imageDigest === id.imageDigest && (!id.imageTag || (d.imageTags ?? []).includes(id.imageTag)) : (d.imageTags ?? []).includes(id.imageTag ?? ''),
  );
}

/**
 * Tag resolution for many scans at once: every image id of one repository asked for within one
 * event-loop turn goes out as one DescribeImages call (up to 100 ids), so a burst of on-demand
 * scans of one repository costs one call per hundred images instead of one each, at no added
 * latency. ECR fails the whole call when any id is missing, so a terminal error (or an id the
 * answer does not cover) sends those ids again one per call: each scan still gets its own answer.
 * A retryable error (throttling, 5xx) is every waiter's: its job retries with backoff.
 */
export class EcrImageDetailBatcher {
  private readonly batches = new Map<string, Batch>();

  /** The image's detail (undefined when ECR answers without it); `key` names the repository and the caller. */
  detail(key: string, imageId: ImageIdentifier, describe: DescribeImageIds): Promise<ImageDetail | undefined> {
    return new Promise((resolve, reject) => {
      let batch = this.batches.get(key);
      if (!batch) {
        batch = { describe, waiters: [] };
        this.batches.set(key, batch);
        const scheduled = batch;
        setImmediate(() => this.flush(key, scheduled));
      }
      batch.waiters.push({ imageId, resolve, reject });
      if (batch.waiters.length >= DESCRIBE_IMAGES_MAX_IDS) this.flush(key, batch);
    });
  }

  private flush(key: string, batch: Batch): void {
    if (this.batches.get(key) !== batch) return; // already sent (full before its turn ended)
    this.batches.delete(key);
    void this.send(batch);
  }

  private async send({ describe, waiters }: Batch): Promise<void> {
    if (waiters.length === 1) return this.one(describe, waiters[0]!);
    // Identical ids (two scans of one tag) go once: ECR is not asked the same id twice in a call.
    const ids = [...new Map(waiters.map((w) => [JSON.stringify([w.imageId.imageDigest ?? null, w.imageId.imageTag ?? null]), w.imageId])).values()];
    let details: ImageDetail[];
    try {
      details = await describe(ids);
    } catch (err) {
      if (isProviderError(err) && err.kind === 'terminal') {
        await Promise.all(waiters.map((w) => this.one(describe, w)));
      } else {
        for (const w of waiters) w.reject(err);
      }
      return;
    }
    await Promise.all(
      waiters.map((w) => {
        const detail = detailFor(details, w.imageId);
        return detail ? w.resolve(detail) : this.one(describe, w);
      }),
    );
  }

  private async one(describe: DescribeImageIds, waiter: Waiter): Promise<void> {
    try {
      waiter.resolve((await describe([waiter.imageId]))[0]);
    } catch (err) {
      waiter.reject(err);
    }
  }
}
