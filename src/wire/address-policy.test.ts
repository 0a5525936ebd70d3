import { describe, expect, it } from 'vitest';
import { isPublicAddress } from './address-policy.js';

describe('isPublicAddress', () => {
  const notPublic = [
    '127.0.0.1',
    '127.255.255.254',
    '0.0.0.0',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '::',
    '::1',
    '0:0:0:0:0:0:0:1',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '::127.0.0.1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:1::1',
    '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo to 127.0.0.1
    // IANA IPv6 special-purpose ranges that are not globally reachable.
    '64:ff9b:1::a9fe:a9fe', // local-use NAT64 (64:ff9b:1::/48): translated by a local gateway, anywhere
    '100:0:0:1::1', // dummy prefix (RFC 9780)
    '2001:2::1', // benchmarking (2001:2::/48)
    '2001:10::1', // ORCHID (deprecated)
    '3fff::1', // documentation (3fff::/20, RFC 9637)
    '3fff:fff:ffff::1',
    '5f00::1', // SRv6 SIDs (5f00::/16, RFC 9602)
    'localhost',
    'not an ip',
    // Each IPv4 range at its edges.
    '0.1.2.3',
    '0.255.255.255',
    '100.127.255.255',
    '169.254.0.0',
    '192.0.0.1',
    '192.0.2.1',
    '192.88.99.1',
    '192.168.255.255',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.1',
    '203.0.113.1',
    '240.0.0.1',
    // Each IPv6 range, and the 6to4 address read from its own bytes (2-5 lead to 192.168.1.1, 4-7 would not).
    '100::1',
    '100::ffff:ffff:ffff:ffff',
    '2001:2:0:ffff::1',
    '2001:1f::1',
    '2001:db8::1',
    'febf::1',
    'fec0::1',
    'feff:ffff::1', // the top of site-local fec0::/10
    '5f00:ffff::1',
    '64:ff9b:1:ffff::1',
    '2002:c0a8:101:808:808::1',
  ];
  const isPublic = [
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7', // Teredo to 8.8.8.8
    '2001:3::1', // AMT: globally reachable, beside benchmarking
    '2001:4:112::1', // AS112-v6
    '3fff:1000::1', // just past the documentation /20
    '2a00:1450::1',
    // Just outside the IPv4 ranges.
    '9.255.255.255',
    '11.0.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '126.255.255.255',
    '128.0.0.1',
    '169.253.255.255',
    '169.255.0.1',
    '172.15.255.255',
    '192.0.1.1',
    '192.88.98.1',
    '192.167.255.255',
    '192.169.0.1',
    '198.17.255.255',
    '198.20.0.1',
    '223.255.255.255',
    '2001:2:1::1', // past benchmarking's /48 (the rest of 2001::/23 is taken as public)
    '2002:808:808::1', // 6to4 to 8.8.8.8
    '2606:4700:4700::1111%eth0', // a zone on a public address is judged without it
  ];

  for (const ip of notPublic) it(`${ip} is not public`, () => expect(isPublicAddress(ip)).toBe(false));
  for (const ip of isPublic) it(`${ip} is public`, () => expect(isPublicAddress(ip)).toBe(true));
});
