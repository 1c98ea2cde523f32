/**
 * DHCP policy: one request in, one outcome out (a reply and where to send it, or a counted drop).
 * No sockets here; the server loop (server.ts) feeds it bytes and delivers what it returns.
 *
 * Modes, per interface:
 *   authoritative — registered nodes get their reserved address (DhcpBootPort.reservation); unknown MACs
 *                   get a short pool lease only when discovery is on and the subnet has a pool, else silence.
 *   proxy         — ProxyDHCP (PXE spec): boot information only, never an address, on port 67 (offers to
 *                   DISCOVER) and port 4011 (ACKs to the REQUEST a PXE client sends after it has an address).
 *   off           — no sockets at all (the server never calls this).
 */
import type { DhcpBootPort, LeaseStore, NodeReservation, RequestOrigin } from "../../boot/ports";
import { formatIPv4, parseIPv4 } from "../../domain/net";
import { BOOTREPLY, BOOTREQUEST, type DhcpPacket, type RejectReason, decode, macOf } from "./codec";
import { type BootChoice, type ClientInfo, chooseBoot, classify } from "./client";
import { type DhcpConfig, type DhcpInterface, type DhcpSubnet, inSubnet } from "./config";
import { PoolAllocator, inPool } from "./leases";
import { IpxeOpt, MessageType, Opt, encapsulate, ip, ips, messageTypeName, optIp, optU8, str, u16, u32, u8 } from "./options";

/** A reservation that carries an address (authoritative mode only hands those out). */
type AddressedReservation = NodeReservation & { ip: string; netmask: string };

export type DropReason =
  | RejectReason
  | "not-request"
  | "not-ethernet"
  | "no-message-type"
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

const BROADCAST = "255.255.255.255";
const ZERO = "0.0.0.0";
/** How long an offered pool address is held for the client's REQUEST. */
const OFFER_HOLD_MS = 60_000;

export interface HandlerOptions {
  now?: () => number;
}

export class DhcpHandler {
  private readonly alloc: PoolAllocator;
  private readonly now: () => number;

  constructor(
    private readonly cfg: Readonly<DhcpConfig>,
    private readonly port: DhcpBootPort,
    private readonly leases: LeaseStore,
    opts: HandlerOptions = {},
  ) {
    this.alloc = new PoolAllocator(leases);
    this.now = opts.now ?? Date.now;
  }

  async handleBytes(buf: Uint8Array, inb: Inbound): Promise<Outcome> {
    const d = decode(buf);
    if (!d.ok) return drop(d.reason, d.detail);
    return this.handle(d.packet, inb);
  }

  async handle(req: DhcpPacket, inb: Inbound): Promise<Outcome> {
    if (req.op !== BOOTREQUEST) return drop("not-request", `op ${req.op}`);
    if (req.htype !== 1 || req.hlen !== 6) return drop("not-ethernet", `htype ${req.htype} hlen ${req.hlen}`);
    const type = optU8(req.options, Opt.MessageType);
    if (type === undefined) return drop("no-message-type", "no valid option 53 (BOOTP is not served)");
    if (inb.iface.mode === "proxy") return this.proxy(req, type, inb);
    if (inb.iface.mode === "authoritative") return this.authoritative(req, type, inb);
    return drop("unexpected-type", `interface ${inb.iface.name} is off`);
  }

