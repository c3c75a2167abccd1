import type { Provider, ScanqConfig } from '@scanq/core';
import type { ImageScanWindowRepository, QuotaLedgerRepository } from '@scanq/db';
import { ScanOnceWindow } from '@scanq/queue';
import type { Redis } from 'ioredis';
import { AlibabaScanTaskPolicy } from './alibaba-scan-task.policy.js';
import { AwsScanWindowPolicy } from './aws-scan-window.policy.js';
import type { StartPolicy } from './start-policy.js';

export * from './start-policy.js';
export { AwsScanWindowPolicy } from './aws-scan-window.policy.js';
export { AlibabaScanTaskPolicy } from './alibaba-scan-task.policy.js';

export interface StartPolicyDeps {
  config: ScanqConfig;
  redis: Redis;
  windows: ImageScanWindowRepository;
  /** The ledger a quota lost with Redis is rebuilt from. */
  quotaLedger: QuotaLedgerRepository;
}

/**
 * Each provider's quota, built once per process. Keys share the queue prefix (a `{…}` hash
 * tag) so every quota of a deployment lives in one Redis Cluster slot with its queues.
 * A provider without an entry starts directly (DirectStartPolicy).
 */
export function createStartPolicies({ config, redis, windows, quotaLedger }: StartPolicyDeps): Partial<Record<Provider, StartPolicy>> {
  const quotaPrefix = `${config.queuePrefix}:quota`;
  return {
    aws: new AwsScanWindowPolicy(new ScanOnceWindow(redis, `${quotaPrefix}:aws-scan-window`, config.worker.awsScanWindowMs), windows),
    alibaba: AlibabaScanTaskPolicy.create({ config, redis, quotaPrefix, ledger: quotaLedger }),
  };
}
