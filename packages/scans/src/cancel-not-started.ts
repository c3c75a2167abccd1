import { jobIds, type QueueName, queueForProvider } from '@scanq/core';
import type { ScanRepository } from '@scanq/db';
import type { QueueRepository } from '@scanq/queue';

/**
 * Cancels the scans of `where` that have not reached the cloud; returns how many it cancelled.
 * Their jobs go first: BullMQ removes a job only while no worker holds it, so a scan whose start
 * job a worker is running right now (and which may reach the cloud any moment) is left to end in
 * its real result instead of being marked cancelled under a start that goes on. A job that is
 * gone already (lost, or never enqueued) does not protect its scan.
 */
export async function cancelNotStartedScans(scans: ScanRepository, queues: QueueRepository, where: { id?: string; bulkScanId?: string }): Promise<number> {
  const candidates = await scans.notStarted(where);
  if (candidates.length === 0) return 0;
  const jobOf = (s: (typeof candidates)[number]) => s.jobId ?? jobIds.start(s.id);
  const byQueue = new Map<QueueName, string[]>();
  for (const s of candidates) {
    const queue = queueForProvider(s.provider);
    byQueue.set(queue, [...(byQueue.get(queue) ?? []), jobOf(s)]);
  }
  const held = new Set<string>();
  for (const [queue, ids] of byQueue) for (const id of await queues.removeUnlessActive(queue, ids)) held.add(id);
  const only = candidates.filter((s) => !held.has(jobOf(s))).map((s) => s.id);
  return (await scans.cancelNotStarted({ ...where, only })).length;
}
