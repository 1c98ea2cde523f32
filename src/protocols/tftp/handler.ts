/**
 * TFTP request policy: one datagram on the listening port in, one decision out — `start` a transfer (the
 * file's bytes and the negotiated options, for the data plane), `refuse` it (the ERROR to send back), or
 * `ignore` it (counted). No sockets here; server.ts feeds it bytes and carries out what it returns, as
 * dhcp/server.ts does with dhcp/handler.ts.
 *
 * Admission: RRQ only (WRQ → ERROR 2), modes octet and netascii (mail → ERROR 4), every name through
 * `sanitizeBootPath`, one transfer per client address and port (a retransmitted RRQ is ignored while its
 * transfer is opening or running), at most `maxPerClient` at once from one client address (then ERROR 0 "too
 * many transfers from this address (N)"), at most `maxTransfers` at once in all (then ERROR 0 "server busy":
 * the PXE ROM retries, which is admission control for a boot storm). A packet that cannot be read is counted and, only
 * when it was a request (RFC 1350), answered with ERROR 4: never answer what might be an ERROR or a stray
 * DATA/ACK, or two servers could bounce errors at each other forever.
 */
import type { BootFiles } from "../../boot/ports";
import { sanitizeBootPath } from "../../boot/sanitize";
import { decode, encodeOack, ErrorCode, type Negotiated, negotiate, type OptionLimits, type Request, toNetascii } from "./codec";

/** Counted refusals (TftpStats.refused). */
export type RefusalCause = "writeRequest" | "badName" | "notFound" | "badMode" | "clientLimit" | "busy" | "internal";

export interface Peer {
  address: string;
  port: number;
}

export type Decision =
  | {
      kind: "start";
      /** The transfer's id (for the data plane's report) and its client key (for `ended`). */
      id: number;
      key: string;
      /** The sanitised name. */
      name: string;
      /** The bytes to send (netascii-converted when asked). */
      data: Uint8Array;
      negotiated: Negotiated;
      /** The encoded OACK to send first, when the client asked for options we grant. */
      oack?: Uint8Array;
      request: Request;
    }
  | {
      kind: "refuse";
      why: RefusalCause | "malformed";
      error: { code: number; message: string };
      /** A line for the log (debug, or the log itself for `internal`), without the "tftp: " prefix. */
      note?: string;
      /** The read request refused, when it was one. */
      request?: Request;
    }
  | { kind: "ignore"; why: "malformed" | "duplicate"; note?: string; request?: Request };

export interface HandlerLimits extends OptionLimits {
  /** Concurrent transfers (opening or running) before "server busy". */
  maxTransfers: number;
  /** Concurrent transfers (opening or running) from one client address, any port, before "too many transfers". */
  maxPerClient: number;
}

export class TftpHandler {
  /** Transfers by client "address|port": "opening" while the file is read, then the transfer's id. */
  private readonly transfers = new Map<string, { address: string; id: number | "opening" }>();
  /** How many of `transfers` each client address holds (addresses holding none are absent). */
  private readonly perAddress = new Map<string, number>();
  private seq = 0;

  constructor(
    private readonly files: BootFiles,
    private readonly limits: HandlerLimits,
  ) {}

  /** Transfers opening or running. */
  get size(): number {
    return this.transfers.size;
  }

