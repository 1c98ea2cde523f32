/**
 * What a mode returns (an Outcome: a reply and where it goes, a request acted on, or a counted drop) and the
 * reply builders both modes share: the BOOTP header of a reply, the boot fields, the network options, a NAK,
 * and where a reply is sent (RFC 2131 4.1). No policy here: authoritative.ts and proxy.ts decide.
 */
import type { DhcpBootPort, LeaseStore, NodeReservation } from "../../boot/ports";
import { formatIPv4, parseIPv4 } from "../../domain/net";
import type { BootChoice, ClientInfo } from "./client";
import { BOOTREPLY, type DhcpPacket, type RejectReason } from "./codec";
import type { DhcpConfig, DhcpInterface, DhcpSubnet } from "./config";
import type { PoolAllocator } from "./leases";
import { IpxeOpt, MessageType, Opt, encapsulate, ip, ips, str, u16, u32, u8 } from "./options";

export type DropReason =
  | RejectReason
  | "not-request"
  | "not-ethernet"
  | "no-message-type"
  | "interface-off"
  | "unexpected-type"
  | "unknown-client"
  | "other-server"
  | "no-subnet"
  | "wrong-subnet"
  | "pool-exhausted"
  | "not-pxe"
  | "proxy-ignores-request"
  | "lookup-failed"
  | "not-lease-holder"
  | "store-failed"
  | "send-failed";

export interface Inbound {
  iface: DhcpInterface;
  /** "dhcp" = port 67, "pxe" = port 4011 (proxy mode). */
  listener: "dhcp" | "pxe";
  from: { address: string; port: number };
}

export type Outcome =
  | { kind: "reply"; packet: DhcpPacket; to: { address: string; port: number }; note: string }
  | { kind: "done"; note: string }
  | { kind: "drop"; reason: DropReason; detail: string };

/** What a mode works with: the configuration and the ports, handed over by DhcpHandler. */
export interface ModeContext {
  readonly cfg: Readonly<DhcpConfig>;
  readonly port: DhcpBootPort;
  readonly leases: LeaseStore;
  readonly alloc: PoolAllocator;
  readonly now: () => number;
}

/** A reservation that carries an address (authoritative mode only hands those out). */
export type AddressedReservation = NodeReservation & { ip: string; netmask: string };

export const BROADCAST = "255.255.255.255";
export const ZERO = "0.0.0.0";

export function drop(reason: DropReason, detail: string): Outcome {
  return { kind: "drop", reason, detail };
}

export function baseReply(req: DhcpPacket, type: number, serverIp: string, yiaddr: string): DhcpPacket {
  const options = new Map<number, Uint8Array>();
  options.set(Opt.MessageType, u8(type));
  options.set(Opt.ServerId, ip(serverIp));
  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: type === MessageType.ACK ? req.ciaddr : ZERO,
    yiaddr,
    siaddr: serverIp,
    giaddr: req.giaddr,
    chaddr: req.chaddr.slice(),
    sname: "",
    file: "",
    options,
  };
}

/** A reply with the boot fields of `boot` (see addBoot). */
export function bootReply(req: DhcpPacket, type: number, serverIp: string, yiaddr: string, boot: BootChoice, client: ClientInfo): DhcpPacket {
  const p = baseReply(req, type, serverIp, yiaddr);
  addBoot(p, req, boot, client, serverIp);
  return p;
}

