import type { ScanReason } from '@scanq/core';
import type { ImageScanState } from '../contract.js';

/**
 * DescribeImageInstances' per-image `ScaStatus` (all 14 values of the API reference) and
 * `ScaResult` codes, mapped to scanq's image states.
 */
export const SCA_STATUSES = [
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
  'SUCCESS',
  'PRE_ANALYZER_SUCCESS',
  'FAIL',
  'TIMEOUT',
] as const;
export type ScaStatus = (typeof SCA_STATUSES)[number];

const SCA_STATE: Record<ScaStatus, { state: ImageScanState; reason?: ScanReason }> = {
  INIT: { state: 'scanning' },
  START: { state: 'scanning' },
  MESSAGE_SEND: { state: 'scanning' },
  START_RUN: { state: 'scanning' },
  DOWNLOAD: { state: 'scanning' },
  PRE_ANALYZER: { state: 'scanning' },
  WEB_SHELL_ANALYZER: { state: 'scanning' },
  CVE_ANALYZER: { state: 'scanning' },
  BIN_ANALYZER: { state: 'scanning' },
  OTHER_ANALYZER: { state: 'scanning' },
  // Pre-analysis done; the analysers proper still run.
  PRE_ANALYZER_SUCCESS: { state: 'scanning' },
  SUCCESS: { state: 'succeeded' },
  FAIL: { state: 'failed', reason: 'scan_failed' },
  TIMEOUT: { state: 'failed', reason: 'timed_out' },
};

export interface ImageOutcome {
  state: ImageScanState;
  reason?: ScanReason;
  message?: string;
}

/**
 * One image's outcome from its ScaStatus and ScaResult. ScaResult wins where it says the task
 * did not scan the image:
 * - TASK_NOT_SUPPORT_REGION: the image's region has no image scanning → failed (unsupported_region).
 * - TASK_NOT_EXISTS: no scan task covers the image → failed (scan_not_found), unless a status
 *   shows a scan running after all.
 * - forbid_create_repeat_task: another task is already scanning it; its result will show here
 *   when it ends → keep following (scanning).
 * An unknown status (a stage added after this list) counts as still scanning: the scan's
 * deadline bounds the wait.
 */
export function imageOutcome(scaStatus: string | undefined, scaResult: string | undefined): ImageOutcome {
  const status = (scaStatus ?? '').trim();
  const result = (scaResult ?? '').trim();
  const mapped = SCA_STATE[status as ScaStatus];
  if (result === 'TASK_NOT_SUPPORT_REGION') {
    return { state: 'failed', reason: 'unsupported_region', message: "the image's region does not support image security scanning (TASK_NOT_SUPPORT_REGION)" };
  }
  if (result.toLowerCase() === 'forbid_create_repeat_task') {
    return mapped && mapped.state !== 'scanning' ? { ...mapped, message: 'scanned by an earlier task (forbid_create_repeat_task)' } : { state: 'scanning', message: 'another task is scanning this image (forbid_create_repeat_task)' };
  }
  if (result === 'TASK_NOT_EXISTS' && (!mapped || mapped.state !== 'scanning')) {
    return { state: 'failed', reason: 'scan_not_found', message: 'no scan task covers this image (TASK_NOT_EXISTS)' };
  }
  if (!mapped) return { state: 'scanning', message: status ? `unrecognised ScaStatus ${status}` : 'no ScaStatus yet' };
  if (mapped.state === 'failed') return { ...mapped, message: `image scan ended ${status}` };
  return mapped;
}
