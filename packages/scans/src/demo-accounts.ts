import { PROVIDERS, simulatorAccountRequest } from '@scanq/core';
import type { AccountRepository } from '@scanq/db';

/**
 * SCANQ_DEMO_ACCOUNTS: registers the simulator's first seeded account of each cloud (sim-aws,
 * sim-alibaba, sim-tencent, sim-huawei), pointed at `simulatorUrl` (SIM_URL). The API does it at
 * start when asked (compose's demo), `pnpm start` always. Idempotent, and safe when several API
 * replicas start at once. Their secrets are the simulator's public demo keys
 * (simulatorCredentials(): SCANQ_CREDENTIALS must carry them for the workers).
 */
export async function seedDemoAccounts(accounts: AccountRepository, simulatorUrl: string): Promise<string[]> {
  const names: string[] = [];
  for (const provider of PROVIDERS) {
    const account = await accounts.upsertByNameConcurrently(simulatorAccountRequest(provider, 0, simulatorUrl));
    names.push(account.name);
  }
  return names;
}
