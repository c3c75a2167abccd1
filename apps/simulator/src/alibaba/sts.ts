import { randomBytes } from 'node:crypto';
import { SIMULATOR_ROLES } from '@scanq/core';
import type { SimRequest, SimResponse } from '../core/frontend.js';
import { newRequestId, SasError } from './errors.js';
import { requestParameters } from './signature.js';

/**
 * Alibaba Cloud STS (2015-04-01) AssumeRole, as its API reference describes it: RPC style at
 * `sts.aliyuncs.com` (`Action=AssumeRole&Version=2015-04-01`, signed like every RPC API —
 * `@alicloud/credentials` signs v2 HMAC-SHA1 with the business parameters in the form body),
 * answered in JSON: `{RequestId, AssumedRoleUser: {Arn, AssumedRoleId}, Credentials:
 * {AccessKeyId: "STS.…", AccessKeySecret, SecurityToken, Expiration}}`; errors in the gateway's
 * `{RequestId, HostId, Code, Message, Recommend}` shape.
 *
 * Roles are SIMULATOR_ROLES.alibaba, trusted by every simulator account's AccessKey, each
 * requiring its ExternalId (the trust policy's `sts:ExternalId` condition): a missing or wrong
 * one is `NoPermission`. Sessions are checked on every SAS call (alibaba/index.ts): a token
 * that does not belong to its key is `InvalidSecurityToken.MismatchWithAccessKey`, a missing
 * one `InvalidSecurityToken.Malformed`, an expired one `InvalidSecurityToken.Expired` — against
 * the wall clock. `tokenMs` (SIM_ALIBABA_STS_TOKEN_MS / `stsTokenMs`) overrides DurationSeconds.
 */
export const STS_VERSION = '2015-04-01';
const HOST_ID = 'sts.aliyuncs.com';
/** The roles' maximum session duration (RAM's default, 1 hour). */
const MAX_SESSION_SECONDS = 3600;

export interface AlibabaStsSession {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  expiresAt: number;
  roleArn: string;
  /** The simulator account the role belongs to (its SAS data). */
  account: string;
}

