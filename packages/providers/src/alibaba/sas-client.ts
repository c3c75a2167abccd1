import type { Agent } from 'node:http';
import OpenApi, * as $OpenApi from '@alicloud/openapi-client';
import OpenApiUtil from '@alicloud/openapi-util';
import * as $Util from '@alicloud/tea-util';
import { type CallGate, DEFAULT_TIMEOUTS, observeCall, type ProviderAccount, type ProviderCallObserver, type ProviderTimeouts } from '../contract.js';
import { ProviderTransport } from '../transport.js';
import { AlibabaCredentials } from './credentials.js';
import { toProviderError } from './errors.js';
import { hookedHttpx, withAgent } from './httpx-agent.js';

/**
 * Security Center (SAS, API 2018-12-03) over `@alicloud/openapi-client`, the client every
 * generated Alibaba SDK wraps: `@alicloud/sas20181203` is not served by the registry this
 * project builds from, so each action is sent exactly as its generated `*WithOptions` method
 * would (RPC, POST /, business parameters in the query, ACS3-HMAC-SHA256 signing). A
 * parameter that can grow long (an OR-joined Criteria) may go in the form body instead, which
 * RPC POST takes like the query and the signature covers (its SHA-256 is signed), so no URL
 * length limit applies to it.
 * SDK retries are off: the queue owns retry policy.
 */
export const SAS_VERSION = '2018-12-03';

// The SDK packages are CommonJS with `exports.default`: TypeScript (NodeNext) sees the module
// object, some loaders hand over the class itself. Accept both.
type ClientClass = typeof OpenApi.default;
type OpenApiClient = InstanceType<ClientClass>;
const Client: ClientClass = (OpenApi as { default?: ClientClass }).default ?? (OpenApi as unknown as ClientClass);
type UtilClass = typeof OpenApiUtil.default;
const openApiUtil: UtilClass = (OpenApiUtil as { default?: UtilClass }).default ?? (OpenApiUtil as unknown as UtilClass);

// Tea's httpx, hooked so each call goes through the account's agent (httpx-agent.ts).
hookedHttpx('@alicloud/openapi-client', '@alicloud/tea-typescript');

/** SAS is served from two endpoints: mainland China accounts and international ones. */
export function sasEndpoint(region: string): string {
  return region.startsWith('cn-') ? 'tds.cn-shanghai.aliyuncs.com' : 'tds.ap-southeast-1.aliyuncs.com';
}

export type SasBody = Record<string, unknown>;
export type SasParams = Record<string, string | number | boolean | undefined>;

export class SasClient {
  /** One client per account, under the key it was built for (endpoint, region, credentials fingerprint). */
  private readonly clients = new Map<string, { key: string; client: OpenApiClient; agent: Agent }>();
  private readonly credentials: AlibabaCredentials;

  constructor(
    private readonly callGate?: CallGate,
    private readonly timeouts: ProviderTimeouts = DEFAULT_TIMEOUTS,
    private readonly observer?: ProviderCallObserver,
    private readonly transport = new ProviderTransport({}),
  ) {
    this.credentials = new AlibabaCredentials(timeouts, transport);
  }

  private client(account: ProviderAccount): { client: OpenApiClient; agent: Agent } {
    // Keyed by what the credentials are built from (a digest): a rotated secret set or a changed source builds a new client.
    const credentials = this.credentials.for(account);
    const key = `${account.endpoint ?? ''}|${account.region}|${credentials.fingerprint}`;
    const cached = this.clients.get(account.id);
    if (cached?.key === key) return cached;
    // account.endpoint is a URL (the simulator) or absent (the real endpoint, HTTPS).
    const url = account.endpoint ? new URL(account.endpoint) : null;
    const config = new $OpenApi.Config({
      // Asked on every call: the static set, or the held session (fetched anew near its expiry).
      credential: {
        getCredential: async () => {
          const identity = await credentials.get();
          return { accessKeyId: identity.accessKeyId, accessKeySecret: identity.accessKeySecret, securityToken: identity.securityToken, type: identity.securityToken ? 'sts' : 'access_key', providerName: '' };
        },
      },
      endpoint: url ? url.host : sasEndpoint(account.region),
      protocol: url ? url.protocol.replace(':', '') : 'https',
      regionId: account.region,
      // httpx sets connectTimeout as the socket's idle timeout for the whole request (an answer
      // slower than it failed as "ConnectTimeout"): the call's bound here, the connect's in the agent.
      connectTimeout: this.timeouts.requestMs,
      readTimeout: this.timeouts.requestMs,
    });
    const entry = { key, client: new Client(config), agent: this.transport.agent(account, url ? url.protocol : 'https:') };
    this.clients.set(account.id, entry);
    return entry;
  }

  /** Calls `action` with `query` (and `form`, sent as the form body) as its business parameters; returns the JSON body. */
  async call(account: ProviderAccount, action: string, query: SasParams, form?: SasParams): Promise<SasBody> {
    this.transport.assertRunning();
    await this.callGate?.acquire({ provider: 'alibaba', accountId: account.id, api: action });
    const params = new $OpenApi.Params({
      action,
      version: SAS_VERSION,
      protocol: 'HTTPS',
      pathname: '/',
      method: 'POST',
      authType: 'AK',
      style: 'RPC',
      reqBodyType: 'formData',
      bodyType: 'json',
    });
    const defined = (params: SasParams) => Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
    const request = new $OpenApi.OpenApiRequest({ query: openApiUtil.query(defined(query)), ...(form ? { body: openApiUtil.query(defined(form)) } : {}) });
    const res = await observeCall(this.observer, { provider: 'alibaba', accountId: account.id, api: action }, async () => {
      try {
        const { client, agent } = this.client(account);
        return await withAgent(agent, () => client.callApi(params, request, new $Util.RuntimeOptions({ autoretry: false, maxAttempts: 1 })));
      } catch (err) {
        const failed = this.transport.failure(err, toProviderError);
        // A session token the cloud calls expired or does not know: the next call fetches a new one.
        if (failed.code.startsWith('InvalidSecurityToken')) this.credentials.invalidate(account.id);
        throw failed;
      }
    });
    return (res.body ?? {}) as SasBody;
  }
}
