/**
 * Authoritative mode: drover is the network's DHCP server. Registered nodes get their reserved address
 * (DhcpBootPort.reservation); unknown MACs get a short pool lease only when discovery is on and the subnet has
 * a pool, else silence. RELEASE and DECLINE count only from the lease holder, for its own address.
 *
 *   authoritative()  per message type: REQUEST for another server, RELEASE, DECLINE, INFORM, DISCOVER/REQUEST
 *   chooseAddress()  which address a DISCOVER is offered or a REQUEST may have (reservation, held, pool)
 */
import type { RequestOrigin } from "../../boot/ports";
import { formatIPv4, parseIPv4 } from "../../domain/net";
import { chooseBoot, classify } from "./client";
import { type DhcpPacket, macOf } from "./codec";
import { type DhcpSubnet, inSubnet } from "./config";
import { inPool } from "./leases";
import { MessageType, Opt, messageTypeName, optIp } from "./options";
import { type AddressedReservation, type Inbound, type ModeContext, type Outcome, ZERO, addNetworkOptions, bootReply, destination, drop, nak } from "./reply";

/** How long an offered pool address is held for the client's REQUEST. */
export const OFFER_HOLD_MS = 60_000;

export async function authoritative(ctx: ModeContext, req: DhcpPacket, type: number, inb: Inbound): Promise<Outcome> {
  const mac = macOf(req);
  if (type === MessageType.REQUEST) {
    const sid = optIp(req.options, Opt.ServerId);
    if (sid && sid !== inb.iface.serverIp) {
      releaseOffer(ctx, mac);
      return drop("other-server", `${mac} chose server ${sid}`);
    }
  } else if (type === MessageType.RELEASE) {
    return release(ctx, req, mac);
  } else if (type === MessageType.DECLINE) {
    return decline(ctx, req, mac, inb.iface.serverIp);
  } else if (type !== MessageType.DISCOVER && type !== MessageType.INFORM) {
    return drop("unexpected-type", messageTypeName(type));
  }
  return answer(ctx, req, type, mac, inb);
}

function release(ctx: ModeContext, req: DhcpPacket, mac: string): Outcome {
  const l = ctx.leases.get(mac);
  if (l && l.ip === req.ciaddr) ctx.leases.delete(mac);
  return { kind: "done", note: `RELEASE ${mac} ${req.ciaddr}` };
}

/**
 * Only the holder may decline, and only its own address (RFC 2131 4.3.3: the client found the address in
 * use). Anyone else's DECLINE would take a lease away from the client that holds it.
 */
function decline(ctx: ModeContext, req: DhcpPacket, mac: string, serverIp: string): Outcome {
  const sid = optIp(req.options, Opt.ServerId);
  if (sid && sid !== serverIp) return drop("other-server", `DECLINE from ${mac} for server ${sid}`);
  const bad = optIp(req.options, Opt.RequestedIP);
  const held = ctx.leases.get(mac);
  const now = ctx.now();
  if (!bad || !held || held.ip !== bad || held.expiresAt <= now)
    return drop("not-lease-holder", `DECLINE of ${bad ?? "no address"} from ${mac}, which does not hold it`);
  ctx.leases.delete(mac);
  // A pool address goes into quarantine for a pool lease time, so it is not handed out again soon; a
  // reservation is the node's own address (its conflict is for the admin to fix: the log says so).
  if (!held.node) ctx.leases.quarantine(bad, mac, now + ctx.cfg.leaseSeconds.pool * 1000, now);
  return { kind: "done", note: `DECLINE ${mac} ${bad}${held.node ? ` (reserved for ${held.node}: another machine answers on it)` : ", quarantined"}` };
}

