import { lookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Which addresses an outbound connection to a user-supplied URL (a webhook, an account's
 * endpoint) may reach. Checked on the addresses the socket really connects to, so a name that
 * resolves to a public address when validated and a private one later (DNS rebinding) is still
 * refused. A subpath of its own (`@scanq/core/net`): it needs Node, the rest of core does not.
 */

/** Loopback, private, link-local, CGNAT, unspecified and unique-local ranges. */
const PRIVATE = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** An IPv4-mapped IPv6 address is judged as the IPv4 address it carries. */
function check(list: BlockList, address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return list.check(mapped[1]!, 'ipv4');
  return list.check(bare, isIP(bare) === 6 ? 'ipv6' : 'ipv4');
}

export const isPrivateAddress = (address: string): boolean => check(PRIVATE, address);
export const isLoopbackAddress = (address: string): boolean => check(LOOPBACK, address);

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
