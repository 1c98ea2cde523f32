/**
 * The TFTP data plane: a Worker thread that runs every transfer's DATA/ACK exchange on one UDP socket of its
 * own, through libc (bun:ffi): one blocking recvmmsg takes every ACK that has arrived, one sendmmsg sends
 * every DATA block they call for. The main thread keeps the listening port (requests, file names, options)
 * and hands each accepted transfer over with `start`; this thread reports back with `end`.
 *
 * Why a thread and raw system calls: in a boot storm the server does one small thing per packet, 100 clients
 * × 600 blocks for one iPXE binary. Through Bun's socket API each datagram costs a JS callback, a buffer and
 * an address string; here a batch of 64 ACKs is parsed from one buffer in place, and DATA blocks are
 * encoded once per file and block size and sent straight from that memory (bench/README.md has the figures).
 *
 * Every transfer keeps RFC 1350's transfer ID rule: the client talks to this socket's port, not port 69, and
 * the socket tells transfers apart by the client's address and port. Packets from anyone else get ERROR 5.
 * Linux only (the struct layouts below are those of x86-64 and arm64 Linux).
 */
import { isMainThread } from "node:worker_threads";
import { ErrorCode, decode, encodeError } from "./codec";

/** Main thread → data plane. */
export type ToDataPlane =
  | { t: "init"; address: string; retries: number }
  | {
      t: "start";
      id: number;
      /** The file's bytes, shared (not copied); `key` names them so blocks are encoded once per file. */
      file: { key: number; bytes: SharedArrayBuffer };
      blksize: number;
      windowsize: number;
      timeoutMs: number;
      /** The option acknowledgement to send first, when the client asked for options. */
      oack?: Uint8Array;
      address: string;
      port: number;
    }
  | { t: "stop" };

export interface TransferCounters {
  dataPackets: number;
  retransmits: number;
  bytesSent: number;
}

/** Data plane → main thread. */
export type FromDataPlane =
  | { t: "ready"; port: number }
  | { t: "failed"; message: string }
  | { t: "end"; id: number; ok: boolean; timedOut: boolean; reason?: string; bytes: number; counters: TransferCounters }
  /** Packets from clients with no transfer (answered with ERROR 5), since the last report. */
  | { t: "strays"; n: number; from: string }
  | { t: "stopped" };

// ---- libc ----
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const MSG_WAITFORONE = 0x10000;
const EINTR = 4;
const EAGAIN = 11;