/** DISCOVER → OFFER, REQUEST → ACK (or NAK), INFORM → ACK without an address. */
async function answer(ctx: ModeContext, req: DhcpPacket, type: number, mac: string, inb: Inbound): Promise<Outcome> {
  const relayed = req.giaddr !== ZERO;
  const serverIp = inb.iface.serverIp;
  // The client's link: the relay's subnet (giaddr), or for a direct request the subnet(s) of the
  // interface's own address. Relay-only subnets are never handed to clients on the local link.
  const subnets = inb.iface.subnets.filter((s) => inSubnet(s, relayed ? req.giaddr : serverIp));
  if (subnets.length === 0)
    return drop(
      "no-subnet",
      relayed ? `relay ${req.giaddr} is in no subnet of ${inb.iface.name}` : `no subnet of ${inb.iface.name} contains its address ${serverIp}`,
    );

  const origin: RequestOrigin = relayed ? { iface: inb.iface.name, relay: req.giaddr } : { iface: inb.iface.name };
  let resv: AddressedReservation | undefined;
  try {
    const r = await ctx.port.reservation(mac, origin);
    // A registered node with no IPv4 address on this MAC has nothing reserved: it is served like an
    // unknown client (a pool address while discovery is on, else no answer).
    resv = r?.ip && r.netmask ? (r as AddressedReservation) : undefined;
  } catch (e) {
    return drop("lookup-failed", `${mac}: ${(e as Error).message}`);
  }
  const client = classify(req);
  const boot = chooseBoot(client, ctx.cfg, serverIp);

  if (type === MessageType.INFORM) {
    const subnet = subnets.find((s) => inSubnet(s, req.ciaddr));
    if (!subnet) return drop("wrong-subnet", `INFORM from ${req.ciaddr} outside ${inb.iface.name}'s subnets`);
    const reply = bootReply(req, MessageType.ACK, serverIp, ZERO, boot, client);
    addNetworkOptions(reply, subnet, resv, undefined);
    return { kind: "reply", packet: reply, to: destination(ctx.cfg, req, MessageType.ACK), note: `ACK (inform) ${mac}` };
  }

  const now = ctx.now();
  const chosen = chooseAddress(ctx, req, type, mac, resv, subnets, inb, now);
  if ("kind" in chosen) return chosen;
  const { addr, subnet, leaseSecs } = chosen;

  if (type === MessageType.DISCOVER) {
    if (!resv) {
      const held = ctx.leases.get(mac);
      if (!held || held.ip !== addr || held.expiresAt < now + OFFER_HOLD_MS) ctx.leases.hold({ mac, ip: addr, expiresAt: now + OFFER_HOLD_MS });
    }
    const reply = bootReply(req, MessageType.OFFER, serverIp, addr, boot, client);
    addNetworkOptions(reply, subnet, resv, leaseSecs);
    return {
      kind: "reply",
      packet: reply,
      to: destination(ctx.cfg, req, MessageType.OFFER),
      note: `OFFER ${addr} to ${mac}${boot.file ? ` boot ${boot.file}` : ""}`,
    };
  }

  // REQUEST
  const requested = optIp(req.options, Opt.RequestedIP) ?? (req.ciaddr !== ZERO ? req.ciaddr : undefined);
  if (requested !== addr) return nak(ctx.cfg, req, inb, `${mac} requested ${requested ?? "nothing"}, its address is ${addr}`);
  ctx.leases.put({ mac, ip: addr, expiresAt: now + leaseSecs * 1000, node: resv?.node, hostname: resv?.hostname });
  // The ACK goes out only once its lease is on disk (group commit: every lease decided in this event-loop
  // turn shares one transaction). A failed commit sends nothing; the client asks again.
  try {
    await ctx.leases.flush();
  } catch (e) {
    return drop("store-failed", `${mac} ${addr}: ${(e as Error).message}`);
  }
  const reply = bootReply(req, MessageType.ACK, serverIp, addr, boot, client);
  addNetworkOptions(reply, subnet, resv, leaseSecs);
  ctx.port.event({ mac, stage: "dhcp", address: addr, detail: boot.file ?? boot.why });
  return {
    kind: "reply",
    packet: reply,
    to: destination(ctx.cfg, req, MessageType.ACK),
    note: `ACK ${addr} to ${mac}${boot.file ? ` boot ${boot.file}` : ""}`,
  };
}

