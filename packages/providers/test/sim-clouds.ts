import { type Provider, SIMULATOR_ACCOUNTS } from '@scanq/core';
import type { ProviderAccount, ScanProvider } from '../src/index.js';

/** Each cloud's first simulator account, pointed at `endpoint`, as an adapter receives it. */
export function simAccount(provider: Provider, endpoint: string): ProviderAccount {
  const { name, region, ...rest } = SIMULATOR_ACCOUNTS[provider][0] as { name: string; region: string; registryId?: string; projectId?: string } & Record<string, string>;
  const { registryId, projectId, ...credentials } = rest;
  const settings = { ...(registryId ? { registryId } : {}), ...(projectId ? { projectId } : {}) };
  return { id: `${provider}-1`, provider, name, region, endpoint, settings, credentials };
}

/** One call per cloud, and the API name the simulator counts it under (where the fault is armed). */
export const CALLS: Record<Provider, { api: string; call: (p: ScanProvider<any>, a: ProviderAccount) => Promise<unknown> }> = {
  aws: {
    // The call that hung for hours in the field: StartImageScan without throwOnRequestTimeout.
    api: 'StartImageScan',
    call: (p, a) => p.startScan(a, { repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } }, [{ registry: SIMULATOR_ACCOUNTS.aws[0].registryId, repository: 'scanq/api', tags: ['latest'], digest: `sha256:${'0'.repeat(64)}` }]),
  },
  alibaba: { api: 'DescribeImageInstances', call: (p, a) => p.resolveImages(a, {}) },
  tencent: { api: 'DescribeAssetImageRegistryList', call: (p, a) => p.resolveImages(a, { images: [{ registry: 'r', namespace: 'n', name: 'x', tag: 'latest' }] }) },
  huawei: { api: 'ListSwrImageRepository', call: (p, a) => p.resolveImages(a, { image_type: 'private_image', operate_all: true }) },
};
