import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SimRequest } from '../core/frontend.js';
import { sasErrors } from './errors.js';

/**
 * Verifies the two signing styles `@alicloud/openapi-client` 0.4.x uses for RPC APIs:
 * - ACS3-HMAC-SHA256 (the default): `Authorization` header over method, path, the query,
 *   the `host`/`x-acs-*`/`content-type` headers and the body hash;
 * - `signatureAlgorithm: 'v2'`: HMAC-SHA1 `Signature` query parameter over every other
 *   parameter (`POST&%2F&<canonicalized query>`), keyed with `<secret>&`.
 * Timestamps are checked against the wall clock, not the simulator clock: the SDK signs with
 * real time, and tests that advance the simulator clock must still authenticate.
 */
export type SigningStyle = 'ACS3-HMAC-SHA256' | 'HMAC-SHA1';

export interface VerifiedCaller {
  accessKeyId: string;
  style: SigningStyle;
}

const ACS3 = 'ACS3-HMAC-SHA256';
/** The gateway accepts requests signed at most 15 minutes before or after its own time. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const AUTHORIZATION_PATTERN = /^(\S+)\s+Credential=([^,\s]*),\s*SignedHeaders=([^,\s]*),\s*Signature=(\S*)$/;
const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** RFC 3986 encoding as Alibaba's signers do it (`encodeURIComponent` plus `!'()*`). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Every parameter of the request: the query plus a form-encoded body, if any. */
export function requestParameters(req: SimRequest): [string, string][] {
  const params = [...req.query.entries()];
  const contentType = String(req.headers['content-type'] ?? '');
  if (req.rawBody.length > 0 && contentType.startsWith('application/x-www-form-urlencoded')) {
    params.push(...new URLSearchParams(req.rawBody.toString('utf8')).entries());
  }
  return params;
}

function byKeyThenValue(a: [string, string], b: [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function headerValue(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.map((s) => s.trim()).sort().join(',') : v.trim();
}

export class SignatureVerifier {
  /** `<AccessKeyId>:<nonce>` → wall-clock expiry; a nonce may be used once within the skew window. */
  private readonly nonces = new Map<string, number>();

  constructor(private readonly secretOf: (accessKeyId: string) => string | undefined) {}

  reset(): void {
    this.nonces.clear();
  }

  verify(req: SimRequest, nowMs = Date.now()): VerifiedCaller {
    const authorization = headerValue(req, 'authorization');
    return authorization !== undefined ? this.verifyAcs3(req, authorization, nowMs) : this.verifyV2(req, nowMs);
  }

  private verifyAcs3(req: SimRequest, authorization: string, nowMs: number): VerifiedCaller {
    const m = AUTHORIZATION_PATTERN.exec(authorization);
    if (!m) throw sasErrors.incompleteSignature();
    const [, algorithm, accessKeyId = '', signedHeaderList = '', signature = ''] = m;
    if (algorithm !== ACS3) throw sasErrors.incompleteSignature();
    if (!accessKeyId) throw sasErrors.missing('AccessKeyId');
    const signedHeaders = signedHeaderList.split(';').filter(Boolean);
    // Every common header present (host, x-acs-*, content-type) must take part in the signature.
    for (const name of Object.keys(req.headers)) {
      const mustSign = name === 'host' || name === 'content-type' || (name.startsWith('x-acs-') && name !== 'authorization');
      if (mustSign && !signedHeaders.includes(name)) throw sasErrors.incompleteSignature();
    }
    if (!signature) throw sasErrors.incompleteSignature();

    const date = headerValue(req, 'x-acs-date');
    if (date === undefined) throw sasErrors.incompleteSignature();
    this.checkTimestamp(date, nowMs);
    const secret = this.secretOf(accessKeyId);
    if (secret === undefined) throw sasErrors.accessKeyNotFound();

    const canonicalQuery = [...req.query.entries()]
      .sort(byKeyThenValue)
      .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
      .join('&');
    const canonicalHeaders = [...signedHeaders]
      .sort()
      .map((name) => `${name}:${headerValue(req, name) ?? ''}\n`)
      .join('');
    const payloadHash = createHash('sha256').update(req.rawBody).digest('hex');
    const canonicalRequest = [
      req.method.toUpperCase(),
      req.path || '/',
      canonicalQuery,
      canonicalHeaders,
      [...signedHeaders].sort().join(';'),
      payloadHash,
    ].join('\n');
    const stringToSign = `${ACS3}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const expected = createHmac('sha256', secret).update(stringToSign).digest('hex');
    if (!safeEqual(expected, signature.toLowerCase())) throw sasErrors.signatureV3Mismatch(stringToSign);

    const nonce = headerValue(req, 'x-acs-signature-nonce');
    if (nonce) this.useNonce(accessKeyId, nonce, nowMs);
    return { accessKeyId, style: ACS3 };
  }

  private verifyV2(req: SimRequest, nowMs: number): VerifiedCaller {
    const params = requestParameters(req);
    const get = (name: string) => params.find(([k]) => k === name)?.[1];
    const accessKeyId = get('AccessKeyId');
    if (!accessKeyId) throw sasErrors.missing('AccessKeyId');
    for (const name of ['Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp']) {
      if (!get(name)) throw sasErrors.missing(name);
    }
    if (get('SignatureMethod') !== 'HMAC-SHA1') throw sasErrors.invalidParameter('SignatureMethod');
    if (get('SignatureVersion') !== '1.0') throw sasErrors.invalidParameter('SignatureVersion');
    this.checkTimestamp(get('Timestamp') ?? '', nowMs);
    const secret = this.secretOf(accessKeyId);
    if (secret === undefined) throw sasErrors.accessKeyNotFound();

    const canonicalized = params
      .filter(([k]) => k !== 'Signature')
      .sort(byKeyThenValue)
      .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
      .join('&');
    const stringToSign = `${req.method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonicalized)}`;
    const expected = createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
    if (!safeEqual(expected, get('Signature') ?? '')) throw sasErrors.signatureV2Mismatch(stringToSign);

    this.useNonce(accessKeyId, get('SignatureNonce') ?? '', nowMs);
    return { accessKeyId, style: 'HMAC-SHA1' };
  }

  private checkTimestamp(value: string, nowMs: number): void {
    const t = TIMESTAMP_PATTERN.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(t)) throw sasErrors.timestampFormat();
    if (Math.abs(nowMs - t) > MAX_SKEW_MS) throw sasErrors.timestampExpired();
  }

  private useNonce(accessKeyId: string, nonce: string, nowMs: number): void {
    const key = `${accessKeyId}:${nonce}`;
    const expiry = this.nonces.get(key);
    if (expiry !== undefined && expiry > nowMs) throw sasErrors.nonceUsed();
    if (this.nonces.size > 50_000) {
      for (const [k, e] of this.nonces) if (e <= nowMs) this.nonces.delete(k);
    }
    this.nonces.set(key, nowMs + 2 * MAX_SKEW_MS);
  }
}
