import type { Agent } from 'node:http';
import { ECSRAMRoleCredentialsProvider, OIDCRoleArnCredentialsProvider, RAMRoleARNCredentialsProvider, StaticAKCredentialsProvider, StaticSTSCredentialsProvider } from '@alicloud/credentials';
import { type AlibabaCredentialSource, ProviderError } from '@scanq/core';
import type { ProviderAccount, ProviderTimeouts } from '../contract.js';
import { defaultSessionName, PerAccountCredentials, RefreshingCredentials } from '../refreshing-credentials.js';
import type { ProviderTransport } from '../transport.js';
import { hookedHttpx, withAgent } from './httpx-agent.js';

/** What signs a SAS call: an AccessKey pair, with a security token when temporary. */
export interface AlibabaIdentity {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
  expiration?: Date;
}

/** The session providers of @alicloud/credentials: `refresher` fetches one session (public API), `doRequest` sends its HTTP request. */
interface SessionProvider {
  refresher: () => Promise<{ accessKeyId: string; accessKeySecret: string; securityToken: string; expiration: string }>;
}
interface CredentialsRequest {
  protocol: string;
  toRequestURL(): string;
  method: string;
  headers: Record<string, string>;
  bodyForm?: Record<string, string>;
  readTimeout?: number;
  connectTimeout?: number;
}

const httpx = hookedHttpx('@alicloud/credentials');

/**
 * Where SAS calls get their credentials, per the account's `credentials` block, all through
 * `@alicloud/credentials`:
 * - static (or none): the secret set (accessKeyId, accessKeySecret, optional securityToken —
 *   an STS token pasted as a set);
 * - ram-role-arn: STS AssumeRole (RAMRoleARNCredentialsProvider) with the set's AccessKey;
 * - ecs-ram-role: the ECS instance's RAM role from the metadata server (ECSRAMRoleCredentialsProvider);
 * - oidc-role-arn: AssumeRoleWithOIDC with the pod's token (OIDCRoleArnCredentialsProvider; ACK RRSA).
 *
 * Sessions are fetched with each provider's own `refresher` and held by RefreshingCredentials,
 * not the library's session cache: that cache treats any session under 15 minutes as good for
 * 15 more (it never expects shorter ones), which would sign with expired tokens. Requests go
 * through scanq's agents (the STS endpoint held to the account endpoint's rules, the connect
 * timeout, shutdown), and to an `http://` stsEndpoint (the simulator) as http.
 */
export class AlibabaCredentials {
  private readonly byAccount = new PerAccountCredentials((account) => this.build(account, (account.credentialSource ?? null) as AlibabaCredentialSource | null));

  constructor(
    private readonly timeouts: ProviderTimeouts,
    private readonly transport: ProviderTransport,
  ) {}

  for(account: ProviderAccount): { fingerprint: string; get: () => Promise<AlibabaIdentity> } {
    const { fingerprint, entry } = this.byAccount.for(account);
    return { fingerprint, get: entry.get };
  }

  /** The cloud refused the held token (expired, unknown): fetch anew on the next call. */
  invalidate(accountId: string): void {
    this.byAccount.held(accountId)?.refreshing?.invalidate();
  }

  private build(account: ProviderAccount, source: AlibabaCredentialSource | null): { get: () => Promise<AlibabaIdentity>; refreshing: RefreshingCredentials<AlibabaIdentity> | null } {
    if (!source || source.source === 'static') {
      const { accessKeyId, accessKeySecret, securityToken } = account.credentials;
      if (!accessKeyId || !accessKeySecret) {
        const missing = new ProviderError('terminal', 'CredentialsIncomplete', `account ${account.name}: the static source needs accessKeyId and accessKeySecret in its credential set (or name a source in its credentials block)`, 'no_permission');
        return { refreshing: null, get: async (): Promise<AlibabaIdentity> => Promise.reject(missing) };
      }
      const identity: AlibabaIdentity = { accessKeyId, accessKeySecret, ...(securityToken ? { securityToken } : {}) };
      return { refreshing: null, get: async () => identity };
    }
    const { provider, agent, what } = this.sessionProvider(account, source);
    const refreshing = new RefreshingCredentials<AlibabaIdentity>(async () => {
      try {
        const session = await withAgent(agent, () => provider.refresher());
        const expiration = new Date(session.expiration);
        return { accessKeyId: session.accessKeyId, accessKeySecret: session.accessKeySecret, securityToken: session.securityToken, ...(Number.isNaN(expiration.getTime()) ? {} : { expiration }) };
      } catch (err) {
        throw failure(account, what, err);
      }
    });
    return { refreshing, get: () => refreshing.get() };
  }