export function addBoot(p: DhcpPacket, req: DhcpPacket, boot: BootChoice, client: ClientInfo, serverIp: string) {
  const asked = req.options.get(Opt.ParamList) ?? new Uint8Array();
  if (boot.file) {
    // The BOOTP file field is what every ROM reads; option 67 too when asked for, or when the name does
    // not fit the 128-byte field.
    if (boot.file.length < 128) p.file = boot.file;
    if (boot.file.length >= 128 || asked.includes(Opt.BootFile)) p.options.set(Opt.BootFile, str(boot.file));
    if (client.kind === "pxe" && asked.includes(Opt.TftpServer)) p.options.set(Opt.TftpServer, str(serverIp));
  }
  // UEFI HTTP boot ignores replies without vendor class HTTPClient. PXE ROMs in authoritative mode are
  // answered as plain DHCP with a boot file (no option 60/43), which every ROM accepts without waiting.
  if (boot.vendorClass === "HTTPClient") p.options.set(Opt.VendorClass, str(boot.vendorClass));
  if (boot.ipxe) p.options.set(Opt.Ipxe, encapsulate([[IpxeOpt.NoPxeDhcp, u8(1)]]));
  const uuid = req.options.get(Opt.ClientUuid);
  if (uuid && client.kind !== "plain") p.options.set(Opt.ClientUuid, uuid);
  echoRelay(req, p);
}

/** Option 82 goes back to the relay unchanged (and only to a relay). */
export function echoRelay(req: DhcpPacket, p: DhcpPacket) {
  const o82 = req.options.get(Opt.RelayAgent);
  if (o82 && req.giaddr !== ZERO) p.options.set(Opt.RelayAgent, o82);
}

/** Lease times (when leaseSecs is given), mask, broadcast, router, DNS, domain, host name, MTU. */
export function addNetworkOptions(p: DhcpPacket, subnet: DhcpSubnet, resv: AddressedReservation | undefined, leaseSecs: number | undefined) {
  const o = p.options;
  const mask = resv?.netmask ?? subnet.netmask;
  if (leaseSecs !== undefined) {
    o.set(Opt.LeaseTime, u32(leaseSecs));
    o.set(Opt.RenewalTime, u32(Math.floor(leaseSecs / 2)));
    o.set(Opt.RebindingTime, u32(Math.floor((leaseSecs * 7) / 8)));
  }
  o.set(Opt.SubnetMask, ip(mask));
  const net = parseIPv4(p.yiaddr !== ZERO ? p.yiaddr : subnet.network)! & parseIPv4(mask)!;
  o.set(Opt.Broadcast, ip(formatIPv4((net | ~parseIPv4(mask)!) >>> 0)));
  const router = resv ? (resv.gateway ?? subnet.router) : subnet.router;
  if (router) o.set(Opt.Router, ip(router));
  if (subnet.dns?.length) o.set(Opt.DNS, ips(subnet.dns));
  if (subnet.domain) o.set(Opt.DomainName, str(subnet.domain));
  if (resv?.hostname) o.set(Opt.Hostname, str(resv.hostname));
  if (resv?.mtu) o.set(Opt.MTU, u16(resv.mtu));
  // Keep option 82 last, as the relay expects it back unchanged.
  const o82 = o.get(Opt.RelayAgent);
  if (o82) {
    o.delete(Opt.RelayAgent);
    o.set(Opt.RelayAgent, o82);
  }
}

export function nak(cfg: Readonly<DhcpConfig>, req: DhcpPacket, inb: Inbound, why: string): Outcome {
  const reply = baseReply(req, MessageType.NAK, inb.iface.serverIp, ZERO);
  reply.siaddr = ZERO;
  reply.options.set(Opt.Message, str("wrong address"));
  if (req.giaddr !== ZERO) reply.flags |= 0x8000;
  echoRelay(req, reply);
  return { kind: "reply", packet: reply, to: destination(cfg, req, MessageType.NAK), note: `NAK: ${why}` };
}

/**
 * RFC 2131 4.1: relayed → the relay's server port; a client that has an address (ciaddr) → unicast to it;
 * otherwise limited broadcast. The broadcast leaves by the interface the request came in on because each
 * server socket is bound to its interface (SO_BINDTODEVICE), so no ARP entry has to be forged.
 */
export function destination(cfg: Readonly<DhcpConfig>, req: DhcpPacket, type: number): { address: string; port: number } {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: cfg.ports.server };
  if (type !== MessageType.NAK && req.ciaddr !== ZERO) return { address: req.ciaddr, port: cfg.ports.client };
  return { address: BROADCAST, port: cfg.ports.client };
}
