export { AlibabaSasProvider, type AlibabaProviderOptions, type AlibabaStartedScan, type AuthorizationCheck } from './alibaba-sas.provider.js';
export { digestCriteria, instanceCriteria, matchesTarget, parseRegistry, registryCriteria, taskParams } from './criteria.js';
export { planTasks as planAlibabaTasks } from './plan.js';
export { toProviderError as alibabaErrorToProviderError, BEYOND_QUOTA_RETRY_MS } from './errors.js';
export { normalizeVulRecord, parseCount, parseInstance, parseMillis } from './normalize.js';
export { sasEndpoint } from './sas-client.js';
export { mapSasNecessity } from './severity.js';
export { imageOutcome, SCA_STATUSES } from './status.js';
