import { randomBytes, randomUUID } from 'node:crypto';
import { SIMULATOR_ACCOUNTS, SIMULATOR_ROLES } from '@scanq/core';
import type { SimRequest, SimResponse } from '../core/frontend.js';
import { EcrError, ecrErrors } from './errors.js';
import { verifySigV4 } from './signature.js';

/**
 * AWS STS (2011-06-15) AssumeRole, as the STS API reference describes it: the Query protocol
 * (`POST /`, form body `Action=AssumeRole&Version=2011-06-15&RoleArn=…&RoleSessionName=…`
 * [`&ExternalId=…&DurationSeconds=…`], SigV4 scoped to service `sts`), answered in XML
 * (`AssumeRoleResponse/AssumeRoleResult/{Credentials, AssumedRoleUser}` + `ResponseMetadata`),
 * errors as `ErrorResponse/Error/{Type, Code, Message}` + `RequestId`.
 *
 * Roles are SIMULATOR_ROLES.aws: trusted by every simulator account's long-term keys, each
 * requiring its ExternalId (a missing or wrong one is AccessDenied, as a trust policy's
 * `sts:ExternalId` condition makes it). Sessions are kept here and checked on every ECR call
 * (aws/index.ts): an unknown token is UnrecognizedClientException, an expired one
 * ExpiredTokenException — against the wall clock, which the SDK's refresh also uses.
 * `tokenMs` (SIM_AWS_STS_TOKEN_MS / `stsTokenMs`) makes sessions last that long instead of
 * the DurationSeconds asked, so tests see tokens expire and refresh mid-scan.
 */
export const STS_VERSION = '2011-06-15';
const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
/** The roles' MaxSessionDuration (IAM's default, 1 hour). */
const MAX_SESSION_SECONDS = 3600;

export interface StsSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
  roleArn: string;
  /** The account whose registry the session acts in (the role's). */
  registryId: string;
}

/** What an ECR call's signer is: a long-term key's account, or a session (checked by `checkToken`). */
export class StsSessions {
  private readonly byAccessKey = new Map<string, StsSession>();

  get(accessKeyId: string): StsSession | undefined {
    return this.byAccessKey.get(accessKeyId);
  }

  issue(role: { roleArn: string }, registryId: string, lifetimeMs: number, now: number): StsSession {
    // Expired sessions stay known (their calls answer ExpiredToken, not "invalid") up to a bound.
    if (this.byAccessKey.size >= 10_000) this.byAccessKey.delete(this.byAccessKey.keys().next().value!);
    const session: StsSession = {
      accessKeyId: `ASIA${randomBytes(12).toString('hex').toUpperCase().slice(0, 16)}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(96).toString('base64')}`,
      expiresAt: now + lifetimeMs,
      roleArn: role.roleArn,
      registryId,
    };
    this.byAccessKey.set(session.accessKeyId, session);
    return session;
  }

  /**
   * The check every ECR call gets: a session's token must be the one issued with its key and
   * not expired; a long-term key must come without a token.
   */
  checkToken(accessKeyId: string, token: string | undefined, now = Date.now()): StsSession | undefined {
    const session = this.byAccessKey.get(accessKeyId);
    if (!session) {
      if (token !== undefined) throw ecrErrors.unrecognizedClient();
      return undefined;
    }
    if (token !== session.sessionToken) throw ecrErrors.unrecognizedClient();
    if (now >= session.expiresAt) throw ecrErrors.expiredToken();
    return session;
  }
}

/** Form body (and query) parameters of a Query-protocol request. */
export function queryParams(req: SimRequest): URLSearchParams {
  const params = new URLSearchParams(req.query);
  const type = String(req.headers['content-type'] ?? '');
  if (req.rawBody.length > 0 && type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(req.rawBody.toString('utf8'))) params.append(k, v);
  }
  return params;
}

/** Whether `req` is an STS Query call (what the SDK's STS client sends). */
export function isStsRequest(req: SimRequest): boolean {
  if (req.path !== '/' || req.headers['x-amz-target'] !== undefined) return false;
  const params = queryParams(req);
  return params.get('Version') === STS_VERSION && params.has('Action');
}

