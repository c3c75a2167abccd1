import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import type { HcClient } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { ProviderError, answeredBy } from '@scanq/core';
import { observeCall, type ProviderAccount, type ProviderCallObserver, type ProviderTimeouts } from '../contract.js';
import type { ProviderTransport } from '../transport.js';
import { HuaweiCredentials, isTokenRefused } from './credentials.js';
import { toProviderError } from './errors.js';

/**
 * HSS v5 through `@huaweicloud/huaweicloud-sdk-core` alone (the generated
 * `@huaweicloud/huaweicloud-sdk-hss` is not served by the registry this project builds from):
 * a bare HcClient signs each request SDK-HMAC-SHA256 with the account's AK/SK and sends the
 * same `HttpRequestOptions` the generated HssClient's ParamCreater would build.
 */

export type Query = Record<string, string | number | boolean | undefined>;

export interface HssRequest {
  /** API name, for errors and logs. */
  api: string;
  method: 'GET' | 'POST';
  /** Path under the endpoint, e.g. `/v5/{project_id}/image/batch-scan`. */
  url: string;
  pathParams?: Record<string, string>;
  query?: Query;
  /** The `region` header HSS requires. */
  region: string;
  body?: Record<string, unknown>;
}

/** The SDK logs every failed call at ERROR with the signed request headers; errors reach the caller as ProviderError instead. */
const SILENT_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };

export class HssApi {
  constructor(
    private readonly hc: HcClient,
    readonly projectId: string,
    private readonly transport: ProviderTransport,
    private readonly account: ProviderAccount,
    private readonly credentials: HuaweiCredentials,
    private readonly observe?: { observer: ProviderCallObserver; accountId: string },
  ) {}

  async send<T extends object>(req: HssRequest): Promise<T> {
    for (let renewed = false; ; renewed = true) {
      this.transport.assertRunning();
      const { credential, keys } = await this.credentials.credential(this.account, this.projectId);
      try {
        return await this.sendWith<T>(req, credential);
      } catch (err) {
        // An agency's temporary keys refused (expired early by the cloud's clock, or revoked): fetch new ones once.
        if (!renewed && err instanceof ProviderError && isTokenRefused(err.code) && this.credentials.refreshable(this.account)) {
          this.credentials.invalidate(this.account, keys);
          continue;
        }
        throw err;
      }
    }
  }

  private sendWith<T extends object>(req: HssRequest, credential: BasicCredentials): Promise<T> {
    const queryParams: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) queryParams[k] = v;
    const call = () => {
      // The HcClient signs with the credential it holds when the call starts (read before its first await).
      this.hc.withCredential(credential);
      return this.hc.sendRequest<T & { httpStatusCode: number }>({
        method: req.method,
        url: req.url,
        contentType: 'application/json',
        pathParams: { project_id: this.projectId, ...req.pathParams },
        queryParams,
        headers: { region: req.region },
        ...(req.body ? { data: req.body } : {}),
      });
    };
    return observeCall(this.observe?.observer, { provider: 'huawei', accountId: this.observe?.accountId ?? '', api: req.api }, async () => {
      try {
        return await call();
      } catch (err) {
        throw this.transport.failure(err, (e) => federatedFailure(e, this.account) ?? toProviderError(e, req.api));
      }
    });
  }
}

/**
 * The SDK's federated (OIDC) login failed inside the call: it rethrows that as a bare
 * SdkException("Failed to update federal auth token by ID token: …"), so only its words tell it
 * apart. Retryable: the words do not say whether IAM refused or could not be reached.
 */
function federatedFailure(err: unknown, account: ProviderAccount): ProviderError | null {
  const text = String((err as { message?: unknown; errorMsg?: unknown } | null)?.errorMsg ?? (err as { message?: unknown } | null)?.message ?? err);
  if (!/federal auth token|idTokenFile/i.test(text)) return null;
  return answeredBy(new ProviderError('retryable', 'FederatedTokenFailed', `account ${account.name}: OIDC login at IAM failed: ${text}`, 'no_permission'), true);
}

/** The real endpoint of HSS in a region (account.endpoint overrides it, e.g. for the simulator). */
export const hssEndpoint = (account: ProviderAccount): string => account.endpoint ?? `https://hss.${account.region}.myhuaweicloud.com`;

/** One client per account and endpoint; the credential it signs with is the account's current one, set per call. */
export class HssClients {
  private readonly clients = new Map<string, HssApi>();
  private readonly credentials: HuaweiCredentials;

  constructor(
    private readonly timeouts: ProviderTimeouts,
    private readonly transport: ProviderTransport,
    private readonly observer?: ProviderCallObserver,
  ) {
    this.credentials = new HuaweiCredentials(timeouts, transport, observer);
  }

  for(account: ProviderAccount): HssApi {
    const projectId = typeof account.settings.projectId === 'string' ? account.settings.projectId : '';
    if (!projectId) throw new ProviderError('terminal', 'ProjectIdMissing', `account ${account.name}: settings.projectId (the HSS project id) is required`, 'invalid');
    const endpoint = hssEndpoint(account);
    // The credential part changes with the account's secrets or source, so no client outlives them.
    const key = `${account.id}|${endpoint}|${projectId}|${this.credentials.key(account)}`;
    let api = this.clients.get(key);
    if (!api) {
      for (const k of this.clients.keys()) if (k.startsWith(`${account.id}|`)) this.clients.delete(k);
      // A placeholder: every call sets the account's current credential first (HssApi.send).
      const credentials = new BasicCredentials().withProjectId(projectId);
      // One endpoint only: the SDK's single "retry" is a failover to a second endpoint, so with
      // one there is no SDK retry at all; the queue owns retry.
      const hc = new ClientBuilder<HcClient>((c) => c)
        .withEndpoint(endpoint)
        .withCredential(credentials)
        .withOptions({
          axiosRequestConfig: {
            timeout: this.timeouts.requestMs, // axios: a timer over the whole call
            httpAgent: this.transport.agent(account, 'http:'),
            httpsAgent: this.transport.agent(account, 'https:'),
          },
        })
        .build();
      const http = (hc as unknown as { httpClient?: { _logger?: unknown } }).httpClient;
      if (http && '_logger' in http) http._logger = SILENT_LOGGER;
      api = new HssApi(hc, projectId, this.transport, account, this.credentials, this.observer ? { observer: this.observer, accountId: account.id } : undefined);
      this.clients.set(key, api);
    }
    return api;
  }
}