  // --- authoritative -----------------------------------------------------------------------------------
  private async authoritative(req: DhcpPacket, type: number, inb: Inbound): Promise<Outcome> {
    const mac = macOf(req);
    const relayed = req.giaddr !== ZERO;
    const serverIp = inb.iface.serverIp;
    if (type === MessageType.REQUEST) {
      const sid = optIp(req.options, Opt.ServerId);
      if (sid && sid !== serverIp) {
        this.releaseOffer(mac);
        return drop("other-server", `${mac} chose server ${sid}`);
      }
    } else if (type === MessageType.RELEASE) {
      const l = this.leases.get(mac);
      if (l && l.ip === req.ciaddr) this.leases.delete(mac);
      return { kind: "done", note: `RELEASE ${mac} ${req.ciaddr}` };
    } else if (type === MessageType.DECLINE) {
      // Only the holder may decline, and only its own address (RFC 2131 4.3.3: the client found the address
      // in use). Anyone else's DECLINE would take a lease away from the client that holds it.
      const sid = optIp(req.options, Opt.ServerId);
      if (sid && sid !== serverIp) return drop("other-server", `DECLINE from ${mac} for server ${sid}`);
      const bad = optIp(req.options, Opt.RequestedIP);
      const held = this.leases.get(mac);
      const now = this.now();
      if (!bad || !held || held.ip !== bad || held.expiresAt <= now) return drop("not-lease-holder", `DECLINE of ${bad ?? "no address"} from ${mac}, which does not hold it`);
      this.leases.delete(mac);
      // A pool address goes into quarantine for a pool lease time, so it is not handed out again soon; a
      // reservation is the node's own address (its conflict is for the admin to fix: the log says so).
      if (!held.node) this.leases.quarantine(bad, mac, now + this.cfg.leaseSeconds.pool * 1000, now);
      return { kind: "done", note: `DECLINE ${mac} ${bad}${held.node ? ` (reserved for ${held.node}: another machine answers on it)` : ", quarantined"}` };
    } else if (type !== MessageType.DISCOVER && type !== MessageType.INFORM) {
      return drop("unexpected-type", messageTypeName(type));
    }

    // The client's link: the relay's subnet (giaddr), or for a direct request the subnet(s) of the
    // interface's own address. Relay-only subnets are never handed to clients on the local link.
    const subnets = inb.iface.subnets.filter((s) => inSubnet(s, relayed ? req.giaddr : serverIp));
    if (subnets.length === 0)
      return drop("no-subnet", relayed ? `relay ${req.giaddr} is in no subnet of ${inb.iface.name}` : `no subnet of ${inb.iface.name} contains its address ${serverIp}`);

    const origin: RequestOrigin = relayed ? { iface: inb.iface.name, relay: req.giaddr } : { iface: inb.iface.name };
    let resv: AddressedReservation | undefined;
    try {
      const r = await this.port.reservation(mac, origin);
      // A registered node with no IPv4 address on this MAC has nothing reserved: it is served like an
      // unknown client (a pool address while discovery is on, else no answer).
      resv = r?.ip && r.netmask ? (r as AddressedReservation) : undefined;
    } catch (e) {
      return drop("lookup-failed", `${mac}: ${(e as Error).message}`);
    }
    const client = classify(req);
    const boot = chooseBoot(client, this.cfg, serverIp);

    if (type === MessageType.INFORM) {
      const subnet = subnets.find((s) => inSubnet(s, req.ciaddr));
      if (!subnet) return drop("wrong-subnet", `INFORM from ${req.ciaddr} outside ${inb.iface.name}'s subnets`);
      const reply = this.reply(req, MessageType.ACK, serverIp, ZERO, boot, client);
      this.addNetworkOptions(reply, subnet, resv, undefined);
      return { kind: "reply", packet: reply, to: this.destination(req, MessageType.ACK, inb), note: `ACK (inform) ${mac}` };
    }

    const now = this.now();
    let addr: string | undefined;
    let subnet: DhcpSubnet | undefined;
    let leaseSecs: number;
    if (resv) {
      subnet = subnets.find((s) => inSubnet(s, resv.ip));
      if (!subnet) return drop("wrong-subnet", `${mac} (${resv.node}) is reserved ${resv.ip}, outside the subnets served ${relayed ? `through relay ${req.giaddr}` : `on ${inb.iface.name}`}`);
      addr = resv.ip;
      leaseSecs = this.cfg.leaseSeconds.reserved;
    } else {
      if (!this.cfg.discovery) return drop("unknown-client", `${mac} is not a registered node (discovery is off)`);
      const pooled = subnets.filter((s) => s.pool);
      if (pooled.length === 0) return drop("unknown-client", `${mac} is unknown and no pool is configured ${relayed ? `for relay ${req.giaddr}` : `on ${inb.iface.name}`}`);
      leaseSecs = this.cfg.leaseSeconds.pool;
      // One address per MAC: the PXE ROM and the iPXE that follows reuse the same lease.
      const held = this.leases.get(mac);
      const heldSubnet = held && held.expiresAt > now ? pooled.find((s) => inPool(s.pool!, held.ip)) : undefined;
      if (heldSubnet) {
        addr = held!.ip;
        subnet = heldSubnet;
      } else if (type === MessageType.REQUEST) {
        const want = optIp(req.options, Opt.RequestedIP) ?? (req.ciaddr !== ZERO ? req.ciaddr : undefined);
        const s = want ? pooled.find((p) => this.alloc.isFree(mac, want, p.pool!, now)) : undefined;
        if (!s || !want) return this.nak(req, inb, `${mac} requested ${want ?? "nothing"}, which it does not hold`);
        addr = want;
        subnet = s;
      } else {
        for (const s of pooled) {
          addr = this.alloc.allocate(mac, s.pool!, now, exclusions(s, serverIp));
          if (addr) {
            subnet = s;
            break;
          }
        }
        if (!addr || !subnet) return drop("pool-exhausted", `no free address for ${mac}`);
      }
    }

    if (type === MessageType.DISCOVER) {
      if (!resv) {
        const held = this.leases.get(mac);
        if (!held || held.ip !== addr || held.expiresAt < now + OFFER_HOLD_MS) this.leases.hold({ mac, ip: addr, expiresAt: now + OFFER_HOLD_MS });
      }
      const reply = this.reply(req, MessageType.OFFER, serverIp, addr, boot, client);
      this.addNetworkOptions(reply, subnet, resv, leaseSecs);
      return { kind: "reply", packet: reply, to: this.destination(req, MessageType.OFFER, inb), note: `OFFER ${addr} to ${mac}${boot.file ? ` boot ${boot.file}` : ""}` };
    }

    // REQUEST
    const requested = optIp(req.options, Opt.RequestedIP) ?? (req.ciaddr !== ZERO ? req.ciaddr : undefined);
    if (requested !== addr) return this.nak(req, inb, `${mac} requested ${requested ?? "nothing"}, its address is ${addr}`);
    this.leases.put({ mac, ip: addr, expiresAt: now + leaseSecs * 1000, node: resv?.node, hostname: resv?.hostname });
    // The ACK goes out only once its lease is on disk (group commit: every lease decided in this event-loop
    // turn shares one transaction). A failed commit sends nothing; the client asks again.
    try {
      await this.leases.flush();
    } catch (e) {
      return drop("store-failed", `${mac} ${addr}: ${(e as Error).message}`);
    }
    const reply = this.reply(req, MessageType.ACK, serverIp, addr, boot, client);
    this.addNetworkOptions(reply, subnet, resv, leaseSecs);
    this.port.event({ mac, stage: "dhcp", address: addr, detail: boot.file ?? boot.why });
    return { kind: "reply", packet: reply, to: this.destination(req, MessageType.ACK, inb), note: `ACK ${addr} to ${mac}${boot.file ? ` boot ${boot.file}` : ""}` };
  }

