import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { type AwsCredentialSource, ProviderError } from '@scanq/core';
import { type ProviderAccount, type ProviderDeps, timeoutsOf } from '../contract.js';
import { defaultSessionName, PerAccountCredentials, RefreshingCredentials } from '../refreshing-credentials.js';
import type { ProviderTransport } from '../transport.js';

/**
 * Where an ECR client gets its credentials, per the account's `credentials` block:
 * - static (or none): the secret set (accessKeyId, secretAccessKey, optional sessionToken);
 * - default-chain: the SDK's default chain (`fromNodeProviderChain`: env, shared config and
 *   profile, web identity — EKS IRSA —, ECS container and EC2 instance metadata);
 * - assume-role: STS AssumeRole (`fromTemporaryCredentials`) with the role ARN, ExternalId and
 *   session name, called with the secret set or the default chain (`base`), at `stsEndpoint`.
 * Each account's provider is cached and refreshed before expiry (RefreshingCredentials); its
 * failures are ProviderErrors with reason no_permission: terminal when STS refused (a 4xx:
 * wrong ExternalId, a role that does not trust the caller), retryable when STS could not be
 * reached or answered 5xx/throttling, and when no identity was found on this worker.
 */
type Identity = Awaited<ReturnType<ReturnType<typeof fromNodeProviderChain>>>;
export type AwsCredentialProvider = () => Promise<Identity>;

interface Entry {
  credentials: RefreshingCredentials<Identity> | null;
  provider: AwsCredentialProvider | undefined;
}

export class AwsCredentials {
  private readonly byAccount = new PerAccountCredentials((account) => this.build(account, (account.credentialSource ?? null) as AwsCredentialSource | null));

  constructor(
    private readonly deps: ProviderDeps,
    private readonly transport: ProviderTransport,
  ) {}

  /**
   * The account's credentials for an SDK client and the fingerprint to cache that client
   * under: `provider` undefined means the SDK's own default (static set empty: `default`).
   */
  for(account: ProviderAccount): { fingerprint: string; provider: AwsCredentialProvider | Identity | undefined } {
    const { fingerprint, entry } = this.byAccount.for(account);
    return { fingerprint, provider: entry.provider };
  }

  /** The cloud refused the held credentials (expired or unknown token): fetch anew on the next call. */
  invalidate(accountId: string): void {
    this.byAccount.held(accountId)?.credentials?.invalidate();
  }

  private build(account: ProviderAccount, source: AwsCredentialSource | null): Entry {
    if (!source || source.source === 'static') {
      const { accessKeyId, secretAccessKey, sessionToken } = account.credentials;
      const identity = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
      return { credentials: null, provider: identity ? async () => identity : undefined };
    }
    const what = source.source === 'assume-role' ? `assume-role ${source.roleArn}` : `default-chain${source.source === 'default-chain' && source.profile ? ` (profile ${source.profile})` : ''}`;
    const fetch = source.source === 'default-chain' ? fromNodeProviderChain(source.profile ? { profile: source.profile } : {}) : this.assumeRole(account, source);
    const credentials = new RefreshingCredentials<Identity>(async () => {
      try {
        return await fetch();
      } catch (err) {
        throw this.failure(account, what, err);
      }
    });
    return { credentials, provider: () => credentials.get() };
  }

  private assumeRole(account: ProviderAccount, source: Extract<AwsCredentialSource, { source: 'assume-role' }>): AwsCredentialProvider {
    const timeouts = timeoutsOf(this.deps);
    const base =
      source.base === 'default-chain'
        ? fromNodeProviderChain()
        : (() => {
            const { accessKeyId, secretAccessKey, sessionToken } = account.credentials;
            if (!accessKeyId || !secretAccessKey) {
              throw new ProviderError('terminal', 'CredentialsIncomplete', `account ${account.name}: assume-role with base static needs accessKeyId and secretAccessKey in its credential set`, 'no_permission');
            }
            return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
          })();
    // STS is reached through scanq's agents too: its endpoint is held to the account endpoint's rules.
    const stsAccount = { ...account, endpoint: source.stsEndpoint ?? null };
    return fromTemporaryCredentials({
      masterCredentials: base,
      params: {
        RoleArn: source.roleArn,
        RoleSessionName: source.sessionName ?? defaultSessionName(account.name),
        DurationSeconds: source.durationSeconds ?? 3600,
        ...(source.externalId ? { ExternalId: source.externalId } : {}),
      },
      clientConfig: {
        region: source.stsRegion ?? account.region,
        ...(source.stsEndpoint ? { endpoint: source.stsEndpoint } : {}),
        maxAttempts: 1,
        requestHandler: {
          connectionTimeout: timeouts.connectMs,
          requestTimeout: timeouts.requestMs,
          throwOnRequestTimeout: true,
          httpAgent: this.transport.agent(stsAccount, 'http:'),
          httpsAgent: this.transport.agent(stsAccount, 'https:'),
        },
      },
    }) as AwsCredentialProvider;
  }

  private failure(account: ProviderAccount, what: string, err: unknown): ProviderError {
    if (err instanceof ProviderError) return err;
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const code = e?.name && e.name !== 'Error' ? e.name : 'CredentialsError';
    const status = e?.$metadata?.httpStatusCode;
    const message = `AWS credentials of account ${account.name} (${what}) failed: ${code}: ${e?.message ?? String(err)}`;
    // STS answered with a refusal (AccessDenied for a wrong ExternalId or an untrusting role, InvalidClientTokenId for unknown keys).
    const refused = status !== undefined && status >= 400 && status < 500 && status !== 429 && !/Throttl/.test(code);
    return new ProviderError(refused ? 'terminal' : 'retryable', code, message, 'no_permission');
  }
}