  /** Transfers opening or running from client `address`. */
  heldBy(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /**
   * Decides about one datagram. The admission checks run before the first `await`, so a retransmitted RRQ
   * arriving while the file is being read is already a duplicate.
   */
  async handle(buf: Uint8Array, from: Peer): Promise<Decision> {
    const { address, port } = from;
    const d = decode(buf);
    if (!d.ok) {
      const note = `malformed packet from ${address}:${port}: ${d.reason}`;
      const op = buf.length >= 2 ? (buf[0]! << 8) | buf[1]! : 0;
      if (op === 1 || op === 2 || op > 6)
        return { kind: "refuse", why: "malformed", error: { code: ErrorCode.IllegalOperation, message: "malformed request" }, note };
      return { kind: "ignore", why: "malformed", note };
    }
    const p = d.packet;
    if (p.op === "WRQ") {
      return {
        kind: "refuse",
        why: "writeRequest",
        error: { code: ErrorCode.AccessViolation, message: "this server is read-only" },
        note: `refused write request for ${JSON.stringify(p.filename)} from ${address}:${port}`,
      };
    }
    if (p.op !== "RRQ") return { kind: "ignore", why: "malformed", note: `unexpected ${p.op} on the listening port from ${address}:${port}` };
    if (port === 0) return { kind: "ignore", why: "malformed", request: p };
    const key = `${address}|${port}`;
    if (this.transfers.has(key)) return { kind: "ignore", why: "duplicate", request: p };
    if (p.mode === "mail")
      return { kind: "refuse", why: "badMode", error: { code: ErrorCode.IllegalOperation, message: "mail mode is not supported" }, request: p };
    const clean = sanitizeBootPath(p.filename);
    if (!clean.ok) {
      return {
        kind: "refuse",
        why: "badName",
        error: { code: ErrorCode.AccessViolation, message: `bad file name: ${clean.detail}` },
        note: `refused ${JSON.stringify(p.filename.slice(0, 200))} from ${address}:${port}: ${clean.reason}`,
        request: p,
      };
    }
    // Checked before the global cap, so one flooding address is told (and counted) as itself, not as "busy".
    // An ERROR rather than silence: one 46-byte datagram for an RRQ of at least 10 bytes, the same answer
    // "busy" or "file not found" already gives any request, so a spoofer gains no new amplification, and a
    // real firmware (or its operator, in a capture) learns why it was turned away.
    const held = this.heldBy(address);
    if (held >= this.limits.maxPerClient) {
      return {
        kind: "refuse",
        why: "clientLimit",
        error: { code: ErrorCode.NotDefined, message: `too many transfers from this address (${this.limits.maxPerClient})` },
        note: `refused ${JSON.stringify(clean.name)} from ${address}:${port}: ${held} transfers from this address already`,
        request: p,
      };
    }
    if (this.transfers.size >= this.limits.maxTransfers)
      return { kind: "refuse", why: "busy", error: { code: ErrorCode.NotDefined, message: "server busy, try again" }, request: p };
    this.transfers.set(key, { address, id: "opening" });
    this.perAddress.set(address, held + 1);
    try {
      return await this.open(key, p, clean.name, from);
    } catch (e) {
      this.release(key);
      throw e;
    }
  }

  /** The data plane reported transfer `id` of client `key` ended: the client may start another. */
  ended(key: string, id: number): void {
    if (this.transfers.get(key)?.id === id) this.release(key);
  }

  /** Forgets every transfer (the server is stopping). */
  clear(): void {
    this.transfers.clear();
    this.perAddress.clear();
  }

  /** Frees client `key`'s slot, and its address's. */
  private release(key: string): void {
    const t = this.transfers.get(key);
    if (!t) return;
    this.transfers.delete(key);
    const n = (this.perAddress.get(t.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(t.address, n);
    else this.perAddress.delete(t.address);
  }

  private async open(key: string, req: Request, name: string, from: Peer): Promise<Decision> {
    let file: { size: number; data: Uint8Array } | undefined;
    try {
      file = await this.files.open(name);
    } catch (e) {
      this.release(key);
      return {
        kind: "refuse",
        why: "internal",
        error: { code: ErrorCode.NotDefined, message: "server error reading the file" },
        note: `cannot read ${name}: ${(e as Error).message}`,
        request: req,
      };
    }
    if (!file) {
      this.release(key);
      return {
        kind: "refuse",
        why: "notFound",
        error: { code: ErrorCode.FileNotFound, message: "file not found" },
        note: `${from.address}:${from.port} asked for ${name}: not found`,
        request: req,
      };
    }
    const data = req.mode === "netascii" ? toNetascii(file.data) : file.data;
    const negotiated = negotiate(req, data.length, this.limits);
    const id = ++this.seq;
    // Still held unless `clear` ran while the file was read (the server is stopping and drops this start).
    const held = this.transfers.get(key);
    if (held) held.id = id;
    return { kind: "start", id, key, name, data, negotiated, ...(negotiated.oack ? { oack: encodeOack(negotiated.oack) } : {}), request: req };
  }
}
