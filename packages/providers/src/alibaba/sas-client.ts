import { AsyncLocalStorage } from 'node:async_hooks';
import type { Agent } from 'node:http';
import { createRequire } from 'node:module';
import OpenApi, * as $OpenApi from '@alicloud/openapi-client';
import OpenApiUtil from '@alicloud/openapi-util';
import * as $Util from '@alicloud/tea-util';
import { type CallGate, DEFAULT_TIMEOUTS, observeCall, type ProviderAccount, type ProviderCallObserver, type ProviderTimeouts } from '../contract.js';
import { ProviderTransport } from '../transport.js';
import { toProviderError } from './errors.js';

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

/**
 * openapi-client takes no agent: its Tea runtime sends every request through `httpx.request`
 * with httpx's own module-wide agents. The one httpx instance Tea uses is found from
 * openapi-client's own dependencies and its `request` given the agent of the SasClient call in
 * progress (an AsyncLocalStorage kept on that module, so every copy of this file shares it);
 * calls from anywhere else pass through untouched.
 */
type HttpxRequest = (url: string, opts?: Record<string, unknown>) => Promise<unknown>;
interface Httpx {
  request: HttpxRequest;
  [CALL_AGENT]?: AsyncLocalStorage<Agent>;
}
const CALL_AGENT = Symbol.for('scanq.alibaba.callAgent');
const callAgent: AsyncLocalStorage<Agent> = (() => {
  const fromOpenApi = createRequire(createRequire(import.meta.url).resolve('@alicloud/openapi-client'));
  const httpx = createRequire(fromOpenApi.resolve('@alicloud/tea-typescript'))('httpx') as Httpx;
  if (!httpx[CALL_AGENT]) {
    const store = new AsyncLocalStorage<Agent>();
    const request = httpx.request;
    httpx.request = (url, opts) => {
      const agent = store.getStore();
      return request(url, agent ? { ...opts, agent } : opts);
    };
    httpx[CALL_AGENT] = store;
  }
  return httpx[CALL_AGENT]!;
})();

/** SAS is served from two endpoints: mainland China accounts and international ones. */
export function sasEndpoint(region: string): string {
  return region.startsWith('cn-') ? 'tds.cn-shanghai.aliyuncs.com' : 'tds.ap-southeast-1.aliyuncs.com';
}

export type SasBody = Record<string, unknown>;
export type SasParams = Record<string, string | number | boolean | undefined>;

export class SasClient {
  private readonly clients = new Map<string, { client: OpenApiClient; agent: Agent }>();

  constructor(
    private readonly callGate?: CallGate,
    private readonly timeouts: ProviderTimeouts = DEFAULT_TIMEOUTS,
    private readonly observer?: ProviderCallObserver,
    private readonly transport = new ProviderTransport({}),
  ) {}

  private client(account: ProviderAccount): { client: OpenApiClient; agent: Agent } {
    const key = `${account.id}|${account.endpoint ?? ''}|${account.region}|${account.credentials.accessKeyId ?? ''}`;
    let client = this.clients.get(key);
    if (!client) {
      // account.endpoint is a URL (the simulator) or absent (the real endpoint, HTTPS).
      const url = account.endpoint ? new URL(account.endpoint) : null;
      const config = new $OpenApi.Config({
        accessKeyId: account.credentials.accessKeyId,
        accessKeySecret: account.credentials.accessKeySecret,
        ...(account.credentials.securityToken ? { securityToken: account.credentials.securityToken } : {}),
        endpoint: url ? url.host : sasEndpoint(account.region),
        protocol: url ? url.protocol.replace(':', '') : 'https',
        regionId: account.region,
        // httpx sets connectTimeout as the socket's idle timeout for the whole request (an answer
        // slower than it failed as "ConnectTimeout"): the call's bound here, the connect's in the agent.
        connectTimeout: this.timeouts.requestMs,
        readTimeout: this.timeouts.requestMs,
      });
      client = { client: new Client(config), agent: this.transport.agent(account, url ? url.protocol : 'https:') };
      this.clients.set(key, client);
    }
    return client;
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
        return await callAgent.run(agent, () => client.callApi(params, request, new $Util.RuntimeOptions({ autoretry: false, maxAttempts: 1 })));
      } catch (err) {
        throw this.transport.failure(err, toProviderError);
      }
    });
    return (res.body ?? {}) as SasBody;
  }
}
