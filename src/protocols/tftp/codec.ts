/**
 * TFTP wire format (RFC 1350) with the option extension (RFC 2347) and the options drover negotiates:
 * blksize (RFC 2348), timeout and tsize (RFC 2349), windowsize (RFC 7440). Pure: bytes <-> objects, no I/O.
 * Decoding never throws; a packet that cannot be read is `{ ok: false, reason }`.
 */

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** TFTP error codes (RFC 1350 §5, RFC 2347 for 8). */
export const ErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTid: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionRefused: 8,
} as const;

export type Mode = "octet" | "netascii" | "mail";

export interface Request {
  op: "RRQ" | "WRQ";
  /** The filename exactly as sent (decoded as UTF-8; NOT sanitised). */
  filename: string;
  mode: Mode;
  /** Options with lower-cased names, in the order sent; unknown options are kept for logging. */
  options: Map<string, string>;
}

export type Packet =
  | Request
  | { op: "DATA"; block: number; data: Uint8Array }
  | { op: "ACK"; block: number }
  | { op: "ERROR"; code: number; message: string }
  | { op: "OACK"; options: Map<string, string> };

export type Decoded = { ok: true; packet: Packet } | { ok: false; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

/** Reads NUL-terminated strings starting at `offset`. Returns undefined when the last one is unterminated. */
function strings(buf: Uint8Array, offset: number): string[] | { error: string } {
  const out: string[] = [];
  let start = offset;
  for (let i = offset; i < buf.length; i++) {
    if (buf[i] !== 0) continue;
    try {
      out.push(utf8.decode(buf.subarray(start, i)));
    } catch {
      return { error: "string is not valid UTF-8" };
    }
    start = i + 1;
  }
  if (start !== buf.length) return { error: "unterminated string" };
  return out;
}

export function decode(buf: Uint8Array): Decoded {
  if (buf.length < 2) return { ok: false, reason: `packet too short (${buf.length} bytes)` };
  const op = (buf[0]! << 8) | buf[1]!;
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const s = strings(buf, 2);
      if ("error" in s) return { ok: false, reason: `request: ${s.error}` };
      if (s.length < 2) return { ok: false, reason: "request without filename and mode" };
      if (s.length % 2 !== 0) return { ok: false, reason: "request option without a value" };
      const mode = s[1]!.toLowerCase();
      if (mode !== "octet" && mode !== "netascii" && mode !== "mail")
        return { ok: false, reason: `unknown transfer mode ${JSON.stringify(s[1]!.slice(0, 32))}` };
      const options = new Map<string, string>();
      for (let i = 2; i < s.length; i += 2) {
        const k = s[i]!.toLowerCase();
        if (!options.has(k)) options.set(k, s[i + 1]!);
      }
      return { ok: true, packet: { op: op === Opcode.RRQ ? "RRQ" : "WRQ", filename: s[0]!, mode, options } };
    }
    case Opcode.DATA:
      if (buf.length < 4) return { ok: false, reason: "DATA shorter than 4 bytes" };
      return { ok: true, packet: { op: "DATA", block: (buf[2]! << 8) | buf[3]!, data: buf.subarray(4) } };
    case Opcode.ACK:
      if (buf.length < 4) return { ok: false, reason: "ACK shorter than 4 bytes" };
      return { ok: true, packet: { op: "ACK", block: (buf[2]! << 8) | buf[3]! } };
    case Opcode.ERROR: {
      if (buf.length < 4) return { ok: false, reason: "ERROR shorter than 4 bytes" };
      const end = buf.indexOf(0, 4);
      let message: string;
      try {
        message = utf8.decode(buf.subarray(4, end < 0 ? buf.length : end));
      } catch {
        message = "(not UTF-8)";
      }
      return { ok: true, packet: { op: "ERROR", code: (buf[2]! << 8) | buf[3]!, message } };
    }
    case Opcode.OACK: {
      const s = strings(buf, 2);
      if ("error" in s) return { ok: false, reason: `OACK: ${s.error}` };
      if (s.length % 2 !== 0) return { ok: false, reason: "OACK option without a value" };
      const options = new Map<string, string>();
      for (let i = 0; i < s.length; i += 2) options.set(s[i]!.toLowerCase(), s[i + 1]!);
      return { ok: true, packet: { op: "OACK", options } };
    }
    default:
      return { ok: false, reason: `unknown opcode ${op}` };
  }
}