interface Libc {
  socket(domain: number, type: number, proto: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  setsockopt(fd: number, level: number, opt: number, val: Uint8Array, len: number): number;
  getsockname(fd: number, addr: Uint8Array, len: Uint32Array): number;
  recvmmsg(fd: number, vec: number, vlen: number, flags: number, timeout: null): number;
  sendmmsg(fd: number, vec: number, vlen: number, flags: number): number;
  close(fd: number): number;
  __errno_location(): number;
}

type Ffi = typeof import("bun:ffi");

/** How long one receive call may block; also the granularity of retransmission timers. */
const TICK_MS = 10;
const RECV_BATCH = 64;
const RECV_SLOT = 1024;
const SEND_BATCH = 1024;
/** Encoded files kept when no transfer uses them (a storm fetches the same one or two binaries). */
const IDLE_ENCODINGS = 8;
/** How long the receive loop keeps running after the last transfer ended. */
const LINGER_MS = 2000;
/**
 * Until the peer has acknowledged a DATA block it may not be there at all: a read request with a spoofed
 * source, and a blind ACK 0 to this shared (so known) port, would otherwise make us send windowsize ×
 * blksize bytes, five times over, to the address it names. So the first window is at most UNPROVEN_BYTES
 * (at least one block; a firmware's 4 × 1468 fits whole, so RFC 7440 clients see no difference) and it,
 * like the OACK, is sent at most 1 + UNPROVEN_RETRIES times. The first ACK of data opens the full window.
 */
const UNPROVEN_BYTES = 8 * 1024;
const UNPROVEN_RETRIES = 2;

/** Writes a pointer-sized value (below 2^53) little-endian at a byte offset of a Uint32Array's buffer. */
function setU64(v: Uint32Array, byteOffset: number, value: number) {
  v[byteOffset >> 2] = value % 0x100000000;
  v[(byteOffset >> 2) + 1] = Math.floor(value / 0x100000000);
}

function sockaddrIn(address: string, port: number): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = AF_INET; // sa_family, little-endian u16
  a[2] = port >> 8;
  a[3] = port & 0xff;
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${address}`);
  a.set(parts, 4);
  return a;
}

/** A file's DATA packets for one block size, laid out back to back: block b at (b-1) × (blksize+4). */
interface Encoded {
  buf: Uint8Array;
  base: number;
  stride: number;
  length: number;
  blksize: number;
  total: number;
  users: number;
}

interface Transfer {
  id: number;
  ip: number;
  port: number;
  enc: Encoded;
  windowsize: number;
  /** Blocks sent per window now: at most UNPROVEN_BYTES' worth until the peer ACKs data, then `windowsize`. */
  cwnd: number;
  /** The peer has ACKed a DATA block (so it is there and reads what we send). */
  proven: boolean;
  timeoutMs: number;
  oack?: Uint8Array;
  awaitingOackAck: boolean;
  acked: number;
  sent: number;
  retries: number;
  deadline: number;
  bytes: number;
  counters: TransferCounters;
}

export class DataPlane {
  private readonly libc: Libc;
  private readonly ptr: Ffi["ptr"];
  private readonly readI32: Ffi["read"]["i32"];
  private fd = -1;
  private retries = 5;
  private readonly transfers = new Map<number, Transfer>();
  private readonly encodings = new Map<string, Encoded>();
  private running = false;
  private stopped = false;
  private nextScan = 0;
  private strays = 0;
  private strayFrom = "";
  /** The receive loop runs while transfers are active and for a while after (late ACKs, strangers). */
  private lingerUntil = 0;

  // Receive vectors: RECV_BATCH slots of data, source address, iovec and mmsghdr.
  private readonly rData = new Uint8Array(RECV_BATCH * RECV_SLOT);
  private readonly rNames = new Uint8Array(RECV_BATCH * 16);
  private readonly rIov = new Uint8Array(RECV_BATCH * 16);
  private readonly rHdr = new Uint8Array(RECV_BATCH * 64);
  private readonly rHdr32 = new Uint32Array(this.rHdr.buffer);
  private rHdrPtr = 0;
  // Send vectors: SEND_BATCH packets queued, sent by flush().
  private readonly sNames = new Uint8Array(SEND_BATCH * 16);
  private readonly sIov = new Uint8Array(SEND_BATCH * 16);
  private readonly sIov32 = new Uint32Array(this.sIov.buffer);
  private readonly sHdr = new Uint8Array(SEND_BATCH * 64);
  private sHdrPtr = 0;
  private queued = 0;
  /** Packets not in an encoding (OACK, ERROR) must stay alive until sent. */
  private keep: Uint8Array[] = [];
  private readonly unknownTid = encodeError(ErrorCode.UnknownTid, "unknown transfer ID");

  constructor(private readonly post: (m: FromDataPlane) => void) {
    const ffi = require("bun:ffi") as Ffi;
    const T = ffi.FFIType;
    this.ptr = ffi.ptr;
    this.readI32 = ffi.read.i32;
    this.libc = ffi.dlopen("libc.so.6", {
      socket: { args: [T.i32, T.i32, T.i32], returns: T.i32 },
      bind: { args: [T.i32, T.ptr, T.u32], returns: T.i32 },
      setsockopt: { args: [T.i32, T.i32, T.i32, T.ptr, T.u32], returns: T.i32 },
      getsockname: { args: [T.i32, T.ptr, T.ptr], returns: T.i32 },
      recvmmsg: { args: [T.i32, T.ptr, T.u32, T.i32, T.ptr], returns: T.i32 },
      sendmmsg: { args: [T.i32, T.ptr, T.u32, T.i32], returns: T.i32 },
      close: { args: [T.i32], returns: T.i32 },
      __errno_location: { args: [], returns: T.ptr },
    }).symbols as unknown as Libc;
  }

  private errno(): number {
    return this.readI32(this.libc.__errno_location() as never, 0);
  }

  /** Opens and binds the socket; returns its port. */
  open(address: string, retries: number): number {
    this.retries = retries;
    const l = this.libc;
    const fd = l.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket() failed (errno ${this.errno()})`);
    const int = (v: number) => new Uint8Array(Int32Array.of(v).buffer);
    // Room for a storm's ACKs and DATA bursts; the kernel caps these at net.core.[rw]mem_max.
    l.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int(1 << 20), 4);
    l.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, int(4 << 20), 4);
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setUint32(8, TICK_MS * 1000, true); // tv_sec 0, tv_usec
    if (l.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) !== 0) throw new Error(`setsockopt(SO_RCVTIMEO) failed (errno ${this.errno()})`);
    if (l.bind(fd, sockaddrIn(address, 0), 16) !== 0) {
      const e = this.errno();
      l.close(fd);
      throw new Error(`cannot bind a transfer socket on ${address} (errno ${e})`);
    }
    const name = new Uint8Array(16);
    l.getsockname(fd, name, Uint32Array.of(16));
    this.fd = fd;
    this.prepareVectors();
    return (name[2]! << 8) | name[3]!;
  }

  private prepareVectors() {
    const p = this.ptr;
    const rData = p(this.rData);
    const rNames = p(this.rNames);
    const rIov = p(this.rIov);
    const rIov32 = new Uint32Array(this.rIov.buffer);
    this.rHdrPtr = p(this.rHdr);
    for (let i = 0; i < RECV_BATCH; i++) {
      setU64(rIov32, i * 16, rData + i * RECV_SLOT);
      setU64(rIov32, i * 16 + 8, RECV_SLOT);
      setU64(this.rHdr32, i * 64, rNames + i * 16);
      this.rHdr32[(i * 64 + 8) >> 2] = 16;
      setU64(this.rHdr32, i * 64 + 16, rIov + i * 16);
      setU64(this.rHdr32, i * 64 + 24, 1);
    }
    const sNames = p(this.sNames);
    const sIov = p(this.sIov);
    const sHdr32 = new Uint32Array(this.sHdr.buffer);
    this.sHdrPtr = p(this.sHdr);
    for (let i = 0; i < SEND_BATCH; i++) {
      setU64(sHdr32, i * 64, sNames + i * 16);
      sHdr32[(i * 64 + 8) >> 2] = 16;
      setU64(sHdr32, i * 64 + 16, sIov + i * 16);
      setU64(sHdr32, i * 64 + 24, 1);
      this.sNames[i * 16] = AF_INET;
    }
  }

  start(m: Extract<ToDataPlane, { t: "start" }>) {
    if (this.stopped) return;
    const ip = sockaddrIn(m.address, 0);
    const ipNum = ((ip[4]! << 24) | (ip[5]! << 16) | (ip[6]! << 8) | ip[7]!) >>> 0;
    const enc = this.encoding(m.file.key, m.file.bytes, m.blksize);
    enc.users++;
    const t: Transfer = {
      id: m.id,
      ip: ipNum,
      port: m.port,
      enc,
      windowsize: m.windowsize,
      cwnd: Math.max(1, Math.min(m.windowsize, Math.floor(UNPROVEN_BYTES / (m.blksize + 4)))),
      proven: false,
      timeoutMs: m.timeoutMs,
      ...(m.oack ? { oack: m.oack } : {}),
      awaitingOackAck: m.oack !== undefined,
      acked: 0,
      sent: 0,
      retries: 0,
      deadline: 0,
      bytes: 0,
      counters: { dataPackets: 0, retransmits: 0, bytesSent: 0 },
    };
    const key = ipNum * 65536 + m.port;
    const old = this.transfers.get(key);
    if (old) this.finish(old, false, "superseded by a new request from the same address and port");
    this.transfers.set(key, t);
    if (t.oack) this.queueRaw(t, t.oack);
    else this.sendWindow(t);
    this.arm(t, performance.now());
    this.flush();
    if (!this.running) {
      this.running = true;
      setImmediate(() => this.pump());
    }
  }

  stop() {
    this.stopped = true;
    for (const t of [...this.transfers.values()]) this.finish(t, false, "server stopping");
    if (this.fd >= 0) this.libc.close(this.fd);
    this.fd = -1;
  }

  private encoding(key: number, bytes: SharedArrayBuffer, blksize: number): Encoded {
    const id = `${key}/${blksize}`;
    let e = this.encodings.get(id);
    if (e) {
      // Most recently used last.
      this.encodings.delete(id);
      this.encodings.set(id, e);
      return e;
    }
    const src = new Uint8Array(bytes);
    const total = Math.floor(src.length / blksize) + 1;
    const stride = blksize + 4;
    const buf = new Uint8Array(total * stride);
    for (let b = 1; b <= total; b++) {
      const off = (b - 1) * stride;
      buf[off + 1] = 3; // DATA
      buf[off + 2] = (b >> 8) & 0xff; // block numbers roll over from 65535 to 0
      buf[off + 3] = b & 0xff;
      buf.set(src.subarray((b - 1) * blksize, Math.min(b * blksize, src.length)), off + 4);
    }
    e = { buf, base: this.ptr(buf), stride, length: src.length, blksize, total, users: 0 };
    this.encodings.set(id, e);
    let idle = 0;
    for (const [k, v] of [...this.encodings].reverse()) if (v.users === 0 && ++idle > IDLE_ENCODINGS) this.encodings.delete(k);
    return e;
  }

  /** One turn: wait up to TICK_MS for ACKs, handle them all, send what they call for, check timers. */
  private pump() {
    if (this.stopped || this.fd < 0) return;
    const n = this.libc.recvmmsg(this.fd, this.rHdrPtr, RECV_BATCH, MSG_WAITFORONE, null);
    if (n < 0) {
      const e = this.errno();
      if (e !== EAGAIN && e !== EINTR) this.post({ t: "strays", n: 0, from: `receive failed (errno ${e})` });
    }
    const now = performance.now();
    for (let i = 0; i < n; i++) this.onPacket(i, now);
    if (now >= this.nextScan) {
      this.nextScan = now + TICK_MS;
      for (const t of [...this.transfers.values()]) if (now >= t.deadline) this.onTimeout(t, now);
    }
    this.flush();
    if (this.strays) {
      this.post({ t: "strays", n: this.strays, from: this.strayFrom });
      this.strays = 0;
    }
    if (this.transfers.size > 0) this.lingerUntil = now + LINGER_MS;
    if (this.transfers.size > 0 || now < this.lingerUntil) setImmediate(() => this.pump());
    else this.running = false;
  }

  private onPacket(i: number, now: number) {
    const h = i * 64;
    const len = Math.min(this.rHdr32[(h + 56) >> 2]!, RECV_SLOT);
    this.rHdr32[(h + 8) >> 2] = 16; // the kernel wrote the address length; reset it for the next call
    const nm = i * 16;
    const port = (this.rNames[nm + 2]! << 8) | this.rNames[nm + 3]!;
    const ip = ((this.rNames[nm + 4]! << 24) | (this.rNames[nm + 5]! << 16) | (this.rNames[nm + 6]! << 8) | this.rNames[nm + 7]!) >>> 0;
    const off = i * RECV_SLOT;
    const d = this.rData;
    const t = this.transfers.get(ip * 65536 + port);
    if (!t) {
      // RFC 1350: a packet from an unknown transfer ID gets ERROR 5, unless it is an ERROR itself.
      this.strays++;
      this.strayFrom = `${ip >>> 24}.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}:${port}`;
      if (len >= 2 && !(d[off] === 0 && d[off + 1] === 5)) this.queue(ip, port, this.ptr(this.unknownTid), this.unknownTid.length, this.unknownTid);
      return;
    }
    if (len >= 4 && d[off] === 0 && d[off + 1] === 4) {
      this.onAck(t, (d[off + 2]! << 8) | d[off + 3]!, now);
      return;
    }
    const p = decode(d.slice(off, off + len));
    if (!p.ok) return; // malformed during a transfer: ignored, the timer retransmits
    if (p.packet.op === "ERROR") {
      this.finish(t, false, `client sent error ${p.packet.code}: ${p.packet.message}`);
      return;
    }
    if (p.packet.op !== "ACK") {
      this.queueRaw(t, encodeError(ErrorCode.IllegalOperation, "expected an ACK"));
      this.finish(t, false, `client sent ${p.packet.op} during a read transfer`);
      return;
    }
    this.onAck(t, p.packet.block, now);
  }

  private onAck(t: Transfer, block: number, now: number) {
    if (t.awaitingOackAck) {
      if (block !== 0) return;
      t.awaitingOackAck = false;
      t.retries = 0;
      this.sendWindow(t);
      this.arm(t, now);
      return;
    }
    // Map the 16-bit block number onto the window in flight. A duplicate ACK is ignored rather than
    // answered: answering duplicates is the Sorcerer's Apprentice bug.
    const delta = (block - t.acked) & 0xffff;
    if (delta === 0 || t.acked + delta > t.sent) return;
    t.acked += delta;
    t.retries = 0;
    t.proven = true;
    t.cwnd = t.windowsize;
    if (t.acked >= t.enc.total) {
      this.finish(t, true);
      return;
    }
    // The whole window arrived, or (RFC 7440) the client acknowledged the last block it got in order:
    // either way, send the next window after `acked`.
    this.sendWindow(t);
    this.arm(t, now);
  }

  private sendWindow(t: Transfer) {
    const e = t.enc;
    const last = Math.min(t.acked + Math.min(t.cwnd, t.windowsize), e.total);
    for (let b = t.acked + 1; b <= last; b++) {
      const chunk = Math.min(e.blksize, e.length - (b - 1) * e.blksize);
      this.queue(t.ip, t.port, e.base + (b - 1) * e.stride, chunk + 4);
      if (b > t.sent) t.bytes += chunk;
      t.counters.dataPackets++;
      t.counters.bytesSent += chunk + 4;
    }
    t.sent = Math.max(t.sent, last);
  }

  private queueRaw(t: Transfer, packet: Uint8Array) {
    this.queue(t.ip, t.port, this.ptr(packet), packet.length, packet);
    t.counters.bytesSent += packet.length;
  }

  private queue(ip: number, port: number, pointer: number, length: number, keep?: Uint8Array) {
    if (this.queued === SEND_BATCH) this.flush();
    const i = this.queued++;
    if (keep) this.keep.push(keep);
    setU64(this.sIov32, i * 16, pointer);
    setU64(this.sIov32, i * 16 + 8, length);
    const n = this.sNames;
    const o = i * 16;
    n[o + 2] = port >> 8;
    n[o + 3] = port & 0xff;
    n[o + 4] = ip >>> 24;
    n[o + 5] = (ip >> 16) & 0xff;
    n[o + 6] = (ip >> 8) & 0xff;
    n[o + 7] = ip & 0xff;
  }

  private flush() {
    let done = 0;
    while (done < this.queued && this.fd >= 0) {
      const r = this.libc.sendmmsg(this.fd, this.sHdrPtr + done * 64, this.queued - done, 0);
      if (r > 0) done += r;
      else if (this.errno() !== EINTR) done++; // this one packet could not be sent (e.g. no route): the timer retransmits
    }
    this.queued = 0;
    this.keep = [];
  }

  private arm(t: Transfer, now: number) {
    t.deadline = now + t.timeoutMs;
  }

  private onTimeout(t: Transfer, now: number) {
    const limit = t.proven ? this.retries : Math.min(this.retries, UNPROVEN_RETRIES);
    if (++t.retries > limit) {
      this.finish(t, false, `no ACK after ${limit} retransmissions${t.proven ? "" : " (the client never acknowledged a block)"}`, true);
      return;
    }
    t.counters.retransmits++;
    if (t.awaitingOackAck && t.oack) this.queueRaw(t, t.oack);
    else this.sendWindow(t);
    this.arm(t, now);
  }

  private finish(t: Transfer, ok: boolean, reason?: string, timedOut = false) {
    const key = t.ip * 65536 + t.port;
    if (this.transfers.get(key) !== t) return;
    this.transfers.delete(key);
    t.enc.users--;
    this.post({ t: "end", id: t.id, ok, timedOut, ...(reason ? { reason } : {}), bytes: t.bytes, counters: t.counters });
  }
}

// Running as a Worker: wire the data plane to the main thread's messages.
declare const self: Worker;
if (!isMainThread) {
  const post = (m: FromDataPlane) => self.postMessage(m);
  let dp: DataPlane | undefined;
  self.onmessage = (ev: MessageEvent<ToDataPlane>) => {
    const m = ev.data;
    try {
      if (m.t === "init") {
        dp = new DataPlane(post);
        post({ t: "ready", port: dp.open(m.address, m.retries) });
      } else if (m.t === "start") dp?.start(m);
      else if (m.t === "stop") {
        dp?.stop();
        post({ t: "stopped" });
      }
    } catch (e) {
      post({ t: "failed", message: (e as Error).message });
    }
  };
}
