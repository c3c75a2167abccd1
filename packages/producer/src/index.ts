export { ScanqProducer, ScanqRequestError, ScanqWaitTimeout, toEvent, type EnqueueOptions, type ScanqEvent, type ScanqProducerOptions } from './producer.js';
export type { CreateScanRequest, CreateBulkScanRequest, IntakePayload } from '@scanq/core';
