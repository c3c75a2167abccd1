import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SimRequest } from '../core/frontend.js';
import { TC_ERRORS, TcError } from './errors.js';

/** TC3-HMAC-SHA256 (Tencent Cloud API 3.0 signature v3), as computed by tencentcloud-sdk-nodejs `sign.ts`. */
export const TC3_ALGORITHM = 'TC3-HMAC-SHA256';
/** The server accepts timestamps at most this far from its own clock (AuthFailure.SignatureExpire). */
export const TC3_MAX_SKEW_SECONDS = 300;

export interface Tc3Authorization {
  secretId: string;
  /** `YYYY-MM-DD` (UTC) from the credential scope. */
  date: string;
  /** Service from the credential scope: `tcss`, or the endpoint's first label (`127` for `127.0.0.1:PORT`). */
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTHORIZATION_PATTERN =
  /^TC3-HMAC-SHA256 Credential=([^/\s]+)\/(\d{4}-\d{2}-\d{2})\/([^/\s]+)\/tc3_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

/** Parses the `Authorization` header; anything that is not a well-formed TC3 header is InvalidAuthorization. */
export function parseTc3Authorization(header: string | undefined): Tc3Authorization {
  if (!header) throw new TcError(TC_ERRORS.invalidAuthorization, 'The request is missing the Authorization header.');
  const m = AUTHORIZATION_PATTERN.exec(header.trim());
  if (!m) throw new TcError(TC_ERRORS.invalidAuthorization, 'The Authorization header does not follow the TC3-HMAC-SHA256 format.');
  const [, secretId, date, service, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string];
  const headers = signedHeaders.split(';');
  if (!headers.includes('content-type') || !headers.includes('host')) {
    throw new TcError(TC_ERRORS.invalidAuthorization, 'SignedHeaders must include content-type and host.');
  }
  return { secretId, date, service, signedHeaders: headers, signature };
}

/** `YYYY-MM-DD` in UTC for a Unix timestamp in seconds (the credential scope's date). */
export function tc3Date(timestampSeconds: number): string {
  return new Date(timestampSeconds * 1000).toISOString().slice(0, 10);
}

export interface Tc3SignInput {
  method: string;
  path: string;
  rawQuery: string;
  /** Canonical header values by lower-case name, in SignedHeaders order. */
  canonicalHeaders: Array<[string, string]>;
  payload: Buffer | string;
  timestamp: number;
  date: string;
  service: string;
  secretKey: string;
}

/** The hex signature for one request (canonical request → string to sign → derived HMAC key chain). */
export function tc3Signature(input: Tc3SignInput): string {
  const headerBlock = input.canonicalHeaders.map(([k, v]) => `${k}:${v}\n`).join('');
  const signedHeaders = input.canonicalHeaders.map(([k]) => k).join(';');
  const canonicalRequest = [input.method, input.path, input.rawQuery, headerBlock, signedHeaders, sha256Hex(input.payload)].join('\n');
  const scope = `${input.date}/${input.service}/tc3_request`;
  const stringToSign = [TC3_ALGORITHM, String(input.timestamp), scope, sha256Hex(canonicalRequest)].join('\n');
  const kDate = hmac(`TC3${input.secretKey}`, input.date);
  const kService = hmac(kDate, input.service);
  const kSigning = hmac(kService, 'tc3_request');
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex');
}

/**
 * Checks a request's TC3 signature with `secretKey`. The SDK signs `host` as the URL's hostname
 * WITHOUT the port although the Host header carries it, so that form is tried first; the
 * with-port form (what SDKs in other languages sign) is accepted too.
 */
export function verifyTc3Signature(req: SimRequest, auth: Tc3Authorization, timestamp: number, secretKey: string): boolean {
  const hostHeader = headerValue(req, 'host') ?? '';
  const hostCandidates = [...new Set([hostnameOf(hostHeader), hostHeader.toLowerCase()])];
  for (const host of hostCandidates) {
    const canonicalHeaders = auth.signedHeaders.map((name): [string, string] => [
      name,
      name === 'host' ? host : (headerValue(req, name) ?? '').trim().toLowerCase(),
    ]);
    const expected = tc3Signature({
      method: req.method.toUpperCase(),
      path: req.path,
      rawQuery: req.rawQuery,
      canonicalHeaders,
      payload: req.rawBody,
      timestamp,
      date: auth.date,
      service: auth.service,
      secretKey,
    });
    if (safeEqualHex(expected, auth.signature)) return true;
  }
  return false;
}

/** Services a credential scope may name here: the real one, or the SDK's endpoint-derived label. */
export function acceptableServices(req: SimRequest, service = 'tcss'): string[] {
  const host = hostnameOf(headerValue(req, 'host') ?? '');
  return [...new Set([service, host.split('.')[0] ?? ''])].filter(Boolean);
}

export function headerValue(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function safeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