  private sessionProvider(account: ProviderAccount, source: Exclude<AlibabaCredentialSource, { source: 'static' }>): { provider: SessionProvider; agent: Agent; what: string } {
    const readTimeout = this.timeouts.requestMs;
    const connectTimeout = this.timeouts.connectMs;
    const sts = source.source === 'ecs-ram-role' ? null : source.stsEndpoint ? new URL(source.stsEndpoint) : null;
    const protocol = source.source === 'ecs-ram-role' ? 'http:' : (sts?.protocol ?? 'https:');
    // The metadata server (100.100.100.200) is the instance's own: not an account endpoint, not guarded.
    const agent = this.transport.agent({ ...account, endpoint: sts ? sts.toString() : null }, protocol);
    let provider: SessionProvider & { doRequest?: unknown };
    let what: string;
    switch (source.source) {
      case 'ram-role-arn': {
        const { accessKeyId, accessKeySecret, securityToken } = account.credentials;
        if (!accessKeyId || !accessKeySecret) {
          throw new ProviderError('terminal', 'CredentialsIncomplete', `account ${account.name}: ram-role-arn needs accessKeyId and accessKeySecret in its credential set`, 'no_permission');
        }
        const base = securityToken
          ? StaticSTSCredentialsProvider.builder().withAccessKeyId(accessKeyId).withAccessKeySecret(accessKeySecret).withSecurityToken(securityToken).build()
          : StaticAKCredentialsProvider.builder().withAccessKeyId(accessKeyId).withAccessKeySecret(accessKeySecret).build();
        let builder = RAMRoleARNCredentialsProvider.builder()
          .withCredentialsProvider(base)
          .withRoleArn(source.roleArn)
          .withRoleSessionName(source.sessionName ?? defaultSessionName(account.name))
          .withDurationSeconds(source.durationSeconds ?? 3600)
          .withStsEndpoint(sts ? sts.host : 'sts.aliyuncs.com')
          .withReadTimeout(readTimeout)
          .withConnectTimeout(connectTimeout);
        if (source.externalId) builder = builder.withExternalId(source.externalId);
        if (source.policy) builder = builder.withPolicy(source.policy);
        provider = builder.build() as unknown as SessionProvider;
        what = `ram-role-arn ${source.roleArn}`;
        break;
      }
      case 'oidc-role-arn': {
        let builder = OIDCRoleArnCredentialsProvider.builder()
          .withRoleArn(source.roleArn)
          .withOIDCProviderArn(source.oidcProviderArn)
          .withRoleSessionName(source.sessionName ?? defaultSessionName(account.name))
          .withStsEndpoint(sts ? sts.host : 'sts.aliyuncs.com')
          .withReadTimeout(readTimeout)
          .withConnectTimeout(connectTimeout);
        if (source.oidcTokenFile) builder = builder.withOIDCTokenFilePath(source.oidcTokenFile);
        provider = builder.build() as unknown as SessionProvider;
        what = `oidc-role-arn ${source.roleArn}`;
        break;
      }
      case 'ecs-ram-role': {
        let builder = ECSRAMRoleCredentialsProvider.builder().withReadTimeout(readTimeout).withConnectTimeout(connectTimeout).withAsyncCredentialUpdateEnabled(false);
        if (source.roleName) builder = builder.withRoleName(source.roleName);
        provider = builder.build() as unknown as SessionProvider;
        what = `ecs-ram-role${source.roleName ? ` ${source.roleName}` : ''}`;
        break;
      }
    }
    // The library hard-codes https for STS: a simulator's http:// endpoint is honoured here,
    // and the request sent through scanq's agent (its `doRequest` is the library's own seam).
    provider.doRequest = (req: CredentialsRequest) => sendThrough(agent, source.source === 'ecs-ram-role' ? req : Object.assign(req, { protocol: protocol.replace(':', '') }));
    return { provider, agent, what };
  }
}

/** @alicloud/credentials' own doRequest, with an agent. */
async function sendThrough(agent: Agent, req: CredentialsRequest): Promise<{ statusCode: number; headers: Record<string, string>; body: Buffer }> {
  const body = req.bodyForm && Object.keys(req.bodyForm).length > 0 ? Object.entries(req.bodyForm).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&') : undefined;
  if (body && !req.headers['Content-Type']) req.headers['Content-Type'] = 'application/x-www-form-urlencoded';
  const response = (await httpx.request(req.toRequestURL(), { method: req.method, data: body, headers: req.headers, readTimeout: req.readTimeout, connectTimeout: req.connectTimeout, agent })) as { statusCode: number; headers: Record<string, string> };
  const read = await httpx.read(response, '');
  return { statusCode: response.statusCode, headers: response.headers, body: Buffer.isBuffer(read) ? read : Buffer.from(read) };
}

/**
 * A failed fetch as a ProviderError (no_permission). The library reports STS's answer only in
 * its message ("refresh session token failed: <body>"): a body with an STS error Code is a
 * refusal (terminal), unless the code is a throttle or a server error; no answer at all
 * (connection refused, timeout) is retryable.
 */
function failure(account: ProviderAccount, what: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const message = (err as Error)?.message ?? String(err);
  const answered = /"Code"\s*:\s*"([^"]+)"/.exec(message);
  const code = answered?.[1] ?? (/the access key secret is invalid/.test(message) ? 'SignatureDoesNotMatch' : ((err as { code?: string })?.code ?? 'CredentialsError'));
  const refused = (answered !== null || code === 'SignatureDoesNotMatch') && !/^(Throttling|ServiceUnavailable|InternalError)/.test(code);
  return new ProviderError(refused ? 'terminal' : 'retryable', code, `Alibaba credentials of account ${account.name} (${what}) failed: ${code}: ${message}`, 'no_permission');
}
