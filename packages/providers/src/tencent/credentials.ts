import { readFile } from 'node:fs/promises';
import { ProviderError, TENCENT_OIDC_DEFAULT_TOKEN_FILE, type TencentCredentialSource, answeredBy, tencentCredentialsSchema } from '@scanq/core';
import { CommonClient } from 'tencentcloud-sdk-nodejs/tencentcloud/common/common_client.js';
import * as cvmRoleModule from 'tencentcloud-sdk-nodejs/tencentcloud/common/cvm_role_credential.js';
import type { Credential } from 'tencentcloud-sdk-nodejs/tencentcloud/common/interface.js';
import { observeCall, type ProviderAccount, type ProviderCallObserver, type ProviderTimeouts } from '../contract.js';
import { credentialSourceOf, defaultSessionName, type Expiring, PerAccountCredentials, RefreshingCredentials, withTimeout } from '../refreshing-credentials.js';
import type { ProviderTransport } from '../transport.js';

/**
 * An account's Tencent Cloud keys, by its credential source:
 * - `static`: secretId/secretKey (+ token for temporary keys) from its secrets, as they are;
 * - `cam-role`: STS AssumeRole (2018-08-13) signed with those base keys;
 * - `oidc-role`: STS AssumeRoleWithWebIdentity with the TKE pod's OIDC token (re-read each time);
 * - `cvm-role`: the SDK's own CvmRoleCredential (instance metadata).
 * The STS calls go through the SDK's CommonClient (its TC3 signer and HTTP stack, our agent and
 * timeouts). The SDK's STSCredential / OIDCRoleArnCredential are not used: they rethrow STS
 * failures as a bare Error carrying only the message (no code, so a refused role could not be
 * told from an unreachable STS), refresh 30 s / 0.6 s before expiry whatever the lifetime, and
 * the OIDC one reads the token file only in its env-driven TKE mode.
 */

export const STS_ENDPOINT = 'sts.tencentcloudapi.com';
const STS_VERSION = '2018-08-13';
/** STS DurationSeconds when the account does not set one (the STS default, 7200, is longer than a scan needs). */
const DEFAULT_DURATION_SECONDS = 3600;

/** Keys to sign with; `expiration` for temporary ones (the SDK reads only secretId/secretKey/token). */
export type TencentKeys = Credential & Expiring;

/** STS answers (AssumeRole and AssumeRoleWithWebIdentity share them). */
interface StsAnswer {
  Credentials?: { Token?: string; TmpSecretId?: string; TmpSecretKey?: string };
  ExpiredTime?: number;
  Expiration?: string;
}

/** STS codes that mean "not now" rather than "no": the next attempt may pass. */
const STS_TRANSIENT = /^(InternalError|RequestLimitExceeded|ResourceUnavailable)/;

export class TencentCredentials {
  /** Per account: its keys, and the STS client / CvmRoleCredential every refresh reuses. */
  private readonly byAccount = new PerAccountCredentials((account) => {
    const source = TencentCredentials.sourceOf(account);
    let sts: CommonClient | undefined;
    let cvm: CvmRoleCredential | undefined;
    const clients: FetchClients = {
      sts: (endpoint, credential) => (sts ??= this.stsClient(account, endpoint, credential)),
      cvm: (roleName) => (cvm ??= cvmRoleCredential(roleName)),
    };
    return new RefreshingCredentials(() => this.fetch(account, source, clients));
  });

  constructor(
    private readonly timeouts: ProviderTimeouts,
    private readonly transport: ProviderTransport,
    private readonly observer?: ProviderCallObserver,
  ) {}

  /** The source an account uses: its block, or `static` when it has none. */
  static sourceOf(account: ProviderAccount): TencentCredentialSource {
    return credentialSourceOf(account, tencentCredentialsSchema);
  }

  /** A cache key part that changes whenever the account's keys would (its secrets or its source). */
  key(account: ProviderAccount): string {
    return this.byAccount.for(account).fingerprint;
  }

