import { Agent as HttpAgent, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProviderError } from '@scanq/core';
import { type AddressPolicy, addressRefusal, guardedLookup } from '@scanq/core/net';
import type { ProviderAccount, ProviderDeps } from './contract.js';

/**
 * The connections every adapter's SDK makes, through agents of scanq's own (each SDK takes
 * one: AWS NodeHttpHandler httpAgent/httpsAgent, Tencent httpProfile.agent, Huawei axios
 * httpAgent/httpsAgent, Alibaba through `alibaba/sas-client.ts`). An account's own endpoint is
 * checked where the socket connects, as webhooks are: an endpoint resolving to a loopback,
 * private, link-local or CGNAT address is refused before any connection is made, unless
 * allowed. The clouds' real endpoints (account.endpoint null) are not checked: the operator's
 * DNS may rightly resolve them to private VPC endpoints.
 */

/** The rule's wording, shared by every refusal: the adapters find it in whatever error their SDK wrapped it in. */
const RULE =
  'account endpoints may not lead to loopback, private, link-local or CGNAT addresses unless SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS=true (loopback alone: SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS=true)';

type Agent = HttpAgent | HttpsAgent;
type CreateConnection = (options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void) => Duplex | null | undefined;

export class ProviderTransport {
  private readonly policy: AddressPolicy;
  /** Refusal messages made so far (one per endpoint and address), to recognize them once wrapped. */
  private readonly refusals = new Set<string>();

  constructor(deps: ProviderDeps) {
    this.policy = { allowPrivate: deps.endpoints?.allowPrivate ?? false, allowLoopback: deps.endpoints?.allowLoopback ?? false };
  }

  /** A keep-alive agent for one SDK client's connections to `account`'s endpoint (`https:` for the real one). */
  agent(account: ProviderAccount, protocol: string): Agent {
    const agent = protocol === 'http:' ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true });
    if (!account.endpoint || this.policy.allowPrivate) return agent;
    const endpoint = account.endpoint;
    const refuse = (host: string, address: string, kind: string) => {
      const message = `endpoint ${endpoint} of account ${account.name} refused: ${host === address ? host : `${host} resolves to ${address}`}, a ${kind} address; ${RULE}`;
      if (this.refusals.size > 1000) this.refusals.clear();
      this.refusals.add(message);
      return Object.assign(new Error(message), { code: 'EENDPOINTREFUSED' });
    };
    const lookup = guardedLookup(this.policy, refuse);
    const connect = agent.createConnection.bind(agent) as CreateConnection;
    (agent as { createConnection: CreateConnection }).createConnection = (options, callback) => {
      // Node calls `lookup` only for names: an IP literal is judged here, before connecting.
      const host = String(options.host ?? options.hostname ?? '').replace(/^\[|\]$/g, '');
      const kind = isIP(host) ? addressRefusal(host, this.policy) : null;
      if (kind) {
        // The Agent's callback form: the request fails with this error, no socket is opened.
        process.nextTick(() => callback?.(refuse(host, host, kind), undefined as never));
        return undefined;
      }
      return connect({ ...options, lookup }, callback);
    };
    return agent;
  }

  /** The adapter's classification of a failed call, unless the endpoint rule refused it (terminal: retrying cannot help). */
  failure(err: unknown, classify: (err: unknown) => ProviderError): ProviderError {
    const refusal = this.refusalIn(err);
    if (refusal) return new ProviderError('terminal', 'EndpointRefused', refusal, 'endpoint_refused');
    return classify(err);
  }

  private refusalIn(err: unknown): string | undefined {
    if (this.refusals.size === 0) return undefined;
    // SDKs wrap the socket's error (Tencent and Huawei keep only its message, in their own words).
    for (let e = err as { message?: unknown; cause?: unknown } | null | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
      const text = String(e.message ?? '');
      for (const m of this.refusals) if (text.includes(m)) return m;
    }
    return undefined;
  }
}
