/** Request builders and fakes shared by the DHCP unit and golden tests. */
import type { BootEvent, DhcpBootPort, NodeReservation, RequestOrigin } from "../../../src/boot/ports";
import { BOOTREQUEST, type DhcpPacket, macBytes } from "../../../src/protocols/dhcp/codec";
import { dhcpConfig } from "../../../src/protocols/dhcp/config";
import { MessageType, Opt, ip, str, u16, u8 } from "../../../src/protocols/dhcp/options";

export interface ReqSpec {
  type?: number;
  mac?: string;
  xid?: number;
  arch?: number;
  vendorClass?: string;
  userClass?: string;
  giaddr?: string;
  ciaddr?: string;
  requested?: string;
  serverId?: string;
  relayInfo?: Uint8Array;
  uuid?: Uint8Array;
  params?: number[];
  flags?: number;
}

export function request(s: ReqSpec = {}): DhcpPacket {
  const o = new Map<number, Uint8Array>();
  o.set(Opt.MessageType, u8(s.type ?? MessageType.DISCOVER));
  if (s.requested) o.set(Opt.RequestedIP, ip(s.requested));
  if (s.serverId) o.set(Opt.ServerId, ip(s.serverId));
  o.set(Opt.ParamList, Uint8Array.from(s.params ?? [1, 3, 6, 12, 15, 28, 66, 67]));
  o.set(Opt.MaxMessageSize, u16(1472));
  if (s.vendorClass) o.set(Opt.VendorClass, str(s.vendorClass));
  if (s.userClass) o.set(Opt.UserClass, str(s.userClass));
  if (s.arch !== undefined) o.set(Opt.ClientArch, u16(s.arch));
  if (s.arch !== undefined) o.set(Opt.ClientNdi, Uint8Array.of(1, 3, 16));
  if (s.uuid) o.set(Opt.ClientUuid, s.uuid);
  if (s.relayInfo) o.set(Opt.RelayAgent, s.relayInfo);
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: s.giaddr ? 1 : 0,
    xid: s.xid ?? 0x1234abcd,
    secs: 4,
    flags: s.flags ?? 0x8000,
    ciaddr: s.ciaddr ?? "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: s.giaddr ?? "0.0.0.0",
    chaddr: macBytes(s.mac ?? "52:54:00:00:00:01"),
    sname: "",
    file: "",
    options: o,
  };
}

export const UUID = Uint8Array.from([0, ...Array.from({ length: 16 }, (_, i) => i * 17)]);

export class FakeBootPort implements DhcpBootPort {
  events: BootEvent[] = [];
  lookups: Array<{ mac: string; origin: RequestOrigin }> = [];
  constructor(
    readonly nodes: Record<string, NodeReservation> = {},
    private readonly fail = false,
  ) {}
  async reservation(mac: string, origin: RequestOrigin) {
    this.lookups.push({ mac, origin });
    if (this.fail) throw new Error("store unavailable");
    return this.nodes[mac];
  }
  event(e: BootEvent) {
    this.events.push(e);
  }
}

export const N1: NodeReservation = { node: "n001", ip: "10.0.0.11", netmask: "255.255.255.0", gateway: "10.0.0.1", hostname: "n001", mtu: 1500 };
export const N2: NodeReservation = { node: "r001", ip: "10.5.0.21", netmask: "255.255.255.0", hostname: "r001" };

export function testConfig(over: Partial<Parameters<typeof dhcpConfig>[0]> = {}) {
  return dhcpConfig({
    interfaces: [
      {
        name: "br0",
        mode: "authoritative",
        serverIp: "10.0.0.1",
        subnets: [
          {
            network: "10.0.0.0",
            netmask: "255.255.255.0",
            router: "10.0.0.1",
            dns: ["10.0.0.1"],
            domain: "cluster",
            pool: { start: "10.0.0.200", end: "10.0.0.202" },
          },
          { network: "10.5.0.0", netmask: "255.255.255.0", router: "10.5.0.1", pool: { start: "10.5.0.100", end: "10.5.0.199" } },
        ],
      },
      { name: "br1", mode: "proxy", serverIp: "192.168.7.2", subnets: [] },
    ],
    httpPort: 9873,
    ...over,
  });
}