const stsErrors = {
  missing: (name: string) => new SasError(400, `Missing${name}`, `${name} is mandatory for this action.`),
  roleNotFound: (arn: string) => new SasError(404, 'EntityNotExist.Role', `The specified Role not exists: ${arn}`),
  notAuthorized: () => new SasError(403, 'NoPermission', 'You are not authorized to do this action. You should be authorized by RAM.'),
  sessionName: () => new SasError(400, 'InvalidParameter.RoleSessionName', 'The parameter RoleSessionName is wrongly formed.'),
  duration: () => new SasError(400, 'InvalidParameter.DurationSeconds', 'The Min/Max value of DurationSeconds is 15min/1hr.'),
  externalId: () => new SasError(400, 'InvalidParameter.ExternalId', 'The parameter ExternalId is wrongly formed.'),
  policy: () => new SasError(400, 'InvalidParameter.PolicyGrammar', 'The parameter Policy has not passed grammar check.'),
  expired: () => new SasError(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.'),
  mismatch: () => new SasError(400, 'InvalidSecurityToken.MismatchWithAccessKey', 'Specified SecurityToken mismatch with the AccessKey.'),
  malformed: () => new SasError(400, 'InvalidSecurityToken.Malformed', 'Specified SecurityToken is malformed.'),
};

export class AlibabaStsSessions {
  private readonly byAccessKey = new Map<string, AlibabaStsSession>();

  get(accessKeyId: string): AlibabaStsSession | undefined {
    return this.byAccessKey.get(accessKeyId);
  }

  issue(role: { roleArn: string; account: string }, lifetimeMs: number, now: number): AlibabaStsSession {
    if (this.byAccessKey.size >= 10_000) this.byAccessKey.delete(this.byAccessKey.keys().next().value!);
    const session: AlibabaStsSession = {
      accessKeyId: `STS.${randomBytes(16).toString('base64url').slice(0, 21)}`,
      accessKeySecret: randomBytes(24).toString('base64url'),
      securityToken: `CAIS${randomBytes(120).toString('base64')}`,
      expiresAt: now + lifetimeMs,
      roleArn: role.roleArn,
      account: role.account,
    };
    this.byAccessKey.set(session.accessKeyId, session);
    return session;
  }

  /** Every call's check: a session key needs its own unexpired token; a long-term key none. */
  checkToken(accessKeyId: string, token: string | undefined, now = Date.now()): AlibabaStsSession | undefined {
    const session = this.byAccessKey.get(accessKeyId);
    if (!session) {
      if (token) throw stsErrors.mismatch();
      return undefined;
    }
    if (!token) throw stsErrors.malformed();
    if (token !== session.securityToken) throw stsErrors.mismatch();
    if (now >= session.expiresAt) throw stsErrors.expired();
    return session;
  }
}

/** The security token a SAS/STS call carries: `x-acs-security-token` (ACS3) or `SecurityToken` (v2). */
export function securityTokenOf(req: SimRequest): string | undefined {
  const header = req.headers['x-acs-security-token'];
  const value = Array.isArray(header) ? header[0] : header;
  return value ?? requestParameters(req).find(([k]) => k === 'SecurityToken')?.[1];
}

const ROLES = new Map<string, (typeof SIMULATOR_ROLES.alibaba)[number]>(SIMULATOR_ROLES.alibaba.map((r) => [r.roleArn.toLowerCase(), r]));

/** AssumeRole for a verified caller; throws SasErrors (answered by the front end's error shape). */
export function assumeRole(req: SimRequest, sessions: AlibabaStsSessions, tokenMs: number | null, now = Date.now()): Record<string, unknown> {
  const params = new Map<string, string>();
  for (const [k, v] of requestParameters(req)) if (!params.has(k)) params.set(k, v);
  const roleArn = params.get('RoleArn');
  const sessionName = params.get('RoleSessionName');
  if (!roleArn) throw stsErrors.missing('RoleArn');
  if (!sessionName) throw stsErrors.missing('RoleSessionName');
  if (!/^[\w.@-]{2,64}$/.test(sessionName)) throw stsErrors.sessionName();
  const durationText = params.get('DurationSeconds');
  const duration = durationText === undefined ? 3600 : Number(durationText);
  if (!Number.isInteger(duration) || duration < 900 || duration > MAX_SESSION_SECONDS) throw stsErrors.duration();
  const externalId = params.get('ExternalId');
  if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) throw stsErrors.externalId();
  const policy = params.get('Policy');
  if (policy !== undefined) {
    try {
      const parsed = JSON.parse(policy) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    } catch {
      throw stsErrors.policy();
    }
  }
  const role = ROLES.get(roleArn.toLowerCase());
  if (!role) throw stsErrors.roleNotFound(roleArn);
  if (externalId !== role.externalId) throw stsErrors.notAuthorized();
  const session = sessions.issue(role, tokenMs ?? duration * 1000, now);
  const uid = role.roleArn.split(':')[3]!;
  return {
    AssumedRoleUser: { Arn: `${role.roleArn}/${sessionName}`, AssumedRoleId: `3${uid.slice(-16)}:${sessionName}` },
    Credentials: {
      SecurityToken: session.securityToken,
      AccessKeyId: session.accessKeyId,
      AccessKeySecret: session.accessKeySecret,
      // To the second, as STS writes it, rounded down: the client refreshes no later than the simulator expires.
      Expiration: new Date(Math.floor(session.expiresAt / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    },
  };
}

/** An STS error in the gateway's shape, with STS's HostId. */
export function stsErrorResponse(err: SasError, requestId = newRequestId()): SimResponse {
  return {
    status: err.status,
    headers: { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': requestId },
    body: { RequestId: requestId, HostId: HOST_ID, Code: err.code, Message: err.message, Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=Sts&requestId=${requestId}` },
    outcome: err.code,
  };
}
