import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import type { HcClient } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';
import { ProviderError } from '@scanq/core';
import { observeCall, type ProviderAccount, type ProviderCallObserver, type ProviderTimeouts } from '../contract.js';
import type { ProviderTransport } from '../transport.js';
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
    private readonly observe?: { observer: ProviderCallObserver; accountId: string },
  ) {}

  async send<T extends object>(req: HssRequest): Promise<T> {
    this.transport.assertRunning();
    const queryParams: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) queryParams[k] = v;
    const call = () => this.hc.sendRequest<T & { httpStatusCode: number }>({
        method: req.method,
        url: req.url,
        contentType: 'application/json',
        pathParams: { project_id: this.projectId, ...req.pathParams },
        queryParams,
        headers: { region: req.region },
        ...(req.body ? { data: req.body } : {}),
      });
    return observeCall(this.observe?.observer, { provider: 'huawei', accountId: this.observe?.accountId ?? '', api: req.api }, async () => {
      try {
        return await call();
      } catch (err) {
        throw this.transport.failure(err, (e) => toProviderError(e, req.api));
      }
    });
  }
}

/** The real endpoint of HSS in a region (account.endpoint overrides it, e.g. for the simulator). */
export const hssEndpoint = (account: ProviderAccount): string => account.endpoint ?? `https://hss.${account.region}.myhuaweicloud.com`;

/** One signed client per account and endpoint. */
export class HssClients {
  private readonly clients = new Map<string, HssApi>();

  constructor(
    private readonly timeouts: ProviderTimeouts,
    private readonly transport: ProviderTransport,
    private readonly observer?: ProviderCallObserver,
  ) {}

  for(account: ProviderAccount): HssApi {
    const projectId = typeof account.settings.projectId === 'string' ? account.settings.projectId : '';
    const { ak, sk, securityToken } = account.credentials;
    if (!projectId) throw new ProviderError('terminal', 'ProjectIdMissing', `account ${account.name}: settings.projectId (the HSS project id) is required`, 'invalid');
    if (!ak || !sk) throw new ProviderError('terminal', 'CredentialsMissing', `account ${account.name}: credentials need ak and sk`, 'no_permission');
    const endpoint = hssEndpoint(account);
    const key = `${account.id}|${endpoint}|${projectId}|${ak}`;
    let api = this.clients.get(key);
    if (!api) {
      const credentials = new BasicCredentials().withAk(ak).withSk(sk).withProjectId(projectId);
      if (securityToken) credentials.withSecurityToken(securityToken);
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
      api = new HssApi(hc, projectId, this.transport, this.observer ? { observer: this.observer, accountId: account.id } : undefined);
      this.clients.set(key, api);
    }
    return api;
  }
}
