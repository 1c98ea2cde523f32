/**
 * Records the DHCP requests that reach a lab's head node: tcpdump on br0 inside the head-node namespace
 * (nothing outside the lab is listened to), written as a pcap file, and a reader that takes the UDP
 * payloads back out of it. Used by test/fixtures/dhcp/record.ts to keep what real firmware sends.
 *
 *   const cap = startDhcpCapture(lab, "/tmp/boot.pcap");   // needs tcpdump (Debian package tcpdump)
 *   … boot a VM …
 *   await cap.stop();
 *   for (const d of readPcapUdp("/tmp/boot.pcap")) d.payload …
 */
import { spawnSync } from "bun";
import { existsSync, readFileSync } from "node:fs";
import type { Lab } from "./netns";

/** Why a capture cannot run here, or undefined when it can. */
export function captureUnavailable(): string | undefined {
  if (spawnSync(["sh", "-c", "command -v tcpdump"]).exitCode !== 0) return "needs tcpdump (apt-get install tcpdump)";
  return undefined;
}

export interface DhcpCapture {
  file: string;
  stop(): Promise<void>;
}

/** tcpdump on the lab's bridge, every UDP datagram to port 67 or 4011, whole frames, written unbuffered. */
export async function startDhcpCapture(lab: Lab, file: string): Promise<DhcpCapture> {
  const why = captureUnavailable();
  if (why) throw new Error(`cannot capture: ${why}`);
  const proc = lab.spawn(lab.hn, ["tcpdump", "-i", lab.bridge, "-U", "-s", "0", "-w", file, "udp and (dst port 67 or dst port 4011)"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  // tcpdump says "listening on …" on stderr once the capture runs; until then packets would be missed.
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  let err = "";
  const end = Date.now() + 10_000;
  while (!err.includes("listening on")) {
    const r = await Promise.race([reader.read(), Bun.sleep(200).then(() => undefined)]);
    if (r?.done || proc.exitCode !== null) throw new Error(`tcpdump exited: ${err}`);
    if (r?.value) err += new TextDecoder().decode(r.value);
    if (Date.now() > end) throw new Error(`tcpdump did not start within 10 s: ${err}`);
  }
  reader.releaseLock();
  return {
    file,
    stop: async () => {
      proc.kill("SIGINT");
      await Promise.race([proc.exited, Bun.sleep(3000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      if (!existsSync(file)) throw new Error(`tcpdump wrote no ${file}: ${err}`);
    },
  };
}

export interface UdpDatagram {
  /** Capture time, ms since the epoch. */
  at: number;
  srcMac: string;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/**
 * The IPv4/UDP datagrams of a classic pcap file with Ethernet frames (tcpdump -w). Other frames are
 * skipped; a file that is not such a pcap is an error naming what was found.
 */
export function readPcapUdp(file: string): UdpDatagram[] {
  const buf = new Uint8Array(readFileSync(file));
  if (buf.length < 24) throw new Error(`${file}: ${buf.length} bytes, not a pcap file`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && dv.getUint32(0, false) !== 0xa1b2c3d4 && dv.getUint32(0, false) !== 0xa1b23c4d)
    throw new Error(`${file}: magic 0x${magic.toString(16)}, not a pcap file`);
  const nano = (le ? magic : dv.getUint32(0, false)) === 0xa1b23c4d;
  const linktype = dv.getUint32(20, le);
  if (linktype !== 1) throw new Error(`${file}: link type ${linktype}, only Ethernet (1) is read`);
  const out: UdpDatagram[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const f = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (f.length < incl) throw new Error(`${file}: the last record is cut short`);
    let l3 = 14;
    let type = (f[12]! << 8) | f[13]!;
    if (type === 0x8100) {
      type = (f[16]! << 8) | f[17]!;
      l3 = 18;
    }
    if (type !== 0x0800 || f.length < l3 + 28) continue;
    const ihl = (f[l3]! & 15) * 4;
    if (f[l3 + 9] !== 17) continue;
    const udp = l3 + ihl;
    const udpLen = (f[udp + 4]! << 8) | f[udp + 5]!;
    const ip = (o: number) => `${f[o]}.${f[o + 1]}.${f[o + 2]}.${f[o + 3]}`;
    out.push({
      at: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3),
      srcMac: Array.from(f.subarray(6, 12), (b) => b.toString(16).padStart(2, "0")).join(":"),
      src: ip(l3 + 12),
      dst: ip(l3 + 16),
      srcPort: (f[udp]! << 8) | f[udp + 1]!,
      dstPort: (f[udp + 2]! << 8) | f[udp + 3]!,
      payload: f.slice(udp + 8, udp + Math.max(8, udpLen)),
    });
  }
  return out;
}
