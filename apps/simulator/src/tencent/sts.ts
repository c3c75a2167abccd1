import { createHash, randomBytes } from 'node:crypto';
import { TcError } from './errors.js';
import { isRecord, type Params } from './params.js';
import type { SeedAccount } from './seed.js';

/**
 * Tencent Cloud STS (API 2018-08-13) as the STS API reference documents it: AssumeRole (signed
 * TC3-HMAC-SHA256 with the caller's keys) and AssumeRoleWithWebIdentity (unsigned; the OIDC token
 * is the proof), both answering `Credentials{Token, TmpSecretId, TmpSecretKey}`, `ExpiredTime`
 * (Unix seconds) and `Expiration` (ISO 8601). Temporary keys act as the role's account; every
 * TCSS call made with them is checked here: the token must be the one issued with the key, and
 * unexpired on the simulator clock, else `AuthFailure.TokenFailure`.
 *
 * Roles of every simulator account (uin `STS_UINS[i]`), any simulator account's base keys may
 * assume them: `scanq-scanner`; `scanq-external` (trust requires ExternalId
 * `scanq-sim-external-id`); `scanq-denied` (exists, trusts nobody). OIDC: provider
 * `scanq-sim-oidc`, any JWT-shaped token with a `sub` and an unexpired `exp`.
 */

export const STS_API_VERSION = '2018-08-13';
export const STS_ROLES = { scanner: 'scanq-scanner', external: 'scanq-external', denied: 'scanq-denied' } as const;
export const STS_EXTERNAL_ID = 'scanq-sim-external-id';
export const STS_OIDC_PROVIDER = 'scanq-sim-oidc';
/** The uin (account id) of each simulator account, by its index in SIMULATOR_ACCOUNTS.tencent. */
export const STS_UINS = ['100000000001', '100000000002'] as const;

const STS_ERRORS = {
  roleNotExist: 'ResourceNotFound.RoleNotExist',
  unauthorized: 'AuthFailure.UnauthorizedOperation',
  paramError: 'InvalidParameter.ParamError',
  missingParameter: 'MissingParameter',
  tokenFailure: 'AuthFailure.TokenFailure',
} as const;

export interface IssuedKey {
  tmpSecretId: string;
  tmpSecretKey: string;
  token: string;
  /** Simulator-clock ms. */
  expiresAt: number;
  /** The account the role belongs to: the temporary keys act as it. */
  account: string;
  roleArn: string;
}

const ROLE_ARN = /^qcs::cam::uin\/(\d+):role(?:Name)?\/([\w+=,.@-]+)$/;
const SESSION_NAME = /^[\w+=,.@-]{2,128}$/;

export class TencentSts {
  private readonly issued = new Map<string, IssuedKey>();
  /** Calls answered with keys, per action (state()). */
  readonly issuedCount = { AssumeRole: 0, AssumeRoleWithWebIdentity: 0 };

  reset(): void {
    this.issued.clear();
    this.issuedCount.AssumeRole = 0;
    this.issuedCount.AssumeRoleWithWebIdentity = 0;
  }

  /** AssumeRole, the caller already authenticated with its base keys. */
  assumeRole(params: Params, accounts: readonly SeedAccount[], now: number, ttlOverrideMs: number): Record<string, unknown> {
    const role = this.role(params, accounts);
    const sessionName = this.sessionName(params);
    if (role.name === STS_ROLES.denied) throw new TcError(STS_ERRORS.unauthorized, `You are not authorized to perform operation (sts:AssumeRole) on resource (${role.arn}): the role's trust policy does not allow the caller.`);
    if (role.name === STS_ROLES.external && params.ExternalId !== STS_EXTERNAL_ID) {
      throw new TcError(STS_ERRORS.unauthorized, `You are not authorized to perform operation (sts:AssumeRole) on resource (${role.arn}): ExternalId does not match the role's trust policy.`);
    }
    this.issuedCount.AssumeRole += 1;
    return this.issue(role, sessionName, this.duration(params, 7200), now, ttlOverrideMs);
  }

