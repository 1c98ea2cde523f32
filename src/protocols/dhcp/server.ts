/**
 * The DHCP server loop: per served interface one UDP socket on port 67 (and one on 4011 in proxy mode),
 * each bound to its interface with SO_BINDTODEVICE. Binding per interface does two jobs:
 *   - a request's receiving interface is known (node:dgram has no IP_PKTINFO), which picks the mode and
 *     the subnets;
 *   - a reply to 255.255.255.255 leaves by that same interface, even on a head node with several
 *     interfaces or no default route (an unbound socket gets ENETUNREACH or the default-route interface).
 *
 *   const dhcp = await startDhcpServer(dhcpConfig({...}), bootPort, leaseStore, { info, debug });
 *   dhcp.stats(); await dhcp.stop();
 *
 * Every datagram is handled independently; a malformed one is a counted debug line. Only a socket that
 * cannot be opened ends the server (startDhcpServer rejects).
 */
import dgram from "node:dgram";
import type { DhcpBootPort, LeaseStore } from "../../boot/ports";
import { encode, hexOf } from "./codec";
import type { DhcpConfig, DhcpInterface } from "./config";
import { DhcpHandler, type DropReason, type Inbound } from "./handler";
import { bindToDevice } from "./sockopt";

export interface DhcpLogger {
  info(line: string): void;
  debug(line: string): void;
}

export interface DhcpStats {
  received: number;
  replied: number;
  /** RELEASE/DECLINE: acted on, nothing to send. */
  handled: number;
  dropped: Partial<Record<DropReason, number>>;
}

export interface DhcpServer {
  stats(): DhcpStats;
  stop(): Promise<void>;
  /** Where the server listens, for status pages: "br0:67", "br0:4011". */
  readonly listening: readonly string[];
}

export interface DhcpServerOptions {
  now?: () => number;
  /**
   * Called once per datagram with its DHCP message type ("DISCOVER", …, "none" when it has none) and what
   * became of it ("replied", "handled", or the drop reason): the composition root counts these for /metrics.
   */
  onPacket?: (type: string, outcome: string) => void;
}

const TYPE_NAMES = ["none", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"];

/** Option 53 read straight from the bytes (after the 240-byte header and cookie), without decoding the packet. */
export function messageTypeName(msg: Uint8Array): string {
  for (let i = 240; i < msg.length; ) {
    const code = msg[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const len = msg[i + 1] ?? 0;
    if (code === 53 && len >= 1) return TYPE_NAMES[msg[i + 2]!] ?? "other";
    i += 2 + len;
  }
  return "none";
}

export async function startDhcpServer(
  cfg: Readonly<DhcpConfig>,
  port: DhcpBootPort,
  leases: LeaseStore,
  log: DhcpLogger,
  opts: DhcpServerOptions = {},
): Promise<DhcpServer> {
  const handler = new DhcpHandler(cfg, port, leases, { now: opts.now });
  const stats: DhcpStats = { received: 0, replied: 0, handled: 0, dropped: {} };
  const sockets: dgram.Socket[] = [];
  const listening: string[] = [];
  let closed = false;
  const onPacket = opts.onPacket ?? (() => {});
  const count = (r: DropReason, msg: Uint8Array) => {
    stats.dropped[r] = (stats.dropped[r] ?? 0) + 1;
    onPacket(messageTypeName(msg), r);
  };

  const open = async (iface: DhcpInterface, udpPort: number, listener: Inbound["listener"]) => {
    const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
    sockets.push(sock);
    await new Promise<void>((resolve, reject) => {
      sock.once("error", reject);
      sock.bind(udpPort, "0.0.0.0", () => {
        sock.off("error", reject);
        resolve();
      });
    });
    sock.setBroadcast(true);
    try {
      // A boot storm arrives in bursts; a larger receive buffer rides them out (capped by net.core.rmem_max).
      sock.setRecvBufferSize(4 << 20);
    } catch {}
    bindToDevice(udpPort, iface.name);
    sock.on("error", (e) => log.info(`dhcp: socket ${iface.name}:${udpPort}: ${e.message}`));
    sock.on("message", (msg, rinfo) => {
      stats.received++;
      const inb: Inbound = { iface, listener, from: { address: rinfo.address, port: rinfo.port } };
      handler.handleBytes(msg, inb).then(
        (out) => {
          if (out.kind === "drop") {
            count(out.reason, msg);
            log.debug(`dhcp: ${iface.name}: dropped from ${rinfo.address}:${rinfo.port} (${out.reason}): ${out.detail}`);
            return;
          }
          if (out.kind === "done") {
            stats.handled++;
            onPacket(messageTypeName(msg), "handled");
            log.debug(`dhcp: ${iface.name}: ${out.note}`);
            return;
          }
          // The server may have been stopped (a settings change replaced it) while the answer was looked up.
          if (closed) return;
          const bytes = encode(out.packet);
          sock.send(bytes, out.to.port, out.to.address, (err) => {
            if (err) {
              count("send-failed", msg);
              log.info(`dhcp: ${iface.name}: sending to ${out.to.address}:${out.to.port}: ${err.message}`);
            } else {
              stats.replied++;
              onPacket(messageTypeName(msg), "replied");
              log.debug(`dhcp: ${iface.name}: ${out.note} → ${out.to.address}:${out.to.port}`);
            }
          });
        },
        (e) => {
          // A bug in the handler must not take the server down; count it like any other bad packet.
          count("lookup-failed", msg);
          log.info(`dhcp: ${iface.name}: internal error on a packet from ${rinfo.address} (${hexOf(msg.subarray(0, 16))}…): ${(e as Error).message}`);
        },
      );
    });
    listening.push(`${iface.name}:${udpPort}`);
  };

  try {
    for (const iface of cfg.interfaces) {
      if (iface.mode === "off") continue;
      await open(iface, cfg.ports.server, "dhcp");
      if (iface.mode === "proxy") await open(iface, cfg.ports.pxe, "pxe");
      log.info(
        `dhcp: ${iface.mode} on ${iface.name} (${iface.serverIp}), ports ${iface.mode === "proxy" ? `${cfg.ports.server}+${cfg.ports.pxe}` : cfg.ports.server}`,
      );
    }
  } catch (e) {
    for (const s of sockets) s.close();
    throw e;
  }

  return {
    listening,
    stats: () => ({ ...stats, dropped: { ...stats.dropped } }),
    stop: async () => {
      closed = true;
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
      // Offer holds and releases still queued for the next group commit.
      await leases.flush().catch((e) => log.info(`dhcp: stopping: ${(e as Error).message}`));
    },
  };
}
