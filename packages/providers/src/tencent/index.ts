export { TencentTcssProvider, TCSS_ENDPOINT, type TencentTcssStats } from './tencent-tcss.provider.js';
export { mapTcssSeverity } from './severity.js';
export { normalizeImageVul } from './normalize.js';
export { imageProgressFromDetail, sensitiveInfoCount, type TcssImageDetail, type TcssImageStatus } from './progress.js';
export { toProviderError as tencentErrorToProviderError } from './errors.js';
