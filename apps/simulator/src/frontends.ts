import type { CloudFrontEnd } from './core/frontend.js';
import { createAwsEcrFrontEnd } from './aws/index.js';

/** Every cloud front end this simulator serves, built from the SIM_* options. */
export function createFrontEnds(options: Record<string, string>): CloudFrontEnd[] {
  return [
    createAwsEcrFrontEnd(options),
  ];
}
