/**
 * The roles the simulator's STS front ends let callers assume (AWS AssumeRole, Alibaba
 * AssumeRole): each role lives in one simulator account (whose scans its sessions run as), is
 * trusted by every simulator account's long-term keys (cross-account, as an AWS Organizations
 * or multi-account Alibaba set-up), and requires its ExternalId. Demo values: they unlock
 * nothing but the local simulator.
 */
export const SIMULATOR_ROLES = {
  aws: [
    { account: 'sim-aws', roleArn: 'arn:aws:iam::123456789012:role/scanq-scanner', externalId: 'scanq-sim-external-0001' },
    { account: 'sim-aws-2', roleArn: 'arn:aws:iam::210987654321:role/scanq-scanner', externalId: 'scanq-sim-external-0002' },
  ],
  alibaba: [
    { account: 'sim-alibaba', roleArn: 'acs:ram::1000000000000001:role/scanq-scanner', externalId: 'scanq-sim-external-0001' },
    { account: 'sim-alibaba-2', roleArn: 'acs:ram::1000000000000002:role/scanq-scanner', externalId: 'scanq-sim-external-0002' },
  ],
} as const;

export type SimulatorRole = (typeof SIMULATOR_ROLES)['aws' | 'alibaba'][number];
