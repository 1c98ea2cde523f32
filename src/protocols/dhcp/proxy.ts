/**
 * Proxy mode: ProxyDHCP (PXE spec) next to a site's own DHCP server. Boot information only, never an
 * address: OFFERs to DISCOVERs on port 67, ACKs to the REQUEST a PXE client sends on port 4011 once it has
 * an address. Plain DHCP clients are not answered.
 *
 * A relayed request (giaddr set) is answered only when giaddr lies in a subnet of the interface (its own or a
 * --relay-subnet), as in authoritative mode: anyone can write a giaddr, and the lookup behind it registers
 * unknown MACs during discovery and sends the reply to that address.
 */
import type { NodeReservation, RequestOrigin } from "../../boot/ports";
import { chooseBoot, classify } from "./client";
import { type DhcpPacket, macOf } from "./codec";
import { inSubnet } from "./config";
import { MessageType, Opt, encapsulate, messageTypeName, str, u8 } from "./options";
import { type Inbound, type ModeContext, type Outcome, ZERO, addBoot, baseReply, destination, drop, echoRelay } from "./reply";

export async function proxy(ctx: ModeContext, req: DhcpPacket, type: number, inb: Inbound): Promise<Outcome> {
  const { cfg } = ctx;
  const mac = macOf(req);
  const client = classify(req);
  if (client.kind === "plain") return drop("not-pxe", `${mac} is not a network-boot client`);
  const onPxePort = inb.listener === "pxe";
  if (onPxePort ? type !== MessageType.REQUEST && type !== MessageType.INFORM : type !== MessageType.DISCOVER)
    return drop("proxy-ignores-request", `${messageTypeName(type)} on port ${onPxePort ? cfg.ports.pxe : cfg.ports.server}`);
  const relayed = req.giaddr !== ZERO;
  if (relayed && !inb.iface.subnets.some((s) => inSubnet(s, req.giaddr))) return drop("no-subnet", `relay ${req.giaddr} is in no subnet of ${inb.iface.name}`);
  const origin: RequestOrigin = relayed ? { iface: inb.iface.name, relay: req.giaddr } : { iface: inb.iface.name };
  let resv: NodeReservation | undefined;
  try {
    resv = await ctx.port.reservation(mac, origin);
  } catch (e) {
    return drop("lookup-failed", `${mac}: ${(e as Error).message}`);
  }
  if (!resv && !cfg.discovery) return drop("unknown-client", `${mac} is not a registered node (discovery is off)`);
  const serverIp = inb.iface.serverIp;
  const boot = chooseBoot(client, cfg, serverIp);
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
  ctx.port.event({ mac, stage: "dhcp", address: onPxePort ? req.ciaddr : undefined, detail: `proxy ${boot.file}` });
  const to = onPxePort ? { address: inb.from.address, port: inb.from.port } : destination(cfg, req, MessageType.OFFER);
  return { kind: "reply", packet: p, to, note: `proxy ${onPxePort ? "ACK" : "OFFER"} to ${mac} boot ${boot.file}` };
}
