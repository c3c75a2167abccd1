import { BasicCredentials, GlobalCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import type { HcClient } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { type HuaweiCredentialSource, ProviderError, answeredBy, huaweiCredentialsSchema } from '@scanq/core';
import { observeCall, type ProviderAccount, type ProviderCallObserver, type ProviderTimeouts } from '../contract.js';
import { credentialSourceOf, type Expiring, PerAccountCredentials, RefreshingCredentials } from '../refreshing-credentials.js';
import type { ProviderTransport } from '../transport.js';
import type { SdkError } from './errors.js';

/**
 * An account's Huawei Cloud credential, by its source:
 * - `static`: ak/sk (+ securityToken for temporary keys) from its secrets;
 * - `agency`: IAM "obtain temporary access keys of an agency" (POST
 *   /v3.0/OS-CREDENTIAL/securitytokens, methods ["assume_role"]), signed SDK-HMAC-SHA256 with the
 *   base ak/sk by the core SDK's own signer and HTTP client (HcClient + GlobalCredentials). The
 *   core SDK has no agency support of its own (only the generated IAM SDK, which the registry
 *   this project builds from does not serve), so this is the one call written here;
 * - `oidc`: the core SDK's own federated login (BasicCredentials.withIdpId/withIdTokenFile),
 *   which trades the id token for temporary keys at IAM and refreshes them itself.
 * The core SDK (3.1.x for Node) has no ECS metadata credential provider, so there is no
 * `metadata` source.
 */

export const IAM_ENDPOINT = 'https://iam.myhuaweicloud.com';
const SECURITY_TOKENS_PATH = '/v3.0/OS-CREDENTIAL/securitytokens';
/** IAM's own default is 900 s; an hour spares most scans a refresh. */
const DEFAULT_DURATION_SECONDS = 3600;
const SILENT_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };

export interface HuaweiKeys extends Expiring {
  ak: string;
  sk: string;
  securityToken?: string;
}

/** The answer's documented body (HTTP 201). */
interface SecurityTokensAnswer {
  credential?: { access?: string; secret?: string; securitytoken?: string; expires_at?: string };
}

export class HuaweiCredentials {
  /** Per account: its keys (static or an agency's, the IAM client reused by every refresh) or, for OIDC, the SDK's own federated credential. */
  private readonly byAccount = new PerAccountCredentials((account): { keys?: RefreshingCredentials<HuaweiKeys>; federated?: BasicCredentials } => {
    const source = HuaweiCredentials.sourceOf(account);
    return source.source === 'oidc' ? {} : { keys: new RefreshingCredentials(this.fetcher(account, source)) };
  });

  constructor(
    private readonly timeouts: ProviderTimeouts,
    private readonly transport: ProviderTransport,
    private readonly observer?: ProviderCallObserver,
  ) {}

  static sourceOf(account: ProviderAccount): HuaweiCredentialSource {
    return credentialSourceOf(account, huaweiCredentialsSchema);
  }

  /** A cache key part that changes whenever the account's credential would (its secrets or its source). */
  key(account: ProviderAccount): string {
    return this.byAccount.for(account).fingerprint;
  }

  /** Whether a refused token can be traded for new keys (an agency's; the SDK renews OIDC keys itself). */
  refreshable(account: ProviderAccount): boolean {
    return HuaweiCredentials.sourceOf(account).source === 'agency';
  }

  /**
   * The SDK credential to sign the account's next call with, project-scoped. Static and agency
   * keys come back as a fresh BasicCredentials around the current keys (cheap; the SDK keeps no
   * state in it for a project-scoped call); an OIDC account keeps one BasicCredentials, in which
   * the SDK holds and renews its federated keys.
   */
  async credential(account: ProviderAccount, projectId: string): Promise<{ credential: BasicCredentials; keys?: HuaweiKeys }> {
    const { entry } = this.byAccount.for(account);
    if (!entry.keys) {
      const source = HuaweiCredentials.sourceOf(account) as Extract<HuaweiCredentialSource, { source: 'oidc' }>;
      entry.federated ??= new BasicCredentials().withIdpId(source.idpId).withIdTokenFile(source.idTokenFile).withIamEndpoint(source.iamEndpoint ?? IAM_ENDPOINT).withProjectId(projectId);
      return { credential: entry.federated };
    }
    const keys = await entry.keys.get();
    const credential = new BasicCredentials().withAk(keys.ak).withSk(keys.sk).withProjectId(projectId);
    if (keys.securityToken) credential.withSecurityToken(keys.securityToken);
    return { credential, keys };
  }

  invalidate(account: ProviderAccount, keys: HuaweiKeys | undefined): void {
    this.byAccount.held(account.id)?.keys?.invalidate(keys);
  }

