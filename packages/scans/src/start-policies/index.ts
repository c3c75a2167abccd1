import type { Provider, ScanqConfig } from '@scanq/core';
import type { ImageScanWindowRepository, QuotaLedgerRepository } from '@scanq/db';
import { RedisKeyspace, ScanOnceWindow, type RedisClient } from '@scanq/queue';
import { AlibabaScanTaskPolicy } from './alibaba-scan-task.policy.js';
import { AwsScanWindowPolicy } from './aws-scan-window.policy.js';
import type { StartPolicy } from './start-policy.js';

export * from './start-policy.js';
export { AwsScanWindowPolicy } from './aws-scan-window.policy.js';
export { AlibabaScanTaskPolicy, alibabaSlotsPrefix } from './alibaba-scan-task.policy.js';

export interface StartPolicyDeps {
  config: ScanqConfig;
  redis: RedisClient;
  /** Where quota grants are written (a connection of their own where grants WAIT for replicas); default `redis`. */
  quotaRedis?: RedisClient;
  windows: ImageScanWindowRepository;
  /** The ledger a quota lost with Redis is rebuilt from. */
  quotaLedger: QuotaLedgerRepository;
}

/**
 * Each provider's quota, built once per process. A provider's quota keys share its queue's
 * hash tag (RedisKeyspace.quota): one Redis Cluster slot per provider, spread over shards.
 * A provider without an entry starts directly (DirectStartPolicy).
 */
export function createStartPolicies({ config, redis, quotaRedis = redis, windows, quotaLedger }: StartPolicyDeps): Partial<Record<Provider, StartPolicy>> {
  const keyspace = new RedisKeyspace(config.queuePrefix);
  return {
    aws: new AwsScanWindowPolicy(new ScanOnceWindow(redis, `${keyspace.quota('aws')}:aws-scan-window`, config.worker.awsScanWindowMs), windows),
    alibaba: AlibabaScanTaskPolicy.create({ config, redis, quotaRedis, ledger: quotaLedger }),
  };
}
