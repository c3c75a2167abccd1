export { AwsEcrProvider, inventoryPriorScan, type EcrInventoryEntry } from './aws-ecr.provider.js';
export { mapEcrSeverity } from './severity.js';
export { toProviderError as awsErrorToProviderError } from './errors.js';
