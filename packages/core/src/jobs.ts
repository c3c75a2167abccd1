import type { CreateBulkScanRequest } from './bulk.js';
import type { Provider } from './domain.js';
import type { CreateScanRequest } from './schemas.js';

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
  webhooks: 'webhooks',
  /** Intake: other services add scan and bulk-scan requests here (see @scanq/producer). */
  requests: 'requests',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export const JobName = {
  /** Ask the quota, call the cloud to start (or reuse) the scan, then hand over to polling. */
  ScanStart: 'scan.start',
  /** Read progress; when done fetch findings, store them, finish the scan. Parks itself between polls. */
  ScanPoll: 'scan.poll',
  /** Re-enqueue scans whose job vanished, end scans past their deadline. */
  Reconcile: 'maintenance.reconcile',
  /** Turn a bulk scan's selector into scans (inventory → fewest provider calls) and enqueue them. */
  BulkPlan: 'bulk.plan',
  /** A bulk scan's last scan ended: compute its totals and worst findings, emit one completion event. */
  BulkComplete: 'bulk.complete',
  /** A schedule's cron fired: create the tick's bulk scan (once per schedule and tick). */
  ScheduleTick: 'schedule.tick',
  /** POST one signed completion event; retried with backoff, every attempt recorded. */
  WebhookDeliver: 'webhook.deliver',
  /** A scan request added by another service: validated, recorded (idempotent), started; returns the scan id. */
  ScanRequest: 'scan.request',
  /** A bulk-scan request added by another service; returns the bulk scan id. */
  BulkRequest: 'bulk.request',
} as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

export interface JobPayloads {
  [JobName.ScanStart]: { scanId: string };
  [JobName.ScanPoll]: { scanId: string; pollCount: number };
  [JobName.Reconcile]: Record<string, never>;
  [JobName.BulkPlan]: { bulkScanId: string };
  [JobName.BulkComplete]: { bulkScanId: string };
  [JobName.ScheduleTick]: { scheduleId: string };
  [JobName.WebhookDeliver]: { deliveryId: string };
  [JobName.ScanRequest]: IntakePayload<CreateScanRequest>;
  [JobName.BulkRequest]: IntakePayload<CreateBulkScanRequest>;
}

/**
 * An intake job's data: `request` is exactly the HTTP request body (same schema); the
 * idempotency key is the HTTP `Idempotency-Key`. Without one the job's own identity is used,
 * so a retried job never records a second scan.
 */
export interface IntakePayload<R> {
  request: R;
  idempotencyKey?: string;
}

export type JobItem = { [K in JobName]: { name: K; data: JobPayloads[K] } }[JobName];

/** Which jobs run on which queue. */
export const JOBS_BY_QUEUE: Record<QueueName, readonly JobName[]> = {
  aws: [JobName.ScanStart, JobName.ScanPoll],
  alibaba: [JobName.ScanStart, JobName.ScanPoll],
  tencent: [JobName.ScanStart, JobName.ScanPoll],
  huawei: [JobName.ScanStart, JobName.ScanPoll],
  maintenance: [JobName.Reconcile, JobName.BulkPlan, JobName.BulkComplete, JobName.ScheduleTick],
  webhooks: [JobName.WebhookDeliver],
  requests: [JobName.ScanRequest, JobName.BulkRequest],
};

/**
 * Bulk work runs behind on-demand scans on the same provider queue: BullMQ takes jobs without a
 * priority before any prioritized job, so an on-demand scan never waits for a bulk backlog.
 */
export const BULK_JOB_PRIORITY = 100;

export const queueForProvider = (provider: Provider): QueueName => QueueName[provider];

/** Job ids: the start job carries the scan id (so a retry never doubles it). */
export const jobIds = {
  bulkPlan: (bulkScanId: string) => `bulk-plan-${bulkScanId}`,
  bulkComplete: (bulkScanId: string) => `bulk-complete-${bulkScanId}`,
  scheduler: (scheduleId: string) => `schedule-${scheduleId}`,
  start: (scanId: string, generation = 0) => (generation === 0 ? scanId : `${scanId}-g${generation}`),
  poll: (scanId: string, generation = 0) => `${scanId}-poll${generation === 0 ? '' : `-g${generation}`}`,
};
