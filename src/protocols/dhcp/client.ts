/**
 * What kind of client sent a request, and which boot file it gets. Pure functions over a decoded packet.
 *
 *   ipxe  — user class (77) "iPXE": already running iPXE, gets the HTTP URL of its iPXE script, never a
 *           binary again (that would be a boot loop).
 *   http  — UEFI HTTP boot (vendor class "HTTPClient…"): gets an http:// URL of the iPXE EFI binary, and the
 *           reply must carry vendor class "HTTPClient" or the firmware ignores it.
 *   pxe   — a PXE ROM (vendor class "PXEClient…" or option 93): gets an iPXE binary over TFTP by architecture.
 *   plain — anything else (a booted OS renewing): an address, no boot file.
 */
import type { DhcpPacket } from "./codec";
import type { DhcpConfig } from "./config";
import { Opt, latin1, optU16 } from "./options";

export type ClientKind = "ipxe" | "http" | "pxe" | "plain";

export interface ClientInfo {
  kind: ClientKind;
  /** Option 93 (first entry), else parsed from "PXEClient:Arch:00007:…", else undefined. */
  arch?: number;
  vendorClass?: string;
}

export function isIpxeUserClass(v: Uint8Array | undefined): boolean {
  if (!v) return false;
  // iPXE sends the bare string; RFC 3004 clients (dhclient, udhcpc -x 77:…) may length-prefix it.
  if (latin1(v) === "iPXE") return true;
  return v.length === 5 && v[0] === 4 && latin1(v.subarray(1)) === "iPXE";
}

export function classify(p: DhcpPacket): ClientInfo {
  const vcRaw = p.options.get(Opt.VendorClass);
  const vendorClass = vcRaw ? latin1(vcRaw) : undefined;
  let arch = optU16(p.options, Opt.ClientArch);
  if (arch === undefined && vendorClass) {
    const m = /^(?:PXEClient|HTTPClient):Arch:(\d{5})/.exec(vendorClass);
    if (m) arch = Number(m[1]);
  }
  if (isIpxeUserClass(p.options.get(Opt.UserClass))) return { kind: "ipxe", arch, vendorClass };
  if (vendorClass?.startsWith("HTTPClient")) return { kind: "http", arch, vendorClass };
  if (vendorClass?.startsWith("PXEClient") || p.options.has(Opt.ClientArch)) return { kind: "pxe", arch, vendorClass };
  return { kind: "plain", arch, vendorClass };
}

export interface BootChoice {
  /** Value for the BOOTP file field / option 67; undefined when this client gets no boot file. */
  file?: string;
  /** Why there is no file (for the debug log). */
  why?: string;
  /** Vendor class to put in the reply (option 60). */
  vendorClass?: "PXEClient" | "HTTPClient";
  /** Set iPXE's no-pxedhcp (175.176 = 1) so it does not wait for ProxyDHCP offers. */
  ipxe: boolean;
}

export function chooseBoot(c: ClientInfo, cfg: Readonly<DhcpConfig>, serverIp: string): BootChoice {
  const base = `http://${serverIp}:${cfg.httpPort}`;
  switch (c.kind) {
    case "ipxe":
      return { file: `${base}${cfg.ipxeScriptPath}`, ipxe: true };
    case "http": {
      const f = c.arch === 19 ? cfg.bootFiles.httpArm64 : c.arch === 16 || c.arch === undefined ? cfg.bootFiles.httpX64 : undefined;
      if (!f) return { why: `no HTTP boot file for architecture ${c.arch}`, vendorClass: "HTTPClient", ipxe: false };
      return { file: `${base}${cfg.httpFilesPrefix}${f}`, vendorClass: "HTTPClient", ipxe: false };
    }
    case "pxe": {
      if (!cfg.tftp) return { why: "TFTP is off, so PXE ROMs get no boot file", vendorClass: "PXEClient", ipxe: false };
      const a = c.arch ?? 0;
      const f = a === 0 ? cfg.bootFiles.bios : a === 7 || a === 9 ? cfg.bootFiles.uefiX64 : a === 11 ? cfg.bootFiles.uefiArm64 : undefined;
      if (!f) return { why: `no boot file for client architecture ${a}`, vendorClass: "PXEClient", ipxe: false };
      return { file: f, vendorClass: "PXEClient", ipxe: false };
    }
    default:
      return { why: "not a network-boot client", ipxe: false };
  }
}
