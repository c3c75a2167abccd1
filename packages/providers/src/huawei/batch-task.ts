import { ProviderError } from '@scanq/core';
import { type HssImageKey, type RepositoryImage, keyString } from './wire.js';

const TASK_PREFIX = 'hss-batch-scan@';

/**
 * The task id carries what polling needs, since BatchScanSwrImage answers no task id: when
 * the batch scan was asked for (ms) and how many listed images it covers.
 */
export const taskIdOf = (startedAt: number, tracked: number): string => `${TASK_PREFIX}${startedAt}/${tracked}`;

export function taskOf(taskId: string): { startedAt: number; tracked?: number } {
  const match = taskId.startsWith(TASK_PREFIX) ? /^(\d+)(?:\/(\d+))?$/.exec(taskId.slice(TASK_PREFIX.length)) : null;
  const startedAt = match ? Number(match[1]) : Number.NaN;
  if (!match || !Number.isSafeInteger(startedAt)) throw new ProviderError('terminal', 'InvalidTaskId', `not an HSS batch-scan task: ${taskId}`, 'invalid');
  // Ids made before the count was carried have none: such scans settle by listing only.
  return { startedAt, ...(match[2] !== undefined ? { tracked: Number(match[2]) } : {}) };
}

/** scan_status of an image HSS is scanning or has queued for a scan. */
const UNDER_SCAN = new Set(['scanning', 'waiting_for_scan']);

/**
 * Whether every image of `keys` is under a scan asked for at or after `since` (ms), as its list
 * entry shows: scanning or queued now, or its latest scan ended (any outcome) at or after
 * `since`. An image not listed, never scanned or last scanned earlier is not.
 */
export function coveredSince(keys: HssImageKey[], listed: ReadonlyMap<string, RepositoryImage>, since: number): boolean {
  return keys.every((key) => {
    const img = listed.get(keyString(key));
    if (!img) return false;
    if (UNDER_SCAN.has(img.scanStatus ?? '')) return true;
    return img.scanStatus !== 'unscan' && img.latestScanTime !== undefined && img.latestScanTime >= since;
  });
}
