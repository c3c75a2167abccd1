import type { Provider } from '@scanq/core';
import { AlibabaSasProvider } from './alibaba/index.js';
import { AwsEcrProvider } from './aws/index.js';
import { HuaweiHssProvider } from './huawei/index.js';
import { TencentTcssProvider } from './tencent/index.js';
import type { ProviderDeps, ScanProvider } from './contract.js';

/**
 * Every adapter this build ships, by provider. Each cloud adds its one line here; its SDK
 * stays inside its own folder.
 */
export function createProviders(deps: ProviderDeps = {}): Partial<Record<Provider, ScanProvider<any>>> {
  return {
    aws: new AwsEcrProvider(deps),
    alibaba: new AlibabaSasProvider(deps),
    tencent: new TencentTcssProvider(deps),
    huawei: new HuaweiHssProvider(deps),
  };
}