function header(op: number, n: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b[0] = op >> 8;
  b[1] = op & 255;
  b[2] = (n >> 8) & 255;
  b[3] = n & 255;
  return b;
}

/** A DATA packet; `block` is taken modulo 65536 (block numbers roll over to 0). */
export function encodeData(block: number, data: Uint8Array): Uint8Array {
  const b = header(Opcode.DATA, block & 0xffff, 4 + data.length);
  b.set(data, 4);
  return b;
}

export function encodeAck(block: number): Uint8Array {
  return header(Opcode.ACK, block & 0xffff, 4);
}

export function encodeError(code: number, message: string): Uint8Array {
  const m = enc.encode(message);
  const b = header(Opcode.ERROR, code, 4 + m.length + 1);
  b.set(m, 4);
  return b;
}

function encodeStrings(op: number, parts: string[]): Uint8Array {
  const enc0 = parts.map((p) => enc.encode(p));
  const b = new Uint8Array(2 + enc0.reduce((n, p) => n + p.length + 1, 0));
  b[0] = op >> 8;
  b[1] = op & 255;
  let o = 2;
  for (const p of enc0) {
    b.set(p, o);
    o += p.length + 1;
  }
  return b;
}

export function encodeOack(options: Map<string, string> | Record<string, string>): Uint8Array {
  const entries = options instanceof Map ? [...options] : Object.entries(options);
  return encodeStrings(Opcode.OACK, entries.flat());
}

export function encodeRequest(op: "RRQ" | "WRQ", filename: string, mode: Mode = "octet", options: Record<string, string> = {}): Uint8Array {
  return encodeStrings(op === "RRQ" ? Opcode.RRQ : Opcode.WRQ, [filename, mode, ...Object.entries(options).flat()]);
}

/** Options the server accepts, after clamping to its limits. */
export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Retransmission timeout in ms. */
  timeoutMs: number;
  /** The options to echo in the OACK, or undefined when the client asked for none we support. */
  oack?: Map<string, string>;
}

export interface OptionLimits {
  maxBlksize: number;
  maxWindowsize: number;
  defaultTimeoutMs: number;
}

/**
 * Negotiates RFC 2347 options. Unknown options and invalid values are ignored (left out of the OACK), as
 * RFC 2347 allows; a blksize above our limit is lowered to it, as RFC 2348 allows.
 */
export function negotiate(req: Request, fileSize: number, limits: OptionLimits): Negotiated {
  const oack = new Map<string, string>();
  let blksize = 512;
  let windowsize = 1;
  let timeoutMs = limits.defaultTimeoutMs;
  for (const [k, v] of req.options) {
    if (!/^[0-9]{1,10}$/.test(v)) continue;
    const n = Number(v);
    switch (k) {
      case "blksize":
        if (n < 8) break;
        blksize = Math.min(n, limits.maxBlksize, 65464);
        oack.set("blksize", String(blksize));
        break;
      case "windowsize":
        if (n < 1 || n > 65535) break;
        windowsize = Math.min(n, limits.maxWindowsize);
        oack.set("windowsize", String(windowsize));
        break;
      case "timeout":
        if (n < 1 || n > 255) break;
        timeoutMs = n * 1000;
        oack.set("timeout", String(n));
        break;
      case "tsize":
        oack.set("tsize", String(fileSize));
        break;
    }
  }
  return { blksize, windowsize, timeoutMs, oack: oack.size > 0 ? oack : undefined };
}

/** RFC 1350 netascii: LF -> CR LF, CR -> CR NUL. */
export function toNetascii(data: Uint8Array): Uint8Array {
  let extra = 0;
  for (const c of data) if (c === 10 || c === 13) extra++;
  if (extra === 0) return data;
  const out = new Uint8Array(data.length + extra);
  let o = 0;
  for (const c of data) {
    if (c === 10) {
      out[o++] = 13;
      out[o++] = 10;
    } else if (c === 13) {
      out[o++] = 13;
      out[o++] = 0;
    } else out[o++] = c;
  }
  return out;
}
