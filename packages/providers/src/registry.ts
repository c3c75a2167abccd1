import type { Provider } from '@scanq/core';
import { AwsEcrProvider } from './aws/index.js';
import type { ScanProvider } from './contract.js';

/** Every adapter this build ships, by provider. */
export function createProviders(): Partial<Record<Provider, ScanProvider<any>>> {
  return { aws: new AwsEcrProvider() };
}
