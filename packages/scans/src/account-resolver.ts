import { type CredentialSets, type CredentialSource, ProviderError, storedCredentialSource } from '@scanq/core';
import type { CloudAccount } from '@scanq/db';
import type { ProviderAccount } from '@scanq/providers';

/**
 * Turns a stored account (which holds only a credential *reference* and the name of its
 * credential source) into what an adapter needs, with the secrets taken from the worker's
 * config (SCANQ_CREDENTIALS, SCANQ_CREDENTIALS_FILE: a set changed in the file is seen on the
 * next resolve). Nothing secret is ever stored.
 */
export class AccountResolver {
  private readonly sets: CredentialSets;

  constructor(credentials: Record<string, Record<string, string>> | CredentialSets) {
    this.sets = typeof (credentials as CredentialSets).get === 'function' ? (credentials as CredentialSets) : { get: (name) => (Object.hasOwn(credentials, name) ? (credentials as Record<string, Record<string, string>>)[name] : undefined) };
  }

  resolve(account: CloudAccount): ProviderAccount {
    let credentialSource: CredentialSource | null;
    try {
      credentialSource = storedCredentialSource(account.provider, account.credentials);
    } catch (err) {
      throw new ProviderError('terminal', 'InvalidCredentialSource', `account ${account.name}: ${(err as Error).message}`, 'no_permission');
    }
    const set = account.credentialRef === 'default' ? {} : this.sets.get(account.credentialRef);
    if (!set && usesSecretSet(credentialSource)) {
      // Retryable: one worker started without the set must not fail scans another worker can
      // run; where no worker has the set, the attempts run out and the scan fails with this message.
      throw new ProviderError('retryable', 'CredentialsNotConfigured', `credential set "${account.credentialRef}" is not configured on this worker (SCANQ_CREDENTIALS or SCANQ_CREDENTIALS_FILE)`, 'no_permission');
    }
    return {
      id: account.id,
      provider: account.provider,
      name: account.name,
      region: account.region,
      endpoint: account.endpoint,
      settings: (account.settings ?? {}) as Record<string, unknown>,
      credentials: set ?? {},
      credentialSource,
    };
  }
}

/** Whether a source signs (or calls STS) with the secret set credentialRef names, or with the worker's own identity. */
function usesSecretSet(source: CredentialSource | null): boolean {
  if (!source) return true;
  switch (source.source) {
    case 'assume-role':
      return source.base !== 'default-chain';
    case 'default-chain':
    case 'ecs-ram-role':
    case 'oidc-role-arn':
    case 'cvm-role':
    case 'oidc-role':
    case 'oidc':
      return false; // the worker's own identity (env, profile, pod or instance role, OIDC token file)
    default:
      return true; // static, and the role sources that call STS/IAM with a set (assume-role, ram-role-arn, cam-role, agency)
  }
}
