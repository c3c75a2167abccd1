import type { SimRequest, SimResponse } from '../core/frontend.js';
import { authErrors } from './errors.js';
import type { HssAccount } from './inventory.js';
import {
  MAX_CLOCK_SKEW_MS,
  computeSignatures,
  formatSdkDate,
  parseAuthorization,
  parseSdkDate,
  signaturesMatch,
} from './signature.js';

/** Looks up a temporary AK with the request's security token (undefined: not a temporary AK). */
export type TemporaryKeys = (ak: string, securityToken: string | undefined) => { account: string; secret: string } | { error: string } | undefined;

export type AuthResult = { account: HssAccount } | { error: SimResponse };

function header(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * What APIG does before HSS sees a request: find the AK, check X-Sdk-Date is within 15 minutes
 * of the gateway's clock, recompute the SDK-HMAC-SHA256 signature with the AK's SK, and check
 * the X-Project-Id the SDK adds belongs to that AK's account.
 *
 * `wallClockMs` is real time, not the simulated clock: the SDK stamps X-Sdk-Date from the
 * client's real clock, and tests that advance the simulated clock (to finish scans, or past
 * another cloud's time windows) must not turn every later request into an expired signature.
 */
export function authenticate(req: SimRequest, accounts: readonly HssAccount[], wallClockMs: number, temporary?: TemporaryKeys): AuthResult {
  const authorization = header(req, 'authorization');
  if (!authorization) return { error: header(req, 'x-auth-token') ? authErrors.badToken() : authErrors.missing() };
  const parsed = parseAuthorization(authorization);
  if (!parsed) return { error: authErrors.badSignature() };
  let account = accounts.find((a) => a.ak === parsed.accessKey);
  let sk = account?.sk;
  // An agency's temporary AK: its X-Security-Token must match and be unexpired; it acts as the delegating account.
  const issued = account ? undefined : temporary?.(parsed.accessKey, header(req, 'x-security-token'));
  if (issued && 'error' in issued) return { error: authErrors.token(issued.error) };
  if (issued) {
    account = accounts.find((a) => a.name === issued.account);
    sk = issued.secret;
  }
  if (!account || !sk) return { error: authErrors.unknownAk(parsed.accessKey) };

  const sdkDate = header(req, 'x-sdk-date');
  const signedAt = parseSdkDate(sdkDate);
  if (signedAt === undefined || !parsed.signedHeaders.includes('x-sdk-date')) return { error: authErrors.badSignature() };
  if (Math.abs(wallClockMs - signedAt) > MAX_CLOCK_SKEW_MS) {
    return { error: authErrors.expired(sdkDate as string, formatSdkDate(wallClockMs)) };
  }

  const expected = computeSignatures(req, parsed.signedHeaders, sk);
  if (!expected.some((sig) => signaturesMatch(sig, parsed.signature))) return { error: authErrors.badSignature() };

  const projectHeader = header(req, 'x-project-id');
  if (projectHeader !== undefined && projectHeader !== account.projectId) return { error: authErrors.projectMismatch(projectHeader) };
  return { account };
}
