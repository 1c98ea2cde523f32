/**
 * DHCP option codes drover reads or writes, value builders/readers, and a readable dump of any packet
 * (used by golden files and debug logs). Raw bytes live in the packet; this file gives them meaning.
 */
import { type DhcpOptions, type DhcpPacket, hexOf, ipAt, ipBytes } from "./codec";

export const Opt = {
  SubnetMask: 1,
  Router: 3,
  DNS: 6,
  Hostname: 12,
  DomainName: 15,
  MTU: 26,
  Broadcast: 28,
  VendorSpecific: 43,
  RequestedIP: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParamList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClass: 60,
  ClientId: 61,
  TftpServer: 66,
  BootFile: 67,
  UserClass: 77,
  RelayAgent: 82,
  ClientArch: 93,
  ClientNdi: 94,
  ClientUuid: 97,
  Ipxe: 175,
} as const;

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageTypeName = keyof typeof MessageType;

const TYPE_NAMES = Object.fromEntries(Object.entries(MessageType).map(([k, v]) => [v, k])) as Record<number, MessageTypeName>;
export const messageTypeName = (t: number) => TYPE_NAMES[t] ?? `type-${t}`;

/** iPXE encapsulated option 175 sub-options. */
export const IpxeOpt = { NoPxeDhcp: 176, BusId: 177, Version: 235 } as const;

// --- builders --------------------------------------------------------------------------------------------
export const u8 = (n: number) => Uint8Array.of(n & 255);
export const u16 = (n: number) => Uint8Array.of((n >>> 8) & 255, n & 255);
export const u32 = (n: number) => Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
export const str = (s: string) => new TextEncoder().encode(s);
export const ip = (a: string) => ipBytes(a);
export function ips(list: readonly string[]): Uint8Array {
  const out = new Uint8Array(list.length * 4);
  list.forEach((a, i) => out.set(ipBytes(a), i * 4));
  return out;
}
/** Encapsulated options (43, 175): [code, len, value…]… with an End byte. */
export function encapsulate(subs: ReadonlyArray<readonly [number, Uint8Array]>): Uint8Array {
  const parts: number[] = [];
  for (const [c, v] of subs) parts.push(c, v.length, ...v);
  parts.push(255);
  return Uint8Array.from(parts);
}

// --- readers (all total: a malformed value reads as undefined) --------------------------------------------
export function optU8(o: DhcpOptions, code: number): number | undefined {
  const v = o.get(code);
  return v && v.length === 1 ? v[0] : undefined;
}
export function optU16(o: DhcpOptions, code: number): number | undefined {
  const v = o.get(code);
  return v && v.length >= 2 ? (v[0]! << 8) | v[1]! : undefined;
}
export function optIp(o: DhcpOptions, code: number): string | undefined {
  const v = o.get(code);
  return v && v.length === 4 ? ipAt(v, 0) : undefined;
}
export function optStr(o: DhcpOptions, code: number): string | undefined {
  const v = o.get(code);
  return v ? latin1(v) : undefined;
}
export function latin1(v: Uint8Array): string {
  let s = "";
  for (const b of v) s += String.fromCharCode(b);
  return s;
}
/** Sub-options of an encapsulated option; undefined when the lengths do not add up. */
export function decapsulate(v: Uint8Array): Array<[number, Uint8Array]> | undefined {
  const out: Array<[number, Uint8Array]> = [];
  let i = 0;
  while (i < v.length) {
    const c = v[i]!;
    if (c === 0) {
      i++;
      continue;
    }
    if (c === 255) break;
    if (i + 1 >= v.length) return undefined;
    const len = v[i + 1]!;
    if (i + 2 + len > v.length) return undefined;
    out.push([c, v.subarray(i + 2, i + 2 + len)]);
    i += 2 + len;
  }
  return out;
}

// --- readable dump -------------------------------------------------------------------------------------
type Kind = "ip" | "ips" | "u8" | "u16" | "u32" | "str" | "type" | "codes" | "hex" | "arch" | "uuid" | "pxe" | "ipxe" | "relay" | "userclass" | "clientid";
const SPEC: Record<number, [string, Kind]> = {
  1: ["subnet-mask", "ip"],
  3: ["router", "ips"],
  6: ["dns", "ips"],
  12: ["hostname", "str"],
  15: ["domain-name", "str"],
  26: ["mtu", "u16"],
  28: ["broadcast", "ip"],
  43: ["vendor-specific (PXE)", "pxe"],
  50: ["requested-ip", "ip"],
  51: ["lease-time", "u32"],
  52: ["overload", "u8"],
  53: ["message-type", "type"],
  54: ["server-id", "ip"],
  55: ["parameter-list", "codes"],
  56: ["message", "str"],
  57: ["max-message-size", "u16"],
  58: ["renewal-time", "u32"],
  59: ["rebinding-time", "u32"],
  60: ["vendor-class", "str"],
  61: ["client-id", "clientid"],
  66: ["tftp-server", "str"],
  67: ["bootfile", "str"],
  77: ["user-class", "userclass"],
  82: ["relay-agent-info", "relay"],
  93: ["client-arch", "arch"],
  94: ["client-ndi", "hex"],
  97: ["client-uuid", "uuid"],
  175: ["ipxe", "ipxe"],
};

