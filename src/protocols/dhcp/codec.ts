/**
 * DHCPv4 / BOOTP wire codec (RFC 2131, RFC 2132, RFC 3396). Pure: bytes in, objects out, and back.
 *
 * Options are kept as raw bytes keyed by code, in the order they appeared; interpretation (an address, a
 * string, an encapsulated set) belongs to the caller, which is how option 82 can be echoed to a relay
 * byte-for-byte. A code that appears more than once is concatenated (RFC 3396 long options); option 52
 * (overload) is honoured by reading options out of the `file` and `sname` fields.
 *
 * decode() never throws: a packet that cannot be trusted comes back as `{ ok: false, reason }` so the
 * server can count it and move on.
 */

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
/** 236 bytes of fixed BOOTP header + the 4-byte magic cookie. */
export const HEADER_LEN = 240;
/** Anything larger than a jumbo frame is not a DHCP message we will read. */
export const MAX_PACKET = 9000;
/** BOOTP relays and some PXE ROMs discard replies shorter than the BOOTP minimum of 300 bytes. */
export const MIN_REPLY = 300;

export type DhcpOptions = Map<number, Uint8Array>;

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The first hlen bytes of chaddr (at most 16). */
  chaddr: Uint8Array;
  /** Server host name field (empty when overloaded with options). */
  sname: string;
  /** Boot file field (empty when overloaded with options). */
  file: string;
  options: DhcpOptions;
}

export type RejectReason = "truncated" | "oversize" | "bad-op" | "bad-hlen" | "bad-cookie" | "option-overrun" | "bad-overload";

export type DecodeResult = { ok: true; packet: DhcpPacket } | { ok: false; reason: RejectReason; detail: string };

const reject = (reason: RejectReason, detail: string): DecodeResult => ({ ok: false, reason, detail });

