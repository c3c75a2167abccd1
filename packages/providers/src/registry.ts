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
export function createProviders(_deps: ProviderDeps = {}): Partial<Record<Provider, ScanProvider<any>>> {
  return {
    aws: new AwsEcrProvider(),
    alibaba: new AlibabaSasProvider(_deps),
    tencent: new TencentTcssProvider(_deps),
    huawei: new HuaweiHssProvider(),
  };
}
