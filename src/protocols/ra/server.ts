/**
 * Answers IPv6 router solicitations on the interfaces drover serves, with the "nothing to configure" RA of
 * packet.ts, so each iPXE instance stops waiting for IPv6 and boots on (measured: the first-iPXE → script
 * stage drops from ~40 s to ~6 s for a BIOS VM, see docs/booting.md). Also sends one unsolicited RA at
 * start and every `intervalMs`.
 *
 * Bun has no raw sockets, so this uses libc (runtime/libc.ts): socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
 * bound to the interface, non-blocking, joined to ff02::2 (all routers), polled every 50 ms. Linux only;
 * needs root (CAP_NET_RAW). The kernel computes ICMPv6 checksums and picks the link-local source address.
 */
import { readFileSync } from "node:fs";
import {
  AF_INET6,
  cInt as int32,
  cstr,
  F_SETFL,
  IPPROTO_ICMPV6,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_MREQ,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_UNICAST_HOPS,
  libc,
  O_NONBLOCK,
  SO_BINDTODEVICE,
  SOCK_RAW,
  SOCKADDR_IN6,
  SOL_SOCKET,
} from "../../runtime/libc";
import { isRouterSolicitation, routerAdvertisement } from "./packet";

/** sockaddr_in6 for ff02::1 (all nodes) on interface `ifindex`. */
function allNodes(ifindex: number): Uint8Array {
  const a = new Uint8Array(SOCKADDR_IN6.size);
  const v = new DataView(a.buffer);
  v.setUint16(SOCKADDR_IN6.family, AF_INET6, true);
  a.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], SOCKADDR_IN6.addr);
  v.setUint32(SOCKADDR_IN6.scopeId, ifindex, true);
  return a;
}

export interface RaServer {
  stop(): void;
  stats(): { solicitations: number; advertisements: number; errors: number };
}

export function startRaServer(ifaces: readonly string[], log: (line: string) => void, intervalMs = 30_000): RaServer {
  const c = libc();
  const stats = { solicitations: 0, advertisements: 0, errors: 0 };
  const socks: { fd: number; name: string; to: Uint8Array; ra: Uint8Array }[] = [];
  for (const name of ifaces) {
    const ifindex = c.if_nametoindex(cstr(name));
    const fd = c.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (!ifindex || fd < 0) {
      log(
        `drover: IPv6 router advertisements on ${name} are off (${!ifindex ? "no such interface" : "no raw socket: run as root"}); iPXE will wait ~13 s for IPv6 per boot`,
      );
      if (fd >= 0) c.close(fd);
      continue;
    }
    const ok =
      c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, cstr(name), name.length + 1) === 0 &&
      c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, int32(ifindex), 4) === 0 &&
      c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, int32(255), 4) === 0 &&
      c.setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, int32(255), 4) === 0 &&
      c.fcntl(fd, F_SETFL, O_NONBLOCK) === 0;
    // Join ff02::2 (all routers), where solicitations go.
    const mreq = new Uint8Array(IPV6_MREQ.size);
    mreq.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], IPV6_MREQ.addr);
    new DataView(mreq.buffer).setUint32(IPV6_MREQ.ifindex, ifindex, true);
    const joined = c.setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq, IPV6_MREQ.size) === 0;
    if (!ok || !joined) {
      log(`drover: IPv6 router advertisements on ${name} are off (socket options refused)`);
      c.close(fd);
      continue;
    }
    socks.push({ fd, name, to: allNodes(ifindex), ra: routerAdvertisement(macOf(name)) });
  }
  const advertise = () => {
    for (const s of socks) {
      if (c.sendto(s.fd, s.ra, s.ra.length, 0, s.to, s.to.length) < 0) stats.errors++;
      else stats.advertisements++;
    }
  };
  const buf = new Uint8Array(1500);
  const poll = setInterval(() => {
    for (const s of socks) {
      for (let i = 0; i < 64; i++) {
        const n = Number(c.recvfrom(s.fd, buf, buf.length, 0, null, null));
        if (n <= 0) break;
        if (isRouterSolicitation(buf.subarray(0, n))) {
          stats.solicitations++;
          if (c.sendto(s.fd, s.ra, s.ra.length, 0, s.to, s.to.length) < 0) stats.errors++;
          else stats.advertisements++;
        }
      }
    }
  }, 50);
  const periodic = setInterval(advertise, intervalMs);
  advertise();
  if (socks.length)
    log(`drover: IPv6 router advertisements (no prefix, no default route) on ${socks.map((s) => s.name).join(", ")}, so iPXE does not wait for IPv6`);
  return {
    stop: () => {
      clearInterval(poll);
      clearInterval(periodic);
      for (const s of socks) c.close(s.fd);
      socks.length = 0;
    },
    stats: () => ({ ...stats }),
  };
}

function macOf(name: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/address`, "utf8").trim();
  } catch {
    return undefined;
  }
}
