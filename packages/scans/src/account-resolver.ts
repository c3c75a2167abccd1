import { type ScanqConfig, ProviderError } from '@scanq/core';
import type { CloudAccount } from '@scanq/db';
import type { ProviderAccount } from '@scanq/providers';

/**
 * Turns a stored account (which holds only a credential *reference*) into what an adapter
 * needs, with the secrets taken from the worker's config. Nothing secret is ever stored.
 */
export class AccountResolver {
  constructor(private readonly credentials: ScanqConfig['credentials']) {}

  resolve(account: CloudAccount): ProviderAccount {
    const credentials = account.credentialRef === 'default' ? {} : this.credentials[account.credentialRef];
    if (!credentials) {
      // Retryable: one worker started without SCANQ_CREDENTIALS must not fail scans another
      // worker can run; where no worker has the set, the attempts run out and the scan fails
      // with this message.
      throw new ProviderError('retryable', 'CredentialsNotConfigured', `credential set "${account.credentialRef}" is not configured on this worker (SCANQ_CREDENTIALS)`, 'no_permission');
    }
    return {
      id: account.id,
      provider: account.provider,
      name: account.name,
      region: account.region,
      endpoint: account.endpoint,
      settings: (account.settings ?? {}) as Record<string, unknown>,
      credentials,
    };
  }
}
