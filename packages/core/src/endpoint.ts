import { z } from 'zod';

/**
 * Where an account's `endpoint` may point. Workers send the account's signed cloud calls
 * there, so an endpoint is an SSRF target: https only (plain http to loopback, where the
 * simulator runs), no credentials in the URL, nothing after the path, and no literal private
 * address unless the operator allows it. Names are checked where they are resolved (the
 * adapters, at connect time); here only what the URL itself says.
 */
export interface EndpointPolicy {
  /** SCANQ_ALLOW_HTTP_ENDPOINTS: plain http:// to any host. */
  allowHttp: boolean;
  /** SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS: private, link-local, CGNAT, unspecified addresses. */
  allowPrivate: boolean;
}

export const ENDPOINT_MAX_LENGTH = 2000;

/** What a literal host is; `name` for a DNS name (not loopback), `public` for any other address. */
export type HostClass = 'loopback' | 'private' | 'link_local' | 'cgnat' | 'unspecified' | 'reserved' | 'public' | 'name';

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function ipv4Class(a: number, b: number, c: number): HostClass {
  if (a === 0) return 'unspecified'; // 0.0.0.0/8, "this network": reaches the local host
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 169 && b === 254) return 'link_local'; // cloud metadata services live here
  if (a === 100 && b >= 64 && b <= 127) return 'cgnat';
  if ((a === 192 && b === 0 && c === 0) || (a === 198 && (b === 18 || b === 19)) || a >= 224) return 'reserved'; // IETF, benchmarking, multicast, class E, broadcast
  return 'public';
}

/** An IPv6 literal (no brackets) as its 8 groups, or null when it is not one. */
function ipv6Groups(text: string): number[] | null {
  let s = text;
  const tail: number[] = [];
  const v4 = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number];
    if ([a, b, c, d].some((n) => n > 255)) return null;
    tail.push((a << 8) | b, (c << 8) | d);
    // Drop the colon before the IPv4 part, keeping a '::'.
    s = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === '' ? [] : h.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const given = head.length + rest.length + tail.length;
  if ([...head, ...rest].some(Number.isNaN) || (halves.length === 1 ? given !== 8 : given > 7)) return null;
  return [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
}

function ipv6Class(g: number[]): HostClass {
  const embeddedV4 = (hi: number, lo: number) => ipv4Class(hi >> 8, hi & 0xff, lo >> 8);
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d): the IPv4 address decides.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return embeddedV4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embeddedV4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return embeddedV4(g[1]!, g[2]!); // 6to4
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link_local';
  if ((g[0]! & 0xfe00) === 0xfc00 || (g[0]! & 0xffc0) === 0xfec0) return 'private'; // unique-local, old site-local
  if ((g[0]! & 0xff00) === 0xff00) return 'reserved'; // multicast
  return 'public';
}

/** Classifies a URL's hostname as `new URL()` gives it (IPv4 canonical, IPv6 in brackets). */
export function classifyHost(hostname: string): HostClass {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  const v4 = V4.exec(host);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    return [a, b, c, d].some((n) => n > 255) ? 'name' : ipv4Class(a, b, c);
  }
  if (host.startsWith('[') && host.endsWith(']')) {
    const groups = ipv6Groups(host.slice(1, -1).replace(/%.*$/, ''));
    return groups ? ipv6Class(groups) : 'name';
  }
  return 'name';
}

export interface EndpointIssue {
  rule: string;
  message: string;
}

/** The authority as written (between `//` and the path), to see an `@` that parsing would hide. */
const rawAuthority = (value: string) => /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(value)?.[1] ?? '';

/**
 * Why `value` cannot be an account endpoint (empty: it can). Without `policy`, only what holds
 * whatever the server's settings (a client checks that much before sending); with it, also
 * plain http and literal private addresses.
 */
export function accountEndpointIssues(value: string, policy?: EndpointPolicy): EndpointIssue[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [{ rule: 'url', message: 'must be an absolute URL, e.g. https://ecr.us-east-1.amazonaws.com' }];
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return [{ rule: 'scheme', message: `must be https:// (not ${url.protocol}//)` }];
  const issues: EndpointIssue[] = [];
  if (url.username || url.password || rawAuthority(value).includes('@')) {
    issues.push({ rule: 'no_userinfo', message: 'must not carry a user or password (secrets belong in SCANQ_CREDENTIALS)' });
  }
  if (url.search || value.includes('?')) issues.push({ rule: 'no_query', message: 'must not have a query (?…)' });
  if (url.hash || value.includes('#')) issues.push({ rule: 'no_fragment', message: 'must not have a fragment (#…)' });
  if (!policy) return issues;
  const host = classifyHost(url.hostname);
  if (url.protocol === 'http:' && host !== 'loopback' && !policy.allowHttp) {
    issues.push({ rule: 'https', message: 'must be https:// (plain http:// only to a loopback host, or with SCANQ_ALLOW_HTTP_ENDPOINTS=true)' });
  }
  if (host !== 'loopback' && host !== 'public' && host !== 'name' && !policy.allowPrivate) {
    issues.push({ rule: 'public_address', message: `must not be a ${host.replace('_', '-')} address (SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS=true allows it)` });
  }
  return issues;
}

/** An account endpoint's schema: the rules above as zod issues whose `params.rule` names the rule. */
export function accountEndpointSchema(policy?: EndpointPolicy) {
  return z
    .string()
    .max(ENDPOINT_MAX_LENGTH, `must be at most ${ENDPOINT_MAX_LENGTH} characters`)
    .superRefine((value, ctx) => {
      for (const issue of accountEndpointIssues(value, policy)) ctx.addIssue({ code: 'custom', message: issue.message, params: { rule: issue.rule } });
    });
}

/**
 * An endpoint fit to show or log: a user or password (stored before these rules, or written by
 * hand) replaced by `***`. Text that is no URL is hidden whole.
 */
export function redactEndpoint(value: string): string;
export function redactEndpoint(value: string | null): string | null;
export function redactEndpoint(value: string | null): string | null {
  if (value === null) return null;
  const authority = rawAuthority(value);
  if (!authority.includes('@')) return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : '***';
  const at = authority.lastIndexOf('@');
  return value.replace(authority, `***@${authority.slice(at + 1)}`);
}
