/**
 * ICMPv6 Router Advertisement (RFC 4861 4.2), pure. drover's RAs announce no router (lifetime 0), no
 * prefixes and neither M nor O flag: they exist only so that iPXE, which waits ~13 s for IPv6
 * autoconfiguration before it uses its IPv4 DHCP result, finishes that wait at once. Hosts that hear one
 * learn nothing from it: no default route, no address, no DHCPv6.
 */
export const ICMP6_ROUTER_SOLICIT = 133;
export const ICMP6_ROUTER_ADVERT = 134;

export function routerAdvertisement(mac?: string): Uint8Array {
  const opt = mac ? 8 : 0;
  const p = new Uint8Array(16 + opt);
  p[0] = ICMP6_ROUTER_ADVERT; // type
  p[1] = 0; // code; bytes 2-3 checksum: the kernel fills it for raw ICMPv6 sockets
  p[4] = 64; // cur hop limit
  p[5] = 0; // flags: M = 0, O = 0
  // bytes 6-7 router lifetime 0: not a default router; 8-11 reachable time, 12-15 retrans timer: unspecified
  if (mac) {
    p[16] = 1; // option: source link-layer address
    p[17] = 1; // length in units of 8 bytes
    p.set(
      mac.split(":").map((h) => Number.parseInt(h, 16)),
      18,
    );
  }
  return p;
}

/** Whether an ICMPv6 message (as a raw socket hands it over, without the IPv6 header) is a router solicitation. */
export function isRouterSolicitation(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === ICMP6_ROUTER_SOLICIT && b[1] === 0;
}