  /** The keys to sign the account's next call with (fetched or refreshed as needed). */
  async get(account: ProviderAccount): Promise<TencentKeys> {
    return this.byAccount.for(account).entry.get();
  }

  /** Whether the account's keys are fetched ones that a refused token can be traded for new ones. */
  refreshable(account: ProviderAccount): boolean {
    return TencentCredentials.sourceOf(account).source !== 'static';
  }

  /** The cloud refused `keys` as expired or unknown: the next call fetches new ones. */
  invalidate(account: ProviderAccount, keys: TencentKeys): void {
    this.byAccount.held(account.id)?.invalidate(keys);
  }

  private async fetch(account: ProviderAccount, source: TencentCredentialSource, clients: FetchClients): Promise<TencentKeys> {
    switch (source.source) {
      case 'static': {
        const { secretId, secretKey, token } = account.credentials;
        if (!secretId || !secretKey) throw new ProviderError('terminal', 'AuthFailure.SecretIdNotFound', `account ${account.name} has no secretId/secretKey credentials`, 'no_permission');
        return { secretId, secretKey, ...(token ? { token } : {}) };
      }
      case 'cam-role': {
        const { secretId, secretKey, token } = account.credentials;
        if (!secretId || !secretKey) {
          throw new ProviderError('terminal', 'AuthFailure.SecretIdNotFound', `account ${account.name}: assuming ${source.roleArn} needs base secretId/secretKey credentials`, 'no_permission');
        }
        const params = {
          RoleArn: source.roleArn,
          RoleSessionName: source.sessionName ?? defaultSessionName(account.name),
          DurationSeconds: source.durationSeconds ?? DEFAULT_DURATION_SECONDS,
          ...(source.externalId ? { ExternalId: source.externalId } : {}),
        };
        return this.sts(account, clients.sts(source.stsEndpoint, { secretId, secretKey, ...(token ? { token } : {}) }), 'AssumeRole', params, source.roleArn);
      }
      case 'oidc-role': {
        const file = source.webIdentityTokenFile ?? TENCENT_OIDC_DEFAULT_TOKEN_FILE;
        let token: string;
        try {
          // Re-read at every fetch: kubelet rotates the projected token.
          token = (await readFile(file, 'utf8')).trim();
        } catch (err) {
          throw new ProviderError('terminal', 'WebIdentityTokenUnreadable', `account ${account.name}: cannot read the OIDC token file ${file}: ${(err as Error).message}`, 'no_permission');
        }
        const params = {
          ProviderId: source.providerId,
          WebIdentityToken: token,
          RoleArn: source.roleArn,
          RoleSessionName: source.sessionName ?? defaultSessionName(account.name),
        };
        // AssumeRoleWithWebIdentity is not signed: the token is the proof.
        return this.sts(account, clients.sts(source.stsEndpoint, { secretId: '', secretKey: '' }), 'AssumeRoleWithWebIdentity', params, source.roleArn);
      }
      case 'cvm-role': {
        const provider = clients.cvm(source.roleName);
        try {
          // The SDK's metadata fetch has no timeout of its own.
          const keys = await withTimeout(this.timeouts.requestMs, 'CVM metadata', () => provider.getCredential());
          // The SDK keeps the expiry to itself; it refreshes 30 s ahead, so asking it again each minute costs nothing.
          return { ...keys, expiration: new Date(Date.now() + 60_000) };
        } catch (err) {
          const message = (err as Error).message ?? String(err);
          // "Get cvm role name failed, Please confirm whether the role is bound", or a non-Success code: no role to use.
          const refused = /role is bound|Code:/.test(message);
          throw answeredBy(new ProviderError(refused ? 'terminal' : 'retryable', 'CvmRoleCredential', `account ${account.name}: CVM role credentials: ${message}`, 'no_permission'), true);
        }
      }
    }
  }