const ARCH: Record<number, string> = {
  0: "x86 BIOS",
  6: "x86 UEFI",
  7: "x64 UEFI",
  9: "x64 UEFI (EBC)",
  10: "arm32 UEFI",
  11: "arm64 UEFI",
  15: "x86 UEFI HTTP",
  16: "x64 UEFI HTTP",
  19: "arm64 UEFI HTTP",
};

function fmt(code: number, kind: Kind, v: Uint8Array): string {
  const printable = (b: Uint8Array) => (Array.from(b).every((x) => x >= 32 && x < 127) ? JSON.stringify(latin1(b)) : `0x${hexOf(b)}`);
  switch (kind) {
    case "ip":
      return v.length === 4 ? ipAt(v, 0) : `0x${hexOf(v)} (bad length)`;
    case "ips":
      return v.length % 4 === 0 && v.length ? Array.from({ length: v.length / 4 }, (_, i) => ipAt(v, i * 4)).join(", ") : `0x${hexOf(v)} (bad length)`;
    case "u8":
      return v.length === 1 ? String(v[0]) : `0x${hexOf(v)}`;
    case "u16":
      return v.length === 2 ? String((v[0]! << 8) | v[1]!) : `0x${hexOf(v)}`;
    case "u32":
      return v.length === 4 ? String(new DataView(v.buffer, v.byteOffset, 4).getUint32(0)) : `0x${hexOf(v)}`;
    case "str":
      return printable(v);
    case "type":
      return v.length === 1 ? messageTypeName(v[0]!) : `0x${hexOf(v)}`;
    case "codes":
      return Array.from(v).join(" ");
    case "arch":
      if (v.length % 2 !== 0) return `0x${hexOf(v)}`;
      return Array.from({ length: v.length / 2 }, (_, i) => {
        const a = (v[i * 2]! << 8) | v[i * 2 + 1]!;
        return `${a} (${ARCH[a] ?? "unknown"})`;
      }).join(", ");
    case "uuid":
      return v.length === 17 ? `type ${v[0]} ${hexOf(v.subarray(1))}` : `0x${hexOf(v)}`;
    case "clientid":
      return v.length === 7 && v[0] === 1 ? `ethernet ${hexOf(v.subarray(1), ":")}` : `0x${hexOf(v)}`;
    case "userclass":
      return printable(v);
    case "pxe":
    case "ipxe":
    case "relay": {
      const subs = decapsulate(v);
      if (!subs) return `0x${hexOf(v)} (malformed)`;
      return subs.map(([c, s]) => `${c}${subName(kind, c)}=${s.length === 1 ? s[0] : printable(s)}`).join(" ");
    }
    default:
      return `0x${hexOf(v)}`;
  }
}

function subName(kind: Kind, c: number): string {
  const names: Record<string, Record<number, string>> = {
    pxe: { 6: " discovery-control", 8: " boot-servers", 9: " boot-menu", 10: " menu-prompt", 71: " boot-item" },
    ipxe: { 176: " no-pxedhcp", 177: " bus-id", 235: " version", 16: " priority", 19: " keep-san", 33: " pxeext", 36: " http", 39: " tftp", 61: " efi" },
    relay: { 1: " circuit-id", 2: " remote-id" },
  };
  return names[kind]?.[c] ?? "";
}

/** A stable, human-readable rendering of a packet: one field or option per line. */
export function dump(p: DhcpPacket): string {
  const flags = p.flags & 0x8000 ? " (broadcast)" : "";
  const lines = [
    `op      ${p.op === 1 ? "BOOTREQUEST" : p.op === 2 ? "BOOTREPLY" : p.op}  htype ${p.htype}  hlen ${p.hlen}  hops ${p.hops}`,
    `xid     0x${(p.xid >>> 0).toString(16).padStart(8, "0")}  secs ${p.secs}  flags 0x${p.flags.toString(16).padStart(4, "0")}${flags}`,
    `ciaddr  ${p.ciaddr}`,
    `yiaddr  ${p.yiaddr}`,
    `siaddr  ${p.siaddr}`,
    `giaddr  ${p.giaddr}`,
    `chaddr  ${hexOf(p.chaddr, ":")}`,
    `sname   ${JSON.stringify(p.sname)}`,
    `file    ${JSON.stringify(p.file)}`,
    "options",
  ];
  for (const [code, v] of p.options) {
    const spec = SPEC[code];
    lines.push(`  ${String(code).padStart(3)} ${spec ? `${spec[0]}: ${fmt(code, spec[1], v)}` : `unknown: 0x${hexOf(v)}`}`);
  }
  return `${lines.join("\n")}\n`;
}
