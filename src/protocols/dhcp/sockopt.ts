/**
 * SO_BINDTODEVICE for a node:dgram socket under Bun, which exposes neither the option nor the socket's
 * file descriptor (and ignores `bind({ fd })`). The descriptor is found through /proc: the socket inode
 * that /proc/net/udp lists on 0.0.0.0:PORT, matched against /proc/self/fd; the one of those not yet bound
 * to a device (getsockopt) is the socket just created. setsockopt is called through libc (runtime/libc.ts).
 *
 * Linux only; needs CAP_NET_RAW (root), like port 67 itself. Between bind() and this call a packet from
 * another interface could reach the socket; the window is microseconds at start-up.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { invalid } from "../../domain/errors";
import { libc as load, SO_BINDTODEVICE, SOL_SOCKET } from "../../runtime/libc";

function udpInodesOnPort(port: number): Set<string> {
  const out = new Set<string>();
  const want = `00000000:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === want && f[9]) out.add(f[9]);
  }
  return out;
}

function boundDevice(fd: number): string | undefined {
  const buf = new Uint8Array(32);
  const len = Uint32Array.of(buf.length);
  if (load().getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, buf, len) !== 0) return undefined;
  return new TextDecoder().decode(buf.subarray(0, len[0]!)).replace(/\0.*$/, "");
}

/** Binds the most recently opened, not yet device-bound UDP socket on 0.0.0.0:port to interface dev. */
export function bindToDevice(port: number, dev: string): void {
  const inodes = udpInodesOnPort(port);
  const candidates: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) candidates.push(Number(name));
  }
  const fd = candidates.filter((c) => boundDevice(c) === "").sort((a, b) => b - a)[0];
  if (fd === undefined) throw invalid(`cannot find the UDP socket on port ${port} to bind it to ${dev} (is /proc mounted?)`);
  const name = new TextEncoder().encode(`${dev}\0`);
  if (load().setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) !== 0) {
    throw invalid(`cannot bind the DHCP socket to interface '${dev}': check that it exists (ip link) and that drover runs as root`);
  }
}
