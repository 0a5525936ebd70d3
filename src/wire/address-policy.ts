import { BlockList, isIPv4, isIPv6 } from 'node:net';

// Not reachable from the public internet, or not one host: what a server-side fetch on a caller's behalf must
// never reach: the ranges IANA's special-purpose address registries mark not globally reachable (the unassigned
// rest of 2001::/23 aside, which nothing routes to). BlockList matches IPv4-mapped IPv6 (::ffff:a.b.c.d) as IPv4.
const V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", incl. the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast
];
const V6: [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64: a local gateway's translation, to anywhere
  ['100::', 64], // discard
  ['100:0:0:1::', 64], // dummy prefix
  ['2001:2::', 48], // benchmarking
  ['2001:10::', 28], // ORCHID (deprecated)
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation
  ['5f00::', 16], // SRv6 segment identifiers
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const blocked = new BlockList();
for (const [net, prefix] of V4) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of V6) blocked.addSubnet(net, prefix, 'ipv6');

/** The 16 bytes of an IPv6 address (any spelling Node accepts). */
function bytes6(ip: string): number[] {
  // The URL parser spells an address canonically: hex groups only (no dotted quad), at most one `::`.
  const [head = '', tail = ''] = new URL(`http://[${ip}]`).hostname.slice(1, -1).split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((g) =>
    Number.parseInt(g, 16),
  );
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

const v4of = (b: number[], at: number): string => b.slice(at, at + 4).join('.');

/**
 * True when `ip` (a literal IPv4 or IPv6 address) is a public unicast address: not loopback, private,
 * link-local, multicast, unspecified or reserved. IPv6 forms that carry an IPv4 address (mapped, compatible,
 * NAT64, 6to4, Teredo) are judged by the IPv4 address they lead to. Anything that is not an IP is not public.
 */
export function isPublicAddress(ip: string): boolean {
  if (isIPv4(ip)) return !blocked.check(ip, 'ipv4');
  if (!isIPv6(ip)) return false;
  const zone = ip.indexOf('%');
  const addr = zone === -1 ? ip : ip.slice(0, zone);
  if (blocked.check(addr, 'ipv6')) return false;
  const b = bytes6(addr);
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped, in case BlockList missed a spelling) and ::a.b.c.d (compatible, deprecated).
  if (zero(0, 10) && ((b[10] === 0xff && b[11] === 0xff) || (b[10] === 0 && b[11] === 0)))
    return isPublicAddress(v4of(b, 12));
  // 64:ff9b::/96 (NAT64) leads to the embedded IPv4 address.
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12))
    return isPublicAddress(v4of(b, 12));
  // 2002::/16 (6to4) carries the IPv4 address in bytes 2-5.
  if (b[0] === 0x20 && b[1] === 0x02) return isPublicAddress(v4of(b, 2));
  // 2001::/32 (Teredo): the client's IPv4 address is stored inverted in the last four bytes.
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) {
    const inverted = b.map((x) => x ^ 0xff);
    return isPublicAddress(v4of(inverted, 12));
  }
  return true;
}
