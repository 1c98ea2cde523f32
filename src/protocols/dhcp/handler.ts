/**
 * DHCP policy: one request in, one outcome out (a reply and where to send it, or a counted drop).
 * No sockets here; the server loop (server.ts) feeds it bytes and delivers what it returns.
 *
 * This file checks what every mode needs (a decodable BOOTREQUEST from Ethernet with a message type) and
 * hands the request to its interface's mode, one file each:
 *   authoritative.ts — registered nodes get their reserved address; unknown MACs a short pool lease only
 *                      when discovery is on and the subnet has a pool, else silence.
 *   proxy.ts         — ProxyDHCP (PXE spec): boot information only, never an address, on port 67 (offers to
 *                      DISCOVER) and port 4011 (ACKs to the REQUEST a PXE client sends after it has an address).
 *   off              — no sockets at all (the server never calls this; a request for it is an `interface-off` drop).
 * reply.ts holds the Outcome types and the reply builders both modes share.
 */
import type { DhcpBootPort, LeaseStore } from "../../boot/ports";
import { authoritative } from "./authoritative";
import { BOOTREQUEST, type DhcpPacket, decode } from "./codec";
import type { DhcpConfig } from "./config";
import { PoolAllocator } from "./leases";
import { Opt, optU8 } from "./options";
import { proxy } from "./proxy";
import { type Inbound, type ModeContext, type Outcome, drop } from "./reply";

export type { DropReason, Inbound, Outcome } from "./reply";

export interface HandlerOptions {
  now?: () => number;
}

export class DhcpHandler {
  private readonly ctx: ModeContext;

  constructor(cfg: Readonly<DhcpConfig>, port: DhcpBootPort, leases: LeaseStore, opts: HandlerOptions = {}) {
    this.ctx = { cfg, port, leases, alloc: new PoolAllocator(leases), now: opts.now ?? Date.now };
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
    switch (inb.iface.mode) {
      case "authoritative":
        return authoritative(this.ctx, req, type, inb);
      case "proxy":
        return proxy(this.ctx, req, type, inb);
      default:
        return drop("interface-off", `interface ${inb.iface.name} is off`);
    }
  }
}
