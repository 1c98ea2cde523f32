/**
 * One TFTP read transfer as a pure state machine (RFC 1350 lock-step, RFC 2347 OACK, RFC 2348 blksize,
 * RFC 7440 windowsize): no sockets, no ffi, no clock of its own. The caller passes `now` (milliseconds on any
 * monotonic clock) and sends what each call returns; the data plane (dataplane.ts) only moves the bytes.
 *
 *   const t = createTransfer(cfg);  send(start(t, now));
 *   on a datagram from the peer:    send(onPacket(t, buf, off, len, now));
 *   when now >= t.deadline:         send(onTimer(t, now));
 *   until a step carries `done`.
 *
 * Block numbers here are absolute (1, 2, … total; the wire's 16-bit number is `block & 0xffff`, so files
 * over 65535 blocks roll over to 0 as tftp-hpa, curl and iPXE expect). A file of N bytes has
 * floor(N / blksize) + 1 blocks: the last is short, and empty when N is a multiple of blksize.
 *
 * Retransmission: after `timeoutMs` without progress the window (or the OACK) is sent again, at the same
 * interval (the timeout a client negotiated is the one it expects), at most `retries` times; a peer that has
 * not yet acknowledged any DATA gets at most UNPROVEN_RETRIES and a first window of UNPROVEN_BYTES
 * (docs/security.md: a spoofed RRQ must not turn drover into an amplifier).
 */
import { decode, encodeError, ErrorCode } from "./codec";

/**
 * Until the peer has acknowledged a DATA block it may not be there at all: a read request with a spoofed
 * source, and a blind ACK 0 to the shared (so known) transfer port, would otherwise make us send windowsize ×
 * blksize bytes, `retries` times over, to the address it names. So the first window is at most UNPROVEN_BYTES
 * (at least one block; a firmware's 4 × 1468 fits whole, so RFC 7440 clients see no difference) and it, like
 * the OACK, is sent at most 1 + UNPROVEN_RETRIES times. The first ACK of data opens the full window.
 */
export const UNPROVEN_BYTES = 8 * 1024;
export const UNPROVEN_RETRIES = 2;

export interface TransferConfig {
  /** The file's length in bytes, as sent (after netascii conversion). */
  size: number;
  /** Negotiated (RFC 2348), or 512. */
  blksize: number;
  /** Negotiated (RFC 7440), or 1. */
  windowsize: number;
  /** Retransmission timeout (RFC 2349 `timeout`, or the server's default). */
  timeoutMs: number;
  /** Retransmissions of one window before the transfer is abandoned. */
  retries: number;
  /** The option acknowledgement to send first, when the client asked for options (RFC 2347). */
  oack?: Uint8Array;
}

export interface TransferCounters {
  /** DATA packets sent, retransmissions included. */
  dataPackets: number;
  retransmits: number;
  /** Every byte sent: DATA (headers included), OACK, ERROR. */
  bytesSent: number;
}

export interface TransferEnd {
  ok: boolean;
  /** Why it failed, when it did. */
  reason?: string;
  /** It failed because the peer stopped answering. */
  timedOut: boolean;
}

/**
 * What one call asks the caller to send: a packet as is (the OACK or an ERROR), or DATA blocks
 * `first`..`last` (absolute numbers, inclusive; none when last < first), never both.
 * It is the transfer's own object (`Transfer.step`), rewritten by every call: read it before the next call
 * on the same transfer. So the hot path (one step per ACK in a boot storm) allocates nothing.
 */
export interface Step {
  packet: Uint8Array | undefined;
  first: number;
  last: number;
  /** Set once, on the step that ends the transfer; nothing is to be called after it. */
  done: TransferEnd | undefined;
}

export interface Transfer {
  readonly cfg: Readonly<TransferConfig>;
  /** Blocks in the file: floor(size / blksize) + 1. */
  readonly total: number;
  /** Blocks sent per window now: at most UNPROVEN_BYTES' worth until the peer ACKs data, then `windowsize`. */
  cwnd: number;
  /** The peer has ACKed a DATA block (so it is there and reads what we send). */
  proven: boolean;
  awaitingOackAck: boolean;
  /** Highest block acknowledged. */
  acked: number;
  /** Highest block sent so far. */
  sent: number;
  /** Retransmissions since the last progress. */
  retries: number;
  /** When onTimer is due (caller's clock); meaningless once `end` is set. */
  deadline: number;
  /** File bytes sent at least once. */
  bytes: number;
  counters: TransferCounters;
  end?: TransferEnd;
  /** The step every call returns (see Step). */
  readonly step: Step;
}

/** Bytes in block `b` (1-based): blksize, less for the last block (0 when the size is a multiple). */
export function blockLength(cfg: Pick<TransferConfig, "size" | "blksize">, b: number): number {
  return Math.min(cfg.blksize, cfg.size - (b - 1) * cfg.blksize);
}

