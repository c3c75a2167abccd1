import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SimRequest } from '../core/frontend.js';

/**
 * Server side of Huawei Cloud's `SDK-HMAC-SHA256` AK/SK signing, recomputed exactly as
 * `@huaweicloud/huaweicloud-sdk-core`'s `AKSKSigner` builds it:
 *
 *   canonical request = METHOD \n URI/ \n sorted query \n `name:value\n`… \n signed;names \n sha256(payload)
 *   string to sign    = SDK-HMAC-SHA256 \n <X-Sdk-Date> \n hex(sha256(canonical request))
 *   signature         = hex(HMAC-SHA256(SK, string to sign))
 */

export const SIGNING_ALGORITHM = 'SDK-HMAC-SHA256';
const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** APIG rejects signatures whose X-Sdk-Date is more than 15 minutes from its own clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface ParsedAuthorization {
  accessKey: string;
  signedHeaders: string[];
  signature: string;
}

/** `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=a;b, Signature=<hex>`, or undefined if malformed. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  if (!header?.startsWith(`${SIGNING_ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice(SIGNING_ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKey = fields.get('Access');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKey || !signedHeaders || !signature) return undefined;
  return { accessKey, signedHeaders: signedHeaders.split(';'), signature };
}

/** `YYYYMMDDTHHmmssZ` → epoch ms, or undefined. */
export function parseSdkDate(value: string | undefined): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(ms) ? undefined : ms;
}

export function formatSdkDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** The SDK's `urlEncode`: RFC 3986 unreserved characters stay, everything else is %XX (UTF-8). */
export function sdkUrlEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Each path segment encoded as the SDK encodes it, with the SDK's trailing `/`. The SDK encodes
 * the path as it went on the wire (`%20` becomes `%2520`); clients that sign the decoded path
 * (other SDKs' signers) are accepted too, so both forms are offered.
 */
export function canonicalUris(path: string): string[] {
  const build = (decode: boolean) => {
    const uri = path
      .split('/')
      .map((segment) => sdkUrlEncode(decode ? safeDecode(segment) : segment))
      .join('/');
    return uri.endsWith('/') ? uri : `${uri}/`;
  };
  const asSent = build(false);
  const decoded = build(true);
  return asSent === decoded ? [asSent] : [asSent, decoded];
}

/** Keys sorted, repeated keys' values sorted, both encoded as the SDK encodes them. */
export function canonicalQueryString(rawQuery: string): string {
  if (!rawQuery) return '';
  const params = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
    params.set(key, [...(params.get(key) ?? []), value]);
  }
  const out: string[] = [];
  for (const key of [...params.keys()].sort()) {
    for (const value of (params.get(key) ?? []).sort()) out.push(`${sdkUrlEncode(key)}=${sdkUrlEncode(value)}`);
  }
  return out.join('&');
}

function headerValue(req: SimRequest, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

/** Recomputes the signature(s) the SDK could have sent for this request with `secretKey`. */
export function computeSignatures(req: SimRequest, signedHeaders: string[], secretKey: string): string[] {
  const sdkDate = headerValue(req, 'x-sdk-date');
  const declaredPayloadHash = headerValue(req, 'x-sdk-content-sha256');
  const payloadHash =
    declaredPayloadHash || (req.rawBody.length > 0 ? createHash('sha256').update(req.rawBody).digest('hex') : EMPTY_BODY_SHA256);
  const names = signedHeaders.map((h) => h.toLowerCase());
  const query = canonicalQueryString(req.rawQuery);
  const headers = names.map((name) => `${name}:${headerValue(req, name)}\n`).join('');
  return canonicalUris(req.path).map((uri) => {
    const canonicalRequest = [req.method.toUpperCase(), uri, query, headers, names.join(';'), payloadHash].join('\n');
    const hashed = createHash('sha256').update(canonicalRequest).digest('hex');
    return createHmac('sha256', secretKey).update([SIGNING_ALGORITHM, sdkDate, hashed].join('\n')).digest('hex');
  });
}

export function signaturesMatch(expected: string, actual: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(actual, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
