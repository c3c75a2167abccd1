import type { Provider } from './domain.js';

/**
 * Queue and job names with their payloads: one typed union (cf. Immich's JobItem), so a
 * handler's payload type follows from its job name and a worker can refuse to boot when a
 * job has no handler.
 */
export const QueueName = {
  aws: 'aws',
  alibaba: 'alibaba',
  tencent: 'tencent',
  huawei: 'huawei',
  maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export const JobName = {
  /** Ask the quota, call the cloud to start (or reuse) the scan, then hand over to polling. */
  ScanStart: 'scan.start',
  /** Read progress; when done fetch findings, store them, finish the scan. Parks itself between polls. */
  ScanPoll: 'scan.poll',
  /** Re-enqueue scans whose job vanished, end scans past their deadline. */
  Reconcile: 'maintenance.reconcile',
} as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

export interface JobPayloads {
  [JobName.ScanStart]: { scanId: string };
  [JobName.ScanPoll]: { scanId: string; pollCount: number };
  [JobName.Reconcile]: Record<string, never>;
}

export type JobItem = { [K in JobName]: { name: K; data: JobPayloads[K] } }[JobName];

/** Which jobs run on which queue. */
export const JOBS_BY_QUEUE: Record<QueueName, readonly JobName[]> = {
  aws: [JobName.ScanStart, JobName.ScanPoll],
  alibaba: [JobName.ScanStart, JobName.ScanPoll],
  tencent: [JobName.ScanStart, JobName.ScanPoll],
  huawei: [JobName.ScanStart, JobName.ScanPoll],
  maintenance: [JobName.Reconcile],
};

export const queueForProvider = (provider: Provider): QueueName => QueueName[provider];

/** Job ids: the start job carries the scan id (so a retry never doubles it). */
export const jobIds = {
  start: (scanId: string, generation = 0) => (generation === 0 ? scanId : `${scanId}-g${generation}`),
  poll: (scanId: string, generation = 0) => `${scanId}-poll${generation === 0 ? '' : `-g${generation}`}`,
};
