import { PROVIDERS, type Provider } from './domain.js';
import type { CreateAccountRequest } from './schemas.js';

/**
 * The accounts the simulator is seeded with: well-known demo keys (they unlock nothing but the
 * local simulator). `pnpm start` and the tests point scanq accounts at them.
 */
export const SIMULATOR_ACCOUNTS = {
  aws: [
    { name: 'sim-aws', region: 'us-east-1', registryId: '123456789012', accessKeyId: 'AKIASCANQSIMULATOR01', secretAccessKey: 'scanq-sim-aws-secret-0001' },
    { name: 'sim-aws-2', region: 'eu-west-1', registryId: '210987654321', accessKeyId: 'AKIASCANQSIMULATOR02', secretAccessKey: 'scanq-sim-aws-secret-0002' },
  ],
  alibaba: [
    { name: 'sim-alibaba', region: 'cn-hangzhou', accessKeyId: 'LTAIscanqSimulator01', accessKeySecret: 'scanq-sim-alibaba-secret-0001' },
    { name: 'sim-alibaba-2', region: 'cn-shanghai', accessKeyId: 'LTAIscanqSimulator02', accessKeySecret: 'scanq-sim-alibaba-secret-0002' },
  ],
  tencent: [
    { name: 'sim-tencent', region: 'ap-guangzhou', secretId: 'AKIDscanqSimulator01', secretKey: 'scanq-sim-tencent-secret-0001' },
    { name: 'sim-tencent-2', region: 'ap-shanghai', secretId: 'AKIDscanqSimulator02', secretKey: 'scanq-sim-tencent-secret-0002' },
  ],
  huawei: [
    { name: 'sim-huawei', region: 'cn-north-4', projectId: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', ak: 'HWSCANQSIMULATOR0001', sk: 'scanq-sim-huawei-secret-0001' },
    { name: 'sim-huawei-2', region: 'ap-southeast-1', projectId: '9f8e7d6c5b4a39281706f5e4d3c2b1a0', ak: 'HWSCANQSIMULATOR0002', sk: 'scanq-sim-huawei-secret-0002' },
  ],
} as const;

export type SimulatorAccount = (typeof SIMULATOR_ACCOUNTS)[Provider][number];

/** The secrets of every simulator account, by credential name (the shape of SCANQ_CREDENTIALS). */
export function simulatorCredentials(): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const provider of PROVIDERS) {
    for (const account of SIMULATOR_ACCOUNTS[provider]) {
      const { name, region: _region, registryId: _registryId, projectId: _projectId, ...secrets } = account as SimulatorAccount & { registryId?: string; projectId?: string };
      out[name] = secrets as Record<string, string>;
    }
  }
  return out;
}

/** The account to register in scanq for simulator account `index` of `provider`, pointed at `endpoint`. */
export function simulatorAccountRequest(provider: Provider, index: number, endpoint: string): CreateAccountRequest {
  const account = SIMULATOR_ACCOUNTS[provider][index] as SimulatorAccount & { registryId?: string; projectId?: string };
  if (!account) throw new Error(`the simulator has no ${provider} account #${index}`);
  const settings: Record<string, unknown> = {};
  if (account.registryId) settings.registryId = account.registryId;
  if (account.projectId) settings.projectId = account.projectId;
  return { provider, name: account.name, region: account.region, endpoint, credentialRef: account.name, settings };
}
