export { createRedis } from './connection.js';
export { QueueRepository, type QueueRepositoryOptions } from './queue.repository.js';
export { ScanOnceWindow, CLOUD_HOLDER, type WindowClaim } from './scan-once-window.js';
export { ConcurrencySlots, type SlotAcquisition, type SlotsState } from './concurrency-slots.js';
export { defineLuaCommand } from './scripts.js';
export { TokenBucket, type TokenBucketOptions, type TokenBucketState, type TokenGrant } from './token-bucket.js';
export { TokenBucketCallGate, type CallGateStats, type CallKey, type CallRate } from './call-gate.js';
export { ProviderCallStats, PROVIDER_CALL_BUCKETS, type ProviderCallRow } from './provider-call-stats.js';
export { DelayedError, type Job, Worker, UnrecoverableError } from 'bullmq';
