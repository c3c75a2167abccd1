import OpenApi, * as $OpenApi from '@alicloud/openapi-client';
import OpenApiUtil from '@alicloud/openapi-util';
import * as $Util from '@alicloud/tea-util';
import { type CallGate, DEFAULT_TIMEOUTS, observeCall, type ProviderAccount, type ProviderCallObserver, type ProviderTimeouts } from '../contract.js';
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

/** SAS is served from two endpoints: mainland China accounts and international ones. */
export function sasEndpoint(region: string): string {
  return region.startsWith('cn-') ? 'tds.cn-shanghai.aliyuncs.com' : 'tds.ap-southeast-1.aliyuncs.com';
}

export type SasBody = Record<string, unknown>;
export type SasParams = Record<string, string | number | boolean | undefined>;

/** Thrown for every failed call: a ProviderError that also says which action failed. */
export interface SasCallFailure {
  action: string;
}

export class SasClient {
  private readonly clients = new Map<string, OpenApiClient>();

  constructor(
    private readonly callGate?: CallGate,
    private readonly timeouts: ProviderTimeouts = DEFAULT_TIMEOUTS,
    private readonly observer?: ProviderCallObserver,
  ) {}

  private client(account: ProviderAccount): OpenApiClient {
    const key = `${account.id}|${account.endpoint ?? ''}|${account.region}|${account.credentials.accessKeyId ?? ''}`;
    let client = this.clients.get(key);
    if (!client) {
      // account.endpoint is a URL (the simulator) or absent (the real endpoint, HTTPS).
      const url = account.endpoint ? new URL(account.endpoint) : null;
      client = new Client(
        new $OpenApi.Config({
          accessKeyId: account.credentials.accessKeyId,
          accessKeySecret: account.credentials.accessKeySecret,
          ...(account.credentials.securityToken ? { securityToken: account.credentials.securityToken } : {}),
          endpoint: url ? url.host : sasEndpoint(account.region),
          protocol: url ? url.protocol.replace(':', '') : 'https',
          regionId: account.region,
          connectTimeout: this.timeouts.connectMs,
          readTimeout: this.timeouts.requestMs,
        }),
      );
      this.clients.set(key, client);
    }
    return client;
  }

  /** Calls `action` with `query` (and `form`, sent as the form body) as its business parameters; returns the JSON body. */
  async call(account: ProviderAccount, action: string, query: SasParams, form?: SasParams): Promise<SasBody> {
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
    try {
      const res = await observeCall(this.observer, { provider: 'alibaba', accountId: account.id, api: action }, async () => {
        try {
          return await this.client(account).callApi(params, request, new $Util.RuntimeOptions({ autoretry: false, maxAttempts: 1 }));
        } catch (err) {
          throw toProviderError(err);
        }
      });
      return (res.body ?? {}) as SasBody;
    } catch (err) {
      throw Object.assign(err as Error, { action } satisfies SasCallFailure);
    }
  }
}

/** The action whose call raised `err`, when it came from SasClient. */
export const failedAction = (err: unknown): string | undefined => (err as Partial<SasCallFailure> | null)?.action;