  assumeRoleWithWebIdentity(params: Params, accounts: readonly SeedAccount[], now: number, ttlOverrideMs: number): Record<string, unknown> {
    for (const p of ['ProviderId', 'WebIdentityToken', 'RoleArn', 'RoleSessionName']) {
      if (typeof params[p] !== 'string' || params[p] === '') throw new TcError(STS_ERRORS.missingParameter, `The request is missing the required parameter ${p}.`);
    }
    if (params.ProviderId !== STS_OIDC_PROVIDER) throw new TcError(STS_ERRORS.paramError, `The identity provider ${String(params.ProviderId)} does not exist.`);
    const claims = jwtClaims(String(params.WebIdentityToken));
    if (!claims || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw new TcError(STS_ERRORS.paramError, 'WebIdentityToken is not a valid OIDC token.');
    if (claims.exp * 1000 <= now) throw new TcError(STS_ERRORS.paramError, 'WebIdentityToken has expired.');
    const role = this.role(params, accounts);
    if (role.name === STS_ROLES.denied) throw new TcError(STS_ERRORS.unauthorized, `You are not authorized to perform operation (sts:AssumeRoleWithWebIdentity) on resource (${role.arn}).`);
    this.issuedCount.AssumeRoleWithWebIdentity += 1;
    return this.issue(role, this.sessionName(params), this.duration(params, 7200), now, ttlOverrideMs);
  }

  /** The temporary key a TCSS call signs with, checked against its token and expiry; undefined when `secretId` is no temporary key. */
  check(secretId: string, token: string | undefined, now: number): IssuedKey | undefined {
    const key = this.issued.get(secretId);
    if (!key) return undefined;
    if (!token || token !== key.token) throw new TcError(STS_ERRORS.tokenFailure, 'Token verification failed, please check if your Token is correct.');
    if (now >= key.expiresAt) throw new TcError(STS_ERRORS.tokenFailure, `The token has expired (ExpiredTime ${Math.floor(key.expiresAt / 1000)}), please get a new temporary key.`);
    return key;
  }

  private role(params: Params, accounts: readonly SeedAccount[]): { arn: string; name: string; account: string } {
    if (typeof params.RoleArn !== 'string' || params.RoleArn === '') throw new TcError(STS_ERRORS.missingParameter, 'The request is missing the required parameter RoleArn.');
    const m = ROLE_ARN.exec(params.RoleArn);
    if (!m) throw new TcError(STS_ERRORS.paramError, `RoleArn ${params.RoleArn} is not a role ARN (qcs::cam::uin/<uin>:roleName/<name>).`);
    const index = STS_UINS.indexOf(m[1] as (typeof STS_UINS)[number]);
    const account = accounts[index];
    const name = m[2]!;
    if (!account || !Object.values(STS_ROLES).includes(name as never)) throw new TcError(STS_ERRORS.roleNotExist, `The role ${params.RoleArn} does not exist.`);
    return { arn: params.RoleArn, name, account: account.name };
  }

  private sessionName(params: Params): string {
    const name = params.RoleSessionName;
    if (typeof name !== 'string' || name === '') throw new TcError(STS_ERRORS.missingParameter, 'The request is missing the required parameter RoleSessionName.');
    if (!SESSION_NAME.test(name)) throw new TcError(STS_ERRORS.paramError, 'RoleSessionName must be 2-128 characters of letters, digits and +=,.@_-.');
    return name;
  }

  /** DurationSeconds: 0–43200 per the reference, default 7200. */
  private duration(params: Params, fallback: number): number {
    const raw = params.DurationSeconds;
    if (raw === undefined) return fallback;
    const n = typeof raw === 'string' ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 43_200) throw new TcError(STS_ERRORS.paramError, 'DurationSeconds must be an integer from 0 to 43200.');
    return n === 0 ? fallback : n;
  }

  private issue(role: { arn: string; account: string }, sessionName: string, durationSeconds: number, now: number, ttlOverrideMs: number): Record<string, unknown> {
    const expiresAt = now + (ttlOverrideMs > 0 ? ttlOverrideMs : durationSeconds * 1000);
    const key: IssuedKey = {
      tmpSecretId: `AKIDtmp${randomBytes(12).toString('hex')}`,
      tmpSecretKey: randomBytes(24).toString('base64url'),
      token: `${createHash('sha256').update(`${role.arn}|${sessionName}|${randomBytes(8).toString('hex')}`).digest('hex')}${randomBytes(16).toString('hex')}`,
      expiresAt,
      account: role.account,
      roleArn: role.arn,
    };
    this.issued.set(key.tmpSecretId, key);
    return {
      Credentials: { Token: key.token, TmpSecretId: key.tmpSecretId, TmpSecretKey: key.tmpSecretKey },
      ExpiredTime: Math.floor(expiresAt / 1000),
      Expiration: new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    };
  }
}

function jwtClaims(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return isRecord(claims) ? claims : null;
  } catch {
    return null;
  }
}