  private releaseOffer(mac: string) {
    const l = this.leases.get(mac);
    // Only a tentative (offer-hold) pool lease is given back; a bound lease stays until it expires.
    if (l && !l.node && l.expiresAt <= this.now() + OFFER_HOLD_MS) this.leases.delete(mac);
  }

  private nak(req: DhcpPacket, inb: Inbound, why: string): Outcome {
    const reply = baseReply(req, MessageType.NAK, inb.iface.serverIp, ZERO);
    reply.siaddr = ZERO;
    reply.options.set(Opt.Message, str("wrong address"));
    if (req.giaddr !== ZERO) reply.flags |= 0x8000;
    echoRelay(req, reply);
    return { kind: "reply", packet: reply, to: this.destination(req, MessageType.NAK, inb), note: `NAK: ${why}` };
  }

  private reply(req: DhcpPacket, type: number, serverIp: string, yiaddr: string, boot: BootChoice, client: ClientInfo): DhcpPacket {
    const p = baseReply(req, type, serverIp, yiaddr);
    addBoot(p, req, boot, client, serverIp);
    return p;
  }

  private addNetworkOptions(p: DhcpPacket, subnet: DhcpSubnet, resv: AddressedReservation | undefined, leaseSecs: number | undefined) {
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

  // --- proxy -------------------------------------------------------------------------------------------
  private async proxy(req: DhcpPacket, type: number, inb: Inbound): Promise<Outcome> {
    const mac = macOf(req);
    const client = classify(req);
    if (client.kind === "plain") return drop("not-pxe", `${mac} is not a network-boot client`);
    const onPxePort = inb.listener === "pxe";
    if (onPxePort ? type !== MessageType.REQUEST && type !== MessageType.INFORM : type !== MessageType.DISCOVER)
      return drop("proxy-ignores-request", `${messageTypeName(type)} on port ${onPxePort ? this.cfg.ports.pxe : this.cfg.ports.server}`);
    const relayed = req.giaddr !== ZERO;
    const origin: RequestOrigin = relayed ? { iface: inb.iface.name, relay: req.giaddr } : { iface: inb.iface.name };
    let resv: NodeReservation | undefined;
    try {
      resv = await this.port.reservation(mac, origin);
    } catch (e) {
      return drop("lookup-failed", `${mac}: ${(e as Error).message}`);
    }
    if (!resv && !this.cfg.discovery) return drop("unknown-client", `${mac} is not a registered node (discovery is off)`);
    const serverIp = inb.iface.serverIp;
    const boot = chooseBoot(client, this.cfg, serverIp);
    if (!boot.file) return drop("not-pxe", `${mac}: ${boot.why}`);
    const p = baseReply(req, onPxePort ? MessageType.ACK : MessageType.OFFER, serverIp, ZERO);
    p.ciaddr = onPxePort ? req.ciaddr : ZERO;
    // A ProxyDHCP reply identifies itself with vendor class PXEClient (HTTPClient for HTTP boot) and no
    // address; the client's UUID (97) is echoed as the PXE spec requires.
    addBoot(p, req, boot, client, serverIp);
    p.options.set(Opt.VendorClass, str(boot.vendorClass ?? "PXEClient"));
    if (!onPxePort && client.kind === "pxe" && (client.arch ?? 0) === 0) {
      // BIOS PXE: discovery control 8 = skip boot-server discovery, boot the file in this offer.
      // UEFI ROMs ignore a ProxyDHCP offer that says this, so for them option 43 is left out and they
      // come back on port 4011 with a REQUEST (pixiecore's observation; TianoCore behaves this way).
      p.options.set(Opt.VendorSpecific, encapsulate([[6, u8(8)]]));
    }
    echoRelay(req, p);
    this.port.event({ mac, stage: "dhcp", address: onPxePort ? req.ciaddr : undefined, detail: `proxy ${boot.file}` });
    const to = onPxePort ? { address: inb.from.address, port: inb.from.port } : this.destination(req, MessageType.OFFER, inb);
    return { kind: "reply", packet: p, to, note: `proxy ${onPxePort ? "ACK" : "OFFER"} to ${mac} boot ${boot.file}` };
  }

  /**
   * RFC 2131 4.1: relayed → the relay's server port; a client that has an address (ciaddr) → unicast to it;
   * otherwise limited broadcast. The broadcast leaves by the interface the request came in on because each
   * server socket is bound to its interface (SO_BINDTODEVICE), so no ARP entry has to be forged.
   */
  private destination(req: DhcpPacket, type: number, inb: Inbound): { address: string; port: number } {
    if (req.giaddr !== ZERO) return { address: req.giaddr, port: this.cfg.ports.server };
    if (type !== MessageType.NAK && req.ciaddr !== ZERO) return { address: req.ciaddr, port: this.cfg.ports.client };
    return { address: BROADCAST, port: this.cfg.ports.client };
  }
}

function drop(reason: DropReason, detail: string): Outcome {
  return { kind: "drop", reason, detail };
}

function baseReply(req: DhcpPacket, type: number, serverIp: string, yiaddr: string): DhcpPacket {
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

function addBoot(p: DhcpPacket, req: DhcpPacket, boot: BootChoice, client: ClientInfo, serverIp: string) {
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

function echoRelay(req: DhcpPacket, p: DhcpPacket) {
  const o82 = req.options.get(Opt.RelayAgent);
  if (o82 && req.giaddr !== ZERO) p.options.set(Opt.RelayAgent, o82);
}

/** Addresses a pool never hands out: the network and broadcast addresses, the server, the router. */
function exclusions(s: DhcpSubnet, serverIp: string): Set<string> {
  const n = parseIPv4(s.network)! & parseIPv4(s.netmask)!;
  const b = (n | ~parseIPv4(s.netmask)!) >>> 0;
  const out = new Set([formatIPv4(n >>> 0), formatIPv4(b), serverIp]);
  if (s.router) out.add(s.router);
  return out;
}
