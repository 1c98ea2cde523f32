import { invalid } from "./errors";
import { isHostname } from "./names";

/** MAC addresses are stored lower-case with colons; colons, dashes, dots or none are accepted. */
export function normalizeMac(input: string): string {
  const hex = input
    .trim()
    .toLowerCase()
    .replace(/[:\-.]/g, "");
  if (!/^[0-9a-f]{12}$/.test(hex)) {
    throw invalid(`'${input}' is not a MAC address (expected six hex bytes, e.g. 52:54:00:12:34:56)`);
  }
  return hex.match(/../g)!.join(":");
}

export function isMac(input: string): boolean {
  return /^[0-9a-f]{12}$/.test(
    input
      .trim()
      .toLowerCase()
      .replace(/[:\-.]/g, ""),
  );
}

export function parseIPv4(s: string): number | undefined {
  // Four decimal octets, 1-3 digits each, no leading zeros, at most 255; surrounding blanks ignored. Without a
  // regular expression: the DHCP server calls this several times per packet.
  const t = s.trim();
  let v = 0;
  let parts = 0;
  let digits = 0;
  let o = 0;
  for (let i = 0; i <= t.length; i++) {
    const c = i < t.length ? t.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || o > 255 || parts === 4) return undefined;
      v = v * 256 + o;
      parts++;
      digits = 0;
      o = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 3 || (digits === 1 && o === 0)) return undefined;
      o = o * 10 + c - 48;
      digits++;
    } else return undefined;
  }
  return parts === 4 ? v : undefined;
}

export function formatIPv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

export function requireIPv4(s: string, what = "address"): string {
  if (parseIPv4(s) === undefined) throw invalid(`'${s}' is not an IPv4 ${what} (expected four numbers 0-255, e.g. 10.0.0.5)`);
  return s.trim();
}

export function prefixToNetmask(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw invalid(`'/${prefix}' is not a prefix length (0-32)`);
  const v = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return formatIPv4(v);
}

export function netmaskToPrefix(mask: string): number {
  const v = parseIPv4(mask);
  if (v === undefined) throw invalid(`'${mask}' is not a netmask (e.g. 255.255.255.0)`);
  const bits = v.toString(2).padStart(32, "0");
  if (!/^1*0*$/.test(bits)) throw invalid(`'${mask}' is not a netmask: its one-bits must be contiguous (e.g. 255.255.255.0)`);
  return bits.indexOf("0") === -1 ? 32 : bits.indexOf("0");
}

export function requireNetmask(s: string): string {
  netmaskToPrefix(s);
  return s.trim();
}

/** `10.0.0.2/24` → { ip: 10.0.0.2, netmask: 255.255.255.0 }; `10.0.0.2` → { ip }. */
export function parseAddressWithPrefix(s: string): { ip: string; netmask?: string } {
  const [ip, prefix, extra] = s.trim().split("/");
  if (extra !== undefined) throw invalid(`'${s}' is not an IPv4 address`);
  requireIPv4(ip!);
  if (prefix === undefined) return { ip: ip! };
  if (!/^\d{1,2}$/.test(prefix)) throw invalid(`'${s}': '/${prefix}' is not a prefix length (0-32)`);
  return { ip: ip!, netmask: prefixToNetmask(Number(prefix)) };
}

/** Adds n to an IPv4 address (for `node add n[01-10] --ipaddr 10.0.0.11`). */
export function addToIPv4(ip: string, n: number): string {
  const v = parseIPv4(ip);
  if (v === undefined) throw invalid(`'${ip}' is not an IPv4 address`);
  const r = v + n;
  if (r > 0xffffffff) throw invalid(`incrementing ${ip} by ${n} runs past 255.255.255.255`);
  return formatIPv4(r);
}

export function networkOf(ip: string, mask: string): string {
  return formatIPv4((parseIPv4(ip)! & parseIPv4(mask)!) >>> 0);
}

export function isIPv6(s: string): boolean {
  // Accept what the kernel accepts; a full validator is more than drover needs here.
  const t = s.trim();
  if (!/^[0-9a-fA-F:.]+$/.test(t) || !t.includes(":")) return false;
  const dbl = t.split("::").length - 1;
  if (dbl > 1) return false;
  const groups = t.split(":").filter((g) => g !== "");
  return groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g) || parseIPv4(g) !== undefined) && groups.length <= 8;
}

export { isHostname };

export function requireHostname(s: string, what = "node"): string {
  if (!isHostname(s)) {
    throw invalid(`'${s}' is not a valid ${what} name: use letters, digits and inner hyphens (RFC 1123), e.g. n001 or rack1-node01`);
  }
  return s;
}