export function createTransfer(cfg: TransferConfig): Transfer {
  return {
    cfg,
    total: Math.floor(cfg.size / cfg.blksize) + 1,
    cwnd: Math.max(1, Math.min(cfg.windowsize, Math.floor(UNPROVEN_BYTES / (cfg.blksize + 4)))),
    proven: false,
    awaitingOackAck: cfg.oack !== undefined,
    acked: 0,
    sent: 0,
    retries: 0,
    deadline: 0,
    bytes: 0,
    counters: { dataPackets: 0, retransmits: 0, bytesSent: 0 },
    step: { packet: undefined, first: 1, last: 0, done: undefined },
  };
}

/** The first packets: the OACK when options were negotiated, else the first window of DATA. */
export function start(t: Transfer, now: number): Step {
  const step = t.cfg.oack ? packet(t, t.cfg.oack) : window(t);
  t.deadline = now + t.cfg.timeoutMs;
  return step;
}

/**
 * A datagram from the transfer's peer. ACKs advance the transfer; a client ERROR ends it; anything else
 * during a read is answered with ERROR 4 and ends it; an unreadable packet is ignored (the timer resends).
 */
export function onPacket(t: Transfer, buf: Uint8Array, offset: number, length: number, now: number): Step {
  if (t.end) return nothing(t);
  // The hot path: an ACK is read in place.
  if (length >= 4 && buf[offset] === 0 && buf[offset + 1] === 4) return onAck(t, (buf[offset + 2]! << 8) | buf[offset + 3]!, now);
  const d = decode(buf.slice(offset, offset + length));
  if (!d.ok) return nothing(t);
  const p = d.packet;
  if (p.op === "ERROR") return finish(t, undefined, { ok: false, reason: `client sent error ${p.code}: ${p.message}`, timedOut: false });
  if (p.op === "ACK") return onAck(t, p.block, now);
  return finish(t, encodeError(ErrorCode.IllegalOperation, "expected an ACK"), {
    ok: false,
    reason: `client sent ${p.op} during a read transfer`,
    timedOut: false,
  });
}

/** An ACK of the 16-bit block number `block`. */
export function onAck(t: Transfer, block: number, now: number): Step {
  if (t.end) return nothing(t);
  if (t.awaitingOackAck) {
    if (block !== 0) return nothing(t);
    t.awaitingOackAck = false;
    t.retries = 0;
    const step = window(t);
    t.deadline = now + t.cfg.timeoutMs;
    return step;
  }
  // Map the 16-bit block number onto the window in flight. A duplicate ACK is ignored rather than
  // answered: answering duplicates is the Sorcerer's Apprentice bug (RFC 1123 4.2.3.1).
  const delta = (block - t.acked) & 0xffff;
  if (delta === 0 || t.acked + delta > t.sent) return nothing(t);
  t.acked += delta;
  t.retries = 0;
  t.proven = true;
  t.cwnd = t.cfg.windowsize;
  if (t.acked >= t.total) return finish(t, undefined, { ok: true, timedOut: false });
  // The whole window arrived, or (RFC 7440) the client acknowledged the last block it got in order:
  // either way, send the next window after `acked`.
  const step = window(t);
  t.deadline = now + t.cfg.timeoutMs;
  return step;
}

/** The retransmission timer: resend the OACK or the window in flight, or give up. Early calls do nothing. */
export function onTimer(t: Transfer, now: number): Step {
  if (t.end || now < t.deadline) return nothing(t);
  const limit = t.proven ? t.cfg.retries : Math.min(t.cfg.retries, UNPROVEN_RETRIES);
  if (++t.retries > limit) {
    return finish(t, undefined, {
      ok: false,
      reason: `no ACK after ${limit} retransmissions${t.proven ? "" : " (the client never acknowledged a block)"}`,
      timedOut: true,
    });
  }
  t.counters.retransmits++;
  const step = t.awaitingOackAck && t.cfg.oack ? packet(t, t.cfg.oack) : window(t);
  t.deadline = now + t.cfg.timeoutMs;
  return step;
}

/** Ends the transfer from outside (superseded, server stopping); returns its end for the report. */
export function abort(t: Transfer, reason: string): TransferEnd | undefined {
  if (t.end) return undefined;
  return finish(t, undefined, { ok: false, reason, timedOut: false }).done;
}

/** The step that sends nothing. */
function nothing(t: Transfer): Step {
  const s = t.step;
  s.packet = undefined;
  s.first = 1;
  s.last = 0;
  s.done = undefined;
  return s;
}

function finish(t: Transfer, last: Uint8Array | undefined, end: TransferEnd): Step {
  t.end = end;
  const s = last ? packet(t, last) : nothing(t);
  s.done = end;
  return s;
}

function packet(t: Transfer, bytes: Uint8Array): Step {
  t.counters.bytesSent += bytes.length;
  const s = nothing(t);
  s.packet = bytes;
  return s;
}

/** The window after `acked`: cwnd blocks (fewer at the end of the file). */
function window(t: Transfer): Step {
  const first = t.acked + 1;
  const last = Math.min(t.acked + Math.min(t.cwnd, t.cfg.windowsize), t.total);
  for (let b = first; b <= last; b++) {
    const chunk = blockLength(t.cfg, b);
    if (b > t.sent) t.bytes += chunk;
    t.counters.dataPackets++;
    t.counters.bytesSent += chunk + 4;
  }
  t.sent = Math.max(t.sent, last);
  const s = nothing(t);
  s.first = first;
  s.last = last;
  return s;
}
