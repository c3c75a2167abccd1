import type { CloudFrontEnd } from './core/frontend.js';
import { createAlibabaSasFrontEnd } from './alibaba/index.js';
import { createAwsEcrFrontEnd } from './aws/index.js';
import { createTencentTcssFrontEnd } from './tencent/index.js';
import { createHuaweiHssFrontEnd } from './huawei/index.js';

/** Every cloud front end this simulator serves, built from the SIM_* options. */
export function createFrontEnds(options: Record<string, string>): CloudFrontEnd[] {
  return [
    createAlibabaSasFrontEnd(options),
    createAwsEcrFrontEnd(options),
    createTencentTcssFrontEnd(options),
    createHuaweiHssFrontEnd(options),
  ];
}
