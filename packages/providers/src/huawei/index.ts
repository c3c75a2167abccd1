export { HuaweiHssProvider } from './huawei-hss.provider.js';
export { mapRepairNecessity } from './severity.js';
export { toProviderError as huaweiErrorToProviderError } from './errors.js';
