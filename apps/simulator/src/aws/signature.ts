import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SimRequest } from '../core/frontend.js';
import { ecrErrors } from './errors.js';

/** Who signed a request, once the SigV4 signature has been recomputed and matched. */
export interface SigV4Caller {
  accessKeyId: string;
  /** Region from the credential scope: the regional endpoint the caller meant to reach. */
  region: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS rejects signatures dated more than 15 minutes from its own (wall-clock) time. */
const MAX_SKEW_MS = 15 * 60 * 1000;

/**
 * Verifies an AWS Signature Version 4 `Authorization` header the way AWS does: recompute the
 * canonical request over exactly the headers listed in `SignedHeaders`, derive the signing key
 * from the caller's secret, compare. Throws the error AWS would answer with.
 *
 * Skew is checked against wall-clock time, not the simulator clock: the SDK signs with real
 * time even when a test has advanced the simulator by days.
 */
export function verifySigV4(
  req: SimRequest,
  secretFor: (accessKeyId: string) => string | undefined,
  nowMs = Date.now(),
  /** The service the credential scope must name: `ecr`, or `sts` for the STS front end. */
  SERVICE = 'ecr',
): SigV4Caller {
  const authorization = headerValue(req, 'authorization');
  if (authorization === undefined || authorization.trim() === '') throw ecrErrors.missingAuthenticationToken();
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw ecrErrors.incompleteSignature(`Unsupported Authorization Type (expected ${ALGORITHM})`);
  }
  const parts = parseAuthorization(authorization.slice(ALGORITHM.length + 1));
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((k) => !parts.has(k));
  if (missing.length > 0) {
    throw ecrErrors.incompleteSignature(missing.map((k) => `Authorization header requires '${k}' parameter.`).join(' '));
  }
  const credential = (parts.get('Credential') ?? '').split('/');
  if (credential.length !== 5 || credential.some((c) => c === '')) {
    throw ecrErrors.incompleteSignature(
      "Authorization header requires a 'Credential' of the form <access key>/<date>/<region>/<service>/aws4_request.",
    );
  }
  const [accessKeyId, scopeDate, region, service, terminator] = credential as [string, string, string, string, string];

  const secret = secretFor(accessKeyId);
  if (secret === undefined) throw ecrErrors.unrecognizedClient();

  const amzDate = headerValue(req, 'x-amz-date');
  if (amzDate === undefined) {
    throw ecrErrors.incompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (service !== SERVICE) throw ecrErrors.invalidSignature(`Credential should be scoped to correct service: '${SERVICE}'. `);
  if (terminator !== 'aws4_request') {
    throw ecrErrors.invalidSignature(`Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `);
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    throw ecrErrors.invalidSignature(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  checkSkew(amzDate, nowMs);

  const signedHeaders = (parts.get('SignedHeaders') ?? '').split(';');
  if (!signedHeaders.includes('host')) {
    throw ecrErrors.invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalPath(req.path),
    canonicalQuery(req.rawQuery),
    signedHeaders.map((name) => `${name}:${canonicalHeaderValue(headerValue(req, name) ?? '')}\n`).join(''),
    signedHeaders.join(';'),
    sha256Hex(req.rawBody),
  ].join('\n');
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const expected = hmac(signingKey(secret, scopeDate, region, service), stringToSign).toString('hex');

  const provided = parts.get('Signature') ?? '';
  if (provided.length !== expected.length || !timingSafeEqual(Buffer.from(provided), Buffer.from(expected))) {
    throw ecrErrors.invalidSignature();
  }
  return { accessKeyId, region };
}

function parseAuthorization(rest: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const piece of rest.split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0) parts.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
  }
  return parts;
}

function checkSkew(amzDate: string, nowMs: number): void {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) throw ecrErrors.incompleteSignature(`Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`);
  const signedAt = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (nowMs - signedAt > MAX_SKEW_MS) {
    throw ecrErrors.invalidSignature(
      `Signature expired: ${amzDate} is now earlier than ${basicIso(nowMs - MAX_SKEW_MS)} (${basicIso(nowMs)} - 15 min.)`,
    );
  }
  if (signedAt - nowMs > MAX_SKEW_MS) {
    throw ecrErrors.invalidSignature(
      `Signature not yet current: ${amzDate} is still later than ${basicIso(nowMs + MAX_SKEW_MS)} (${basicIso(nowMs)} + 15 min.)`,
    );
  }
}

function basicIso(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function headerValue(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

/** Non-S3 services sign the path normalized and URI-encoded once more than it travels. */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const joined = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return joined.split('/').map(rfc3986).join('/') || '/';
}

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  return rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
      const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, '%20'));
      return [rfc3986(key), rfc3986(value)] as const;
    })
    .filter(([key]) => key !== 'X-Amz-Signature')
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

// Signing keys only change per secret, day, region and service: cache the HMAC chain.
const signingKeys = new Map<string, Buffer>();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${secret}|${date}|${region}|${service}`;
  let key = signingKeys.get(cacheKey);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    if (signingKeys.size > 256) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  return key;
}