  private base(account: ProviderAccount, purpose: string): HuaweiKeys {
    const { ak, sk, securityToken } = account.credentials;
    if (!ak || !sk) throw new ProviderError('terminal', 'CredentialsMissing', `account ${account.name}: credentials need ak and sk${purpose}`, 'no_permission');
    return { ak, sk, ...(securityToken ? { securityToken } : {}) };
  }

  /** The account's key fetch; an agency's IAM client is built once and reused by every refresh. */
  private fetcher(account: ProviderAccount, source: HuaweiCredentialSource): () => Promise<HuaweiKeys> {
    if (source.source === 'static') return async () => this.base(account, '');
    if (source.source !== 'agency') throw new Error(`unreachable: ${source.source}`);
    let hc: HcClient | undefined;
    return async () => {
      const base = this.base(account, ` (the base keys that assume agency ${source.agencyName})`);
      hc ??= this.iamClient(account, source, base);
      return this.assumeAgency(account, source, hc);
    };
  }

  private iamClient(account: ProviderAccount, source: Extract<HuaweiCredentialSource, { source: 'agency' }>, base: HuaweiKeys): HcClient {
    const endpoint = source.iamEndpoint ?? IAM_ENDPOINT;
    const signer = new GlobalCredentials().withAk(base.ak).withSk(base.sk);
    if (base.securityToken) signer.withSecurityToken(base.securityToken);
    const hc = new ClientBuilder<HcClient>((c) => c)
      .withEndpoint(endpoint)
      .withCredential(signer)
      .withOptions({
        axiosRequestConfig: {
          timeout: this.timeouts.requestMs,
          // The endpoint rule applies to the IAM endpoint as to the account's own.
          httpAgent: this.transport.agent({ ...account, endpoint: source.iamEndpoint ?? null }, 'http:'),
          httpsAgent: this.transport.agent({ ...account, endpoint: source.iamEndpoint ?? null }, 'https:'),
        },
      })
      .build();
    const http = (hc as unknown as { httpClient?: { _logger?: unknown } }).httpClient;
    if (http && '_logger' in http) http._logger = SILENT_LOGGER;
    return hc;
  }

  private async assumeAgency(account: ProviderAccount, source: Extract<HuaweiCredentialSource, { source: 'agency' }>, hc: HcClient): Promise<HuaweiKeys> {
    const agency = `${source.domainName ?? source.domainId}/${source.agencyName}`;
    let out: SecurityTokensAnswer;
    try {
      out = await observeCall(this.observer, { provider: 'huawei', accountId: account.id, api: 'CreateTemporaryAccessKeyByAgency' }, () => hc.sendRequest<SecurityTokensAnswer & { httpStatusCode: number }>({
        method: 'POST',
        url: SECURITY_TOKENS_PATH,
        contentType: 'application/json',
        pathParams: {},
        queryParams: {},
        headers: {},
        data: {
          auth: {
            identity: {
              methods: ['assume_role'],
              assume_role: {
                ...(source.domainName ? { domain_name: source.domainName } : { domain_id: source.domainId }),
                agency_name: source.agencyName,
                duration_seconds: source.durationSeconds ?? DEFAULT_DURATION_SECONDS,
                session_user: { name: `scanq-${account.name}`.slice(0, 64) },
              },
            },
          },
        },
      }));
    } catch (err) {
      const failure = this.transport.failure(err, () => {
        const e = (err ?? {}) as SdkError;
        const status = Number(e.httpStatusCode);
        const answered = Number.isFinite(status) && status > 0;
        const code = e.errorCode || (answered ? `HTTP${status}` : 'IamUnreachable');
        const detail = e.errorMsg || e.message || String(err);
        const message = `account ${account.name}: IAM agency ${agency} ${answered ? `refused (HTTP ${status}, ${code}): ${detail}` : `could not be assumed (IAM unreachable): ${detail}`}${e.requestId ? ` (request ${e.requestId})` : ''}`;
        // 4xx: IAM said no (bad base keys, no such agency, not trusted); 5xx or no answer: try again later.
        if (answered && status < 500 && status !== 429) return new ProviderError('terminal', code, message, 'no_permission');
        return new ProviderError('retryable', code, message, 'no_permission');
      });
      throw answeredBy(failure, true);
    }
    const c = out.credential;
    const expiresAt = c?.expires_at ? Date.parse(c.expires_at) : Number.NaN;
    if (!c?.access || !c.secret || !c.securitytoken || Number.isNaN(expiresAt)) {
      throw answeredBy(new ProviderError('retryable', 'IamBadAnswer', `account ${account.name}: IAM agency ${agency} answered without credential access/secret/securitytoken/expires_at`, 'no_permission'), true);
    }
    return { ak: c.access, sk: c.secret, securityToken: c.securitytoken, expiration: new Date(expiresAt) };
  }
}

/** APIG's answer to a refused AK/SK or token (expired security token included): worth one new fetch for fetched keys. */
export const isTokenRefused = (code: string): boolean => code === 'APIG.0301';