export function decode(buf: Uint8Array): DecodeResult {
  if (buf.length < HEADER_LEN) return reject("truncated", `${buf.length} bytes, a DHCP message has at least ${HEADER_LEN}`);
  if (buf.length > MAX_PACKET) return reject("oversize", `${buf.length} bytes, more than ${MAX_PACKET}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return reject("bad-op", `op ${op}`);
  const hlen = buf[2]!;
  if (hlen > 16) return reject("bad-hlen", `hlen ${hlen} exceeds the 16-byte chaddr field`);
  if (dv.getUint32(236) !== MAGIC_COOKIE) return reject("bad-cookie", `cookie 0x${dv.getUint32(236).toString(16)}`);

  const options: DhcpOptions = new Map();
  const err = readOptions(buf, HEADER_LEN, buf.length, options, "options");
  if (err) return err;
  let sname = cstr(buf, 44, 64);
  let file = cstr(buf, 108, 128);
  const ov = options.get(52);
  if (ov) {
    if (ov.length !== 1 || ov[0]! < 1 || ov[0]! > 3) return reject("bad-overload", `option 52 = ${hexOf(ov)}`);
    // RFC 2131 4.1: options field first, then file, then sname.
    if (ov[0]! & 1) {
      const e = readOptions(buf, 108, 236, options, "file field");
      if (e) return e;
      file = "";
    }
    if (ov[0]! & 2) {
      const e = readOptions(buf, 44, 108, options, "sname field");
      if (e) return e;
      sname = "";
    }
  }
  return {
    ok: true,
    packet: {
      op,
      htype: buf[1]!,
      hlen,
      hops: buf[3]!,
      xid: dv.getUint32(4),
      secs: dv.getUint16(8),
      flags: dv.getUint16(10),
      ciaddr: ipAt(buf, 12),
      yiaddr: ipAt(buf, 16),
      siaddr: ipAt(buf, 20),
      giaddr: ipAt(buf, 24),
      chaddr: buf.slice(28, 28 + hlen),
      sname,
      file,
      options,
    },
  };
}

/** Reads TLV options from buf[start, end) into out. Pad (0) is one byte; End (255) stops the area. */
function readOptions(buf: Uint8Array, start: number, end: number, out: DhcpOptions, area: string): DecodeResult | undefined {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) return undefined;
    if (i + 1 >= end) return reject("option-overrun", `option ${code} in the ${area} has no length byte`);
    const len = buf[i + 1]!;
    if (i + 2 + len > end) return reject("option-overrun", `option ${code} in the ${area} claims ${len} bytes, ${end - i - 2} remain`);
    if (code === 52 && area !== "options") return reject("bad-overload", `option 52 inside the ${area}`);
    const val = buf.subarray(i + 2, i + 2 + len);
    const prev = out.get(code);
    if (prev) {
      const joined = new Uint8Array(prev.length + len);
      joined.set(prev);
      joined.set(val, prev.length);
      out.set(code, joined);
    } else {
      out.set(code, val.slice());
    }
    i += 2 + len;
  }
  // No End option: tolerated when the last option ended exactly at the end of the area.
  return undefined;
}

export interface EncodeOptions {
  /** Pad the message to at least this many bytes (default 300, the BOOTP minimum). */
  minLength?: number;
}

/**
 * Encodes a packet. Option values longer than 255 bytes are split into consecutive instances (RFC 3396).
 * Option 82 (relay agent information) is written last, as RFC 3046 asks. The options area ends with End.
 */
export function encode(p: DhcpPacket, opts: EncodeOptions = {}): Uint8Array {
  let optLen = 1;
  for (const v of p.options.values()) optLen += Math.max(1, Math.ceil(v.length / 255)) * 2 + v.length;
  const size = Math.max(opts.minLength ?? MIN_REPLY, HEADER_LEN + optLen);
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  buf[0] = p.op;
  buf[1] = p.htype;
  buf[2] = Math.min(p.hlen, 16);
  buf[3] = p.hops;
  dv.setUint32(4, p.xid >>> 0);
  dv.setUint16(8, p.secs);
  dv.setUint16(10, p.flags);
  putIp(buf, 12, p.ciaddr);
  putIp(buf, 16, p.yiaddr);
  putIp(buf, 20, p.siaddr);
  putIp(buf, 24, p.giaddr);
  buf.set(p.chaddr.subarray(0, 16), 28);
  putStr(buf, 44, 64, p.sname);
  putStr(buf, 108, 128, p.file);
  dv.setUint32(236, MAGIC_COOKIE);
  let i = HEADER_LEN;
  const write = (code: number, v: Uint8Array) => {
    if (v.length === 0) {
      buf[i++] = code;
      buf[i++] = 0;
      return;
    }
    for (let off = 0; off < v.length; off += 255) {
      const chunk = v.subarray(off, off + 255);
      buf[i++] = code;
      buf[i++] = chunk.length;
      buf.set(chunk, i);
      i += chunk.length;
    }
  };
  for (const [code, v] of p.options) if (code !== 82 && code !== 0 && code !== 255) write(code, v);
  const o82 = p.options.get(82);
  if (o82) write(82, o82);
  buf[i] = 255;
  return buf;
}

// --- small helpers shared by the rest of the DHCP code -------------------------------------------------

export function ipAt(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

export function ipBytes(ip: string): Uint8Array {
  // Hand-rolled (several calls per reply): four decimal numbers 0-255 separated by dots.
  const out = new Uint8Array(4);
  let part = 0;
  let n = -1;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46;
    if (c === 46) {
      if (n < 0 || part > 3) throw new Error(`not an IPv4 address: ${ip}`);
      out[part++] = n;
      n = -1;
    } else if (c >= 48 && c <= 57) {
      n = (n < 0 ? 0 : n * 10) + c - 48;
      if (n > 255) throw new Error(`not an IPv4 address: ${ip}`);
    } else throw new Error(`not an IPv4 address: ${ip}`);
  }
  if (part !== 4) throw new Error(`not an IPv4 address: ${ip}`);
  return out;
}

function putIp(buf: Uint8Array, off: number, ip: string) {
  buf.set(ipBytes(ip || "0.0.0.0"), off);
}

const utf8 = new TextEncoder();

function putStr(buf: Uint8Array, off: number, max: number, s: string) {
  const b = utf8.encode(s);
  if (b.length >= max) throw new Error(`'${s.slice(0, 40)}…' does not fit the ${max}-byte field`);
  buf.set(b, off);
}

/** A NUL-terminated field, read as Latin-1 so arbitrary bytes survive. */
function cstr(buf: Uint8Array, off: number, max: number): string {
  let end = off;
  while (end < off + max && buf[end] !== 0) end++;
  let s = "";
  for (let i = off; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function hexOf(b: Uint8Array, sep = ""): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (i ? sep : "") + HEX[b[i]!];
  return s;
}

/** chaddr of an Ethernet client as drover writes MACs: lower case, colon separated. */
export function macOf(p: DhcpPacket): string {
  return hexOf(p.chaddr.subarray(0, 6), ":");
}

export function macBytes(mac: string): Uint8Array {
  const hex = mac.replace(/[:\-.]/g, "");
  return Uint8Array.from(hex.match(/../g)!.map((h) => Number.parseInt(h, 16)));
}
