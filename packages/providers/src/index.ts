export * from './contract.js';
export { createProviders } from './registry.js';
export { AwsEcrProvider, inventoryPriorScan, type EcrInventoryEntry } from './aws/index.js';
export { AlibabaSasProvider, type AlibabaStartedScan, type AuthorizationCheck } from './alibaba/index.js';
export { TencentTcssProvider, mapTcssSeverity, normalizeImageVul, imageProgressFromDetail, sensitiveInfoCount, tencentErrorToProviderError, type TcssImageDetail } from './tencent/index.js';
