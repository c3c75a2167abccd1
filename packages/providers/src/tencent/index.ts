export { TencentTcssProvider, TCSS_ENDPOINT, type TencentTcssStats } from './tencent-tcss.provider.js';
export { mapTcssSeverity } from './severity.js';
export { normalizeImageVul } from './normalize.js';
export { imageProgressFromDetail, imageProgressFromRow, sensitiveInfoCount, type TcssImageDetail, type TcssImageStatus, type TcssStatusRow } from './progress.js';
export { toProviderError as tencentErrorToProviderError } from './errors.js';
