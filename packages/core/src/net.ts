import { lookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { classifyHost, type HostClass } from './endpoint.js';

/**
 * Which addresses an outbound connection to a user-supplied URL (a webhook, an account's
 * endpoint) may reach. Checked on the addresses the socket really connects to, so a name that
 * resolves to a public address when validated and a private one later (DNS rebinding) is still
 * refused. A subpath of its own (`@scanq/core/net`): it needs Node, the rest of core does not.
 */

/** Address classes a user-supplied URL may not reach (the same classes the endpoint rule refuses as literals). */
const PRIVATE_CLASSES = new Set<HostClass>(['loopback', 'private', 'link_local', 'cgnat', 'unspecified']);

/**
 * A resolved address classed as `classifyHost` classes a URL's literal host, so the connect-time
 * check and the stored-endpoint rule agree on every range (IPv4-mapped, NAT64 and 6to4 forms are
 * judged by the IPv4 address they carry).
 */
const classifyAddress = (address: string): HostClass => {
  const bare = address.replace(/^\[|\]$/g, '');
  return classifyHost(isIP(bare) === 6 ? `[${bare}]` : bare);
};

export const isPrivateAddress = (address: string): boolean => PRIVATE_CLASSES.has(classifyAddress(address));
export const isLoopbackAddress = (address: string): boolean => classifyAddress(address) === 'loopback';

/** Every address allowed (`allowPrivate`), or public ones, plus loopback when `allowLoopback`. */
export interface AddressPolicy {
  allowPrivate: boolean;
  allowLoopback?: boolean;
}

/** Why `address` may not be reached under `policy` ('loopback' or 'private'), or null when it may. */
export function addressRefusal(address: string, policy: AddressPolicy): 'loopback' | 'private' | null {
  if (policy.allowPrivate || !isPrivateAddress(address)) return null;
  if (isLoopbackAddress(address)) return policy.allowLoopback ? null : 'loopback';
  return 'private';
}

/** Builds the error for a refused connection: `host` as asked, `address` it resolved to. */
export type RefusalError = (host: string, address: string, kind: 'loopback' | 'private') => Error;

/**
 * A `lookup` for net/http/tls connections that fails the connection before it is made when
 * `host` resolves to an address `policy` forbids (any of them: an attacker's name may mix a
 * public address with a private one). Node does not call `lookup` for an IP literal: check
 * those with `addressRefusal` before connecting.
 */
export function guardedLookup(policy: AddressPolicy, refuse: RefusalError): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as unknown as { address: string; family: number }[];
      for (const a of list) {
        const kind = addressRefusal(a.address, policy);
        if (kind) return callback(refuse(hostname, a.address, kind), '', 4);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
