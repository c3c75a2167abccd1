import { type ClientRequest, Agent as HttpAgent, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { connect as tcpConnect, isIP, type NetConnectOpts, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProviderError, SHUTTING_DOWN } from '@scanq/core';
import { CallDeadline } from '@scanq/core/call-deadline';
import { type AddressPolicy, addressRefusal, guardedLookup } from '@scanq/core/net';
import { type ProviderAccount, type ProviderDeps, timeoutsOf } from './contract.js';

/**
 * The connections every adapter's SDK makes, through agents of scanq's own (each SDK takes
 * one: AWS NodeHttpHandler httpAgent/httpsAgent, Tencent httpProfile.agent, Huawei axios
 * httpAgent/httpsAgent, Alibaba through `alibaba/sas-client.ts`). An account's own endpoint is
 * checked where the socket connects, as webhooks are: an endpoint resolving to a loopback,
 * private, link-local or CGNAT address is refused before any connection is made, unless
 * allowed. The clouds' real endpoints (account.endpoint null) are not checked: the operator's
 * DNS may rightly resolve them to private VPC endpoints.
 *
 * When the process shuts down (`deps.shutdownSignal`), every agent destroys its sockets, so
 * a call hanging on a cloud fails at once instead of holding the worker past its grace period,
 * and refuses new connections; the adapters report such failures as SHUTTING_DOWN.
 *
 * A call made under a `CallDeadline` (a create call) has each of its requests admitted by the
 * deadline and cut at it: its TCP connection is reset (RST, SO_LINGER 0), so bytes the kernel
 * still holds for it — a request written while the network was cut, retransmitted for minutes
 * by an orphaned socket after a plain close — are dropped, never delivered late. TLS runs over
 * a TCP socket of the transport's own for that: a TLS socket's handle cannot be reset.
 */

/** The rule's wording, shared by every refusal: the adapters find it in whatever error their SDK wrapped it in. */
const RULE =
  'account endpoints may not lead to loopback, private, link-local or CGNAT addresses unless SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS=true (loopback alone: SCANQ_PROVIDER_ALLOW_LOOPBACK_ENDPOINTS=true)';

type Agent = HttpAgent | HttpsAgent;
/** The TCP socket under each TLS socket the transport opened. */
const tcpUnder = new WeakMap<object, Socket>();

/**
 * Ends a connection so nothing it still holds is sent (for TLS, the TCP under it): connected, a
 * reset (RST, send queue dropped); still connecting, nothing was sent and a close aborts it.
 */
function cut(socket: Duplex): void {
  const tcp = tcpUnder.get(socket) ?? socket;
  if (!(tcp instanceof Socket) || tcp.destroyed) return;
  if (tcp.connecting) tcp.destroy();
  else tcp.resetAndDestroy();
}
type CreateConnection = (options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void) => Duplex | null | undefined;

export class ProviderTransport {
  private readonly policy: AddressPolicy;
  /** Refusal messages made so far (one per endpoint and address), to recognize them once wrapped. */
  private readonly refusals = new Set<string>();
  private readonly agents = new Set<Agent>();
  private readonly shutdown: AbortSignal | undefined;
  private readonly connectMs: number;

  constructor(deps: ProviderDeps) {
    this.connectMs = timeoutsOf(deps).connectMs;
    this.policy = { allowPrivate: deps.endpoints?.allowPrivate ?? false, allowLoopback: deps.endpoints?.allowLoopback ?? false };
    this.shutdown = deps.shutdownSignal;
    this.shutdown?.addEventListener('abort', () => {
      // Reset, not closed: a call cut here may be a create, whose bytes must not arrive later.
      for (const agent of this.agents) {
        for (const sockets of [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)]) for (const socket of sockets ?? []) cut(socket);
        agent.destroy();
      }
    }, { once: true });
  }

  /** A keep-alive agent for one SDK client's connections to `account`'s endpoint (`https:` for the real one). */
  agent(account: ProviderAccount, protocol: string): Agent {
    const agent = protocol === 'http:' ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true });
    this.agents.add(agent);
    const guarded = !!account.endpoint && !this.policy.allowPrivate;
    const endpoint = account.endpoint ?? '';
    const refuse = (host: string, address: string, kind: string) => {
      const message = `endpoint ${endpoint} of account ${account.name} refused: ${host === address ? host : `${host} resolves to ${address}`}, a ${kind} address; ${RULE}`;
      if (this.refusals.size > 1000) this.refusals.clear();
      this.refusals.add(message);
      return Object.assign(new Error(message), { code: 'EENDPOINTREFUSED' });
    };
    const lookup = guardedLookup(this.policy, refuse);
    const connect = agent.createConnection.bind(agent) as CreateConnection;
    const tls = protocol !== 'http:';
    (agent as { createConnection: CreateConnection }).createConnection = (options, callback) => {
      // The Agent's callback form: the request fails with this error and no socket is opened.
      const fail = (err: Error) => {
        process.nextTick(() => callback?.(err, undefined as never));
        return undefined;
      };
      if (this.shutdown?.aborted) return fail(this.shuttingDown());
      if (!guarded) return this.open(connect, options, callback, tls);
      // Node calls `lookup` only for names: an IP literal is judged here, before connecting.
      const host = String(options.host ?? options.hostname ?? '').replace(/^\[|\]$/g, '');
      const kind = isIP(host) ? addressRefusal(host, this.policy) : null;
      if (kind) return fail(refuse(host, host, kind));
      return this.open(connect, { ...options, lookup }, callback, tls);
    };
    // Every request passes here in its caller's async context: where a deadline is.
    const hooked = agent as unknown as { addRequest: (req: ClientRequest, options: unknown) => void };
    const addRequest = hooked.addRequest.bind(agent);
    hooked.addRequest = (req, options) => {
      if (this.admit(req)) addRequest(req, options);
    };
    return agent;
  }

  /**
   * A connection for the agent: plain TCP, or TLS over a TCP socket opened here (kept in
   * `tcpUnder`, so a deadline can reset it).
   */
  private open(connect: CreateConnection, options: ClientRequestArgs, callback: Parameters<CreateConnection>[1], tls: boolean): Duplex | null | undefined {
    if (!tls) return this.bounded(connect(options, callback));
    const tcp = this.bounded(tcpConnect({
      host: options.host ?? options.hostname ?? undefined,
      port: Number(options.port),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.family ? { family: options.family } : {}),
      ...(options.lookup ? { lookup: options.lookup } : {}),
    } as NetConnectOpts)) as Socket;
    // The https Agent's own createConnection (TLS sessions kept) runs TLS over it.
    const socket = connect({ ...options, socket: tcp } as ClientRequestArgs, callback);
    if (socket) tcpUnder.set(socket, tcp);
    return socket;
  }

  /**
   * Admits a request into its call's deadline, if any, to be cut at it. False (the request
   * destroyed, never sent) once the deadline has passed.
   */
  private admit(req: ClientRequest): boolean {
    const deadline = CallDeadline.current();
    if (!deadline) return true;
    const done = deadline.admit((err) => {
      if (req.socket) cut(req.socket);
      req.destroy(err);
    });
    if (!done) {
      req.destroy(deadline.error('a request would have started after it'));
      return false;
    }
    req.once('close', done);
    return true;
  }

  /**
   * The connect timeout, for every SDK alike: Tencent's and Huawei's have none apart from the
   * call's, and Alibaba's (httpx) is an idle timeout over the whole request.
   */
  private bounded(socket: Duplex | null | undefined): Duplex | null | undefined {
    if (!socket || !('connecting' in socket) || !socket.connecting) return socket;
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connection not made within ${this.connectMs} ms`), { code: 'ETIMEDOUT' })), this.connectMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
    return socket;
  }

  private shuttingDown(): ProviderError {
    return new ProviderError('retryable', SHUTTING_DOWN, 'cloud call cut short: this worker is shutting down', 'provider_error');
  }

  /** Throws SHUTTING_DOWN once the process is shutting down: called before each cloud call (and before waiting for a rate gate). */
  assertRunning(): void {
    if (this.shutdown?.aborted) throw this.shuttingDown();
  }

  /**
   * The adapter's classification of a failed call, unless the process is shutting down or the
   * endpoint rule refused it (terminal: retrying cannot help).
   */
  failure(err: unknown, classify: (err: unknown) => ProviderError): ProviderError {
    // Whatever the SDK made of a destroyed socket (a reset, a hang-up, its own wrapper).
    if (this.shutdown?.aborted) return this.shuttingDown();
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
