export { createRedis } from './connection.js';
export { QueueRepository, type QueueRepositoryOptions } from './queue.repository.js';
export { ScanOnceWindow, CLOUD_HOLDER, type WindowClaim } from './scan-once-window.js';
export { defineLuaCommand } from './scripts.js';
export { DelayedError, type Job, Worker, UnrecoverableError } from 'bullmq';