  private stsClient(account: ProviderAccount, endpoint: string | undefined, credential: Credential): CommonClient {
    const url = endpoint ? new URL(endpoint) : null;
    return new CommonClient(url ? url.host : STS_ENDPOINT, STS_VERSION, {
      credential,
      region: account.region,
      profile: {
        httpProfile: {
          endpoint: url ? url.host : STS_ENDPOINT,
          protocol: url ? `${url.protocol}//` : 'https://',
          reqTimeout: this.timeouts.requestMs / 1000,
          // The endpoint rule applies to the STS endpoint as to the account's own.
          agent: this.transport.agent({ ...account, endpoint: endpoint ?? null }, url ? url.protocol : 'https:'),
        },
      },
    });
  }

  /** One STS call; its failure as a ProviderError (terminal when STS said no, retryable when it could not be reached). */
  private async sts(account: ProviderAccount, client: CommonClient, action: string, params: Record<string, unknown>, roleArn: string): Promise<TencentKeys> {
    let out: StsAnswer;
    try {
      const send = () => client.request(action, params, action === 'AssumeRoleWithWebIdentity' ? { skipSign: true } : {}) as Promise<StsAnswer>;
      out = await observeCall(this.observer, { provider: 'tencent', accountId: account.id, api: action }, send);
    } catch (err) {
      const e = err as { code?: string; message?: string; requestId?: string };
      const failure = this.transport.failure(err, () => {
        const code = typeof e.code === 'string' && e.code ? e.code : null;
        const message = `account ${account.name}: STS ${action} of ${roleArn} ${code ? `refused: ${code}: ${e.message ?? ''}${e.requestId ? ` (RequestId ${e.requestId})` : ''}` : `failed (STS unreachable): ${e.message ?? String(err)}`}`;
        if (!code || STS_TRANSIENT.test(code)) return new ProviderError('retryable', code ?? 'StsUnreachable', message, 'no_permission');
        return new ProviderError('terminal', code, message, 'no_permission');
      });
      // Whatever STS said, the data call itself was never made.
      throw answeredBy(failure, true);
    }
    const c = out.Credentials;
    if (!c?.TmpSecretId || !c.TmpSecretKey || !c.Token || typeof out.ExpiredTime !== 'number') {
      throw answeredBy(new ProviderError('retryable', 'StsBadAnswer', `account ${account.name}: STS ${action} answered without Credentials/ExpiredTime`, 'no_permission'), true);
    }
    return { secretId: c.TmpSecretId, secretKey: c.TmpSecretKey, token: c.Token, expiration: new Date(out.ExpiredTime * 1000) };
  }
}

type CvmRoleCredentialCtor = typeof cvmRoleModule.default.default;
type CvmRoleCredential = InstanceType<CvmRoleCredentialCtor>;
/**
 * The SDK's CvmRoleCredential, its module's CommonJS `exports.default`: Node's ESM import sees
 * that as `default.default` (credential.js re-exports it through a getter Node cannot detect),
 * a transforming loader as `default`.
 */
const CvmRoleCredentialClass: CvmRoleCredentialCtor = (() => {
  const d = (cvmRoleModule as { default: unknown }).default as { default?: unknown };
  return (typeof d === 'function' ? d : d.default) as CvmRoleCredentialCtor;
})();

interface FetchClients {
  sts(endpoint: string | undefined, credential: Credential): CommonClient;
  cvm(roleName: string | undefined): CvmRoleCredential;
}

/** The SDK's CvmRoleCredential; it asks the metadata service for the bound role's name first, which a named role skips. */
function cvmRoleCredential(roleName: string | undefined): CvmRoleCredential {
  const provider = new CvmRoleCredentialClass();
  if (roleName) (provider as unknown as { getRoleName: () => Promise<string> }).getRoleName = async () => roleName;
  return provider;
}

/** Codes with which Tencent refuses a temporary key's token (unknown, expired): worth one new fetch. */
export const isTokenRefused = (code: string): boolean => code === 'AuthFailure.TokenFailure' || code === 'AuthFailure.SecretIdNotFound';