export interface ChosenAddress {
  addr: string;
  subnet: DhcpSubnet;
  leaseSecs: number;
}

/**
 * The address for a DISCOVER or REQUEST: a reservation's own (inside the client's subnets); else, with
 * discovery on, the pool address this MAC already holds (the PXE ROM and the iPXE that follows reuse one
 * lease), the free one a REQUEST names, or for a DISCOVER the next free one. Or why there is none: a drop,
 * or a NAK for a REQUEST of an address the client may not have.
 */
export function chooseAddress(
  ctx: ModeContext,
  req: DhcpPacket,
  type: number,
  mac: string,
  resv: AddressedReservation | undefined,
  subnets: readonly DhcpSubnet[],
  inb: Inbound,
  now: number,
): ChosenAddress | Outcome {
  const relayed = req.giaddr !== ZERO;
  if (resv) {
    const subnet = subnets.find((s) => inSubnet(s, resv.ip));
    if (!subnet)
      return drop(
        "wrong-subnet",
        `${mac} (${resv.node}) is reserved ${resv.ip}, outside the subnets served ${relayed ? `through relay ${req.giaddr}` : `on ${inb.iface.name}`}`,
      );
    return { addr: resv.ip, subnet, leaseSecs: ctx.cfg.leaseSeconds.reserved };
  }
  if (!ctx.cfg.discovery) return drop("unknown-client", `${mac} is not a registered node (discovery is off)`);
  const pooled = subnets.filter((s) => s.pool);
  if (pooled.length === 0)
    return drop("unknown-client", `${mac} is unknown and no pool is configured ${relayed ? `for relay ${req.giaddr}` : `on ${inb.iface.name}`}`);
  const leaseSecs = ctx.cfg.leaseSeconds.pool;
  const held = ctx.leases.get(mac);
  const heldSubnet = held && held.expiresAt > now ? pooled.find((s) => inPool(s.pool!, held.ip)) : undefined;
  if (heldSubnet) return { addr: held!.ip, subnet: heldSubnet, leaseSecs };
  if (type === MessageType.REQUEST) {
    const want = optIp(req.options, Opt.RequestedIP) ?? (req.ciaddr !== ZERO ? req.ciaddr : undefined);
    const s = want ? pooled.find((p) => ctx.alloc.isFree(mac, want, p.pool!, now)) : undefined;
    if (!s || !want) return nak(ctx.cfg, req, inb, `${mac} requested ${want ?? "nothing"}, which it does not hold`);
    return { addr: want, subnet: s, leaseSecs };
  }
  for (const s of pooled) {
    const addr = ctx.alloc.allocate(mac, s.pool!, now, exclusions(s, inb.iface.serverIp));
    if (addr) return { addr, subnet: s, leaseSecs };
  }
  return drop("pool-exhausted", `no free address for ${mac}`);
}

/** A bound lease stays until it expires; only a tentative (offer-hold) pool lease is given back. */
function releaseOffer(ctx: ModeContext, mac: string) {
  const l = ctx.leases.get(mac);
  if (l && !l.node && l.expiresAt <= ctx.now() + OFFER_HOLD_MS) ctx.leases.delete(mac);
}

/** Addresses a pool never hands out: the network and broadcast addresses, the server, the router. */
function exclusions(s: DhcpSubnet, serverIp: string): Set<string> {
  const n = parseIPv4(s.network)! & parseIPv4(s.netmask)!;
  const b = (n | ~parseIPv4(s.netmask)!) >>> 0;
  const out = new Set([formatIPv4(n >>> 0), formatIPv4(b), serverIp]);
  if (s.router) out.add(s.router);
  return out;
}