export function stsAction(req: SimRequest): string {
  return queryParams(req).get('Action') ?? 'Unknown';
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

/** SigV4 refusals come as ECR's JSON codes; the Query protocol names them its own way. */
const QUERY_CODES: Record<string, { code: string; status: number }> = {
  UnrecognizedClientException: { code: 'InvalidClientTokenId', status: 403 },
  InvalidSignatureException: { code: 'SignatureDoesNotMatch', status: 403 },
  IncompleteSignatureException: { code: 'IncompleteSignature', status: 400 },
  MissingAuthenticationTokenException: { code: 'MissingAuthenticationToken', status: 403 },
  ExpiredTokenException: { code: 'ExpiredToken', status: 400 },
};

const ACCOUNTS = new Map<string, (typeof SIMULATOR_ACCOUNTS.aws)[number]>(SIMULATOR_ACCOUNTS.aws.map((a) => [a.accessKeyId, a]));
const ROLES = new Map<string, (typeof SIMULATOR_ROLES.aws)[number]>(SIMULATOR_ROLES.aws.map((r) => [r.roleArn, r]));

export interface StsWorld {
  sessions: StsSessions;
  /** Session lifetime regardless of DurationSeconds (tests); null: as asked. */
  tokenMs: number | null;
}

export function handleSts(req: SimRequest, world: StsWorld, now = Date.now()): SimResponse {
  const requestId = randomUUID();
  try {
    let caller;
    try {
      const signer = verifySigV4(req, (id) => ACCOUNTS.get(id)?.secretAccessKey ?? world.sessions.get(id)?.secretAccessKey, now, 'sts');
      const header = req.headers['x-amz-security-token'];
      const session = world.sessions.checkToken(signer.accessKeyId, Array.isArray(header) ? header[0] : header, now);
      const account = ACCOUNTS.get(signer.accessKeyId);
      caller = session ? `arn:aws:sts::${session.registryId}:assumed-role/${session.roleArn.split('/').pop()}` : `arn:aws:iam::${account!.registryId}:user/${account!.name}`;
    } catch (err) {
      if (err instanceof EcrError) {
        const mapped = QUERY_CODES[err.code] ?? { code: err.code, status: err.status };
        throw new StsError(mapped.status, mapped.code, err.message);
      }
      throw err;
    }
    const params = queryParams(req);
    const action = params.get('Action');
    if (action !== 'AssumeRole') throw new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${STS_VERSION}`);
    return xml(200, requestId, assumeRole(params, caller, world, now, requestId));
  } catch (err) {
    if (err instanceof StsError) {
      return {
        ...xml(err.status, requestId, `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${err.type}</Type><Code>${err.code}</Code><Message>${escape(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`),
        outcome: err.code,
      };
    }
    console.error('aws sts simulator: unexpected error', err);
    return { ...xml(500, requestId, `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal error</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`), outcome: 'InternalFailure' };
  }
}

function assumeRole(params: URLSearchParams, caller: string, world: StsWorld, now: number, requestId: string): string {
  const roleArn = params.get('RoleArn');
  const sessionName = params.get('RoleSessionName');
  const externalId = params.get('ExternalId');
  const durationText = params.get('DurationSeconds');
  const problems: string[] = [];
  if (roleArn === null) problems.push("Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
  else if (roleArn.length < 20 || roleArn.length > 2048) problems.push(`Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048`);
  if (sessionName === null) problems.push("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null");
  else if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) problems.push(`Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64`);
  if (externalId !== null && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) problems.push(`Value '${externalId}' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]* and have length between 2 and 1224`);
  const duration = durationText === null ? 3600 : Number(durationText);
  if (!Number.isInteger(duration) || duration < 900 || duration > 43_200) problems.push(`Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`);
  if (problems.length > 0) throw new StsError(400, 'ValidationError', `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`);
  const role = ROLES.get(roleArn!);
  // An unknown role and an untrusting one read the same (AWS does not say which).
  if (!role || externalId !== role.externalId) throw new StsError(403, 'AccessDenied', `User: ${caller} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  if (duration > MAX_SESSION_SECONDS) throw new StsError(400, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  const registryId = role.roleArn.split(':')[4]!;
  const session = world.sessions.issue(role, registryId, world.tokenMs ?? duration * 1000, now);
  const roleName = role.roleArn.split('/').pop()!;
  return (
    `<AssumeRoleResponse xmlns="${XMLNS}"><AssumeRoleResult>` +
    `<AssumedRoleUser><Arn>arn:aws:sts::${registryId}:assumed-role/${roleName}/${escape(sessionName!)}</Arn><AssumedRoleId>AROASCANQSIMULATOR${registryId.slice(-2)}:${escape(sessionName!)}</AssumedRoleId></AssumedRoleUser>` +
    `<Credentials><AccessKeyId>${session.accessKeyId}</AccessKeyId><SecretAccessKey>${session.secretAccessKey}</SecretAccessKey><SessionToken>${session.sessionToken}</SessionToken><Expiration>${isoSeconds(session.expiresAt)}</Expiration></Credentials>` +
    `</AssumeRoleResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></AssumeRoleResponse>`
  );
}

/** ISO 8601 to the second, as STS writes Expiration (rounded down: the client refreshes no later than the simulator expires). */
const isoSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');

function xml(status: number, requestId: string, body: string): SimResponse {
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`, outcome: status < 300 ? 'ok' : undefined };
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
