import { createHash, randomBytes } from 'node:crypto';
import type { SimRequest, SimResponse } from '../core/frontend.js';
import { newRequestId, requestIdHeaders } from './errors.js';
import type { HssAccount } from './inventory.js';
import { jsonBody } from './respond.js';
import { isObject } from './validation.js';

/**
 * Huawei Cloud IAM "Obtaining Temporary Access Keys and Security Tokens of an Agency"
 * (POST /v3.0/OS-CREDENTIAL/securitytokens, `methods: ["assume_role"]`), as the IAM API reference
 * documents it: signed with the caller's AK/SK (Authorization) — X-Auth-Token is not served —
 * answering HTTP 201 `{credential: {access, secret, securitytoken, expires_at}}`. The keys act
 * as the delegating account; every HSS call made with them is checked here (X-Security-Token
 * must be the one issued with the AK, unexpired on the simulator clock).
 *
 * Each simulator account is a domain named after it (domain id: IAM_DOMAIN_IDS) with agencies
 * `scanq-scanner` (delegated to every simulator account) and `scanq-denied` (delegated to no
 * one). Errors use IAM's `{error_code, error_msg}` body with the documented statuses (400
 * bad body, 401 authentication, 403 not allowed, 404 no such agency or domain).
 */

export const IAM_SECURITY_TOKENS_PATH = '/v3.0/OS-CREDENTIAL/securitytokens';
export const IAM_AGENCIES = { scanner: 'scanq-scanner', denied: 'scanq-denied' } as const;

/** The 32-hex domain (account) id of a simulator account, derived from its name. */
export const iamDomainId = (accountName: string): string => createHash('sha256').update(`domain|${accountName}`).digest('hex').slice(0, 32);

export interface IssuedAgencyKey {
  access: string;
  secret: string;
  securityToken: string;
  /** Simulator-clock ms. */
  expiresAt: number;
  /** The delegating account: the keys act as it. */
  account: string;
}

export function iamError(status: number, code: string, msg: string): SimResponse {
  const requestId = newRequestId();
  return { status, headers: requestIdHeaders(requestId), body: { error_code: code, error_msg: msg }, outcome: code };
}

export class HuaweiIam {
  private readonly issued = new Map<string, IssuedAgencyKey>();
  issuedCount = 0;

  reset(): void {
    this.issued.clear();
    this.issuedCount = 0;
  }

  /** The assume_role call; `caller` already authenticated by its AK/SK signature. */
  assumeRole(req: SimRequest, caller: HssAccount, accounts: readonly HssAccount[], now: number, ttlOverrideMs: number): SimResponse {
    const parsed = jsonBody(req);
    if ('error' in parsed) return iamError(400, 'IAM.0011', 'Request body is invalid.');
    const identity = isObject(parsed.body.auth) && isObject(parsed.body.auth.identity) ? parsed.body.auth.identity : null;
    const methods = identity?.methods;
    if (!identity || !Array.isArray(methods) || !methods.includes('assume_role')) return iamError(400, 'IAM.0011', 'auth.identity.methods must be ["assume_role"].');
    const assume = isObject(identity.assume_role) ? identity.assume_role : null;
    if (!assume || typeof assume.agency_name !== 'string' || assume.agency_name === '') return iamError(400, 'IAM.0011', 'auth.identity.assume_role.agency_name is required.');
    const byName = typeof assume.domain_name === 'string' ? assume.domain_name : undefined;
    const byId = typeof assume.domain_id === 'string' ? assume.domain_id : undefined;
    if (!byName && !byId) return iamError(400, 'IAM.0011', 'auth.identity.assume_role needs domain_id or domain_name.');
    const duration = assume.duration_seconds ?? 900;
    if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 900 || duration > 86_400) {
      return iamError(400, 'IAM.0011', 'auth.identity.assume_role.duration_seconds must be an integer from 900 to 86400.');
    }
    const domain = accounts.find((a) => (byName ? a.name === byName : iamDomainId(a.name) === byId));
    if (!domain) return iamError(404, 'IAM.0004', `Could not find domain ${byName ?? byId}.`);
    const agency = assume.agency_name;
    if (!Object.values(IAM_AGENCIES).includes(agency as never)) return iamError(404, 'IAM.0004', `Could not find agency ${agency} in domain ${domain.name}.`);
    if (agency === IAM_AGENCIES.denied) return iamError(403, 'IAM.0002', `You are not authorized to assume agency ${domain.name}/${agency}: it is not delegated to ${caller.name}.`);

    const expiresAt = now + (ttlOverrideMs > 0 ? ttlOverrideMs : duration * 1000);
    const key: IssuedAgencyKey = {
      access: `HST${randomBytes(9).toString('hex').toUpperCase()}`,
      secret: randomBytes(30).toString('base64url'),
      securityToken: randomBytes(48).toString('base64'),
      expiresAt,
      account: domain.name,
    };
    this.issued.set(key.access, key);
    this.issuedCount += 1;
    // expires_at as in the reference's example: microseconds, UTC.
    const expires = new Date(expiresAt).toISOString().replace(/Z$/, '000Z');
    return {
      status: 201,
      headers: requestIdHeaders(newRequestId()),
      body: { credential: { access: key.access, secret: key.secret, securitytoken: key.securityToken, expires_at: expires } },
    };
  }

  /** The temporary key of an HSS call, or undefined when `ak` is none; throws the gateway's answer when its token is wrong or expired. */
  check(ak: string, securityToken: string | undefined, now: number): IssuedAgencyKey | { error: string } | undefined {
    const key = this.issued.get(ak);
    if (!key) return undefined;
    if (!securityToken || securityToken !== key.securityToken) return { error: 'Incorrect IAM authentication information: verify security token fail' };
    if (now >= key.expiresAt) return { error: 'Incorrect IAM authentication information: the security token has expired' };
    return key;
  }
}
