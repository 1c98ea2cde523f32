/**
 * The TFTP data plane: a Worker thread that moves every transfer's DATA and ACKs through one UDP socket of
 * its own, driven through libc (runtime/libc.ts): one blocking recvmmsg takes every datagram that has
 * arrived, one sendmmsg sends every DATA block they call for. What to send, when to resend and when to give
 * up is the pure state machine of transfer.ts; this file only moves bytes. The main thread (server.ts) keeps
 * the listening port and hands each accepted transfer over with `start`; this thread reports back with `end`.
 *
 * Why a thread and raw system calls: in a boot storm the server does one small thing per packet, 100 clients
 * × 600 blocks for one iPXE binary. Through Bun's socket API each datagram costs a JS callback, a buffer and
 * an address string; here a batch of 64 ACKs is parsed from one buffer in place, and DATA blocks are
 * encoded once per file and block size and sent straight from that memory (bench/README.md has the figures).
 *
 * Every transfer keeps RFC 1350's transfer ID rule: the client talks to this socket's port, not port 69, and
 * the socket tells transfers apart by the client's address and port. Packets from anyone else get ERROR 5.
 * Linux only (libc.ts has the struct layouts).
 */
import { isMainThread } from "node:worker_threads";
import {
  AF_INET,
  cInt,
  EAGAIN,
  EINTR,
  errno,
  ffi,
  IOVEC,
  libc,
  MMSGHDR,
  MSG_WAITFORONE,
  SO_RCVBUF,
  SO_RCVTIMEO,
  SO_SNDBUF,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCKADDR_IN,
  SOL_SOCKET,
  setU64,
  sockaddrIn,
  TIMEVAL,
} from "../../runtime/libc";
import { ErrorCode, encodeError } from "./codec";
import { abort, blockLength, createTransfer, onPacket, onTimer, type Step, start, type Transfer, type TransferCounters, type TransferEnd } from "./transfer";

export type { TransferCounters } from "./transfer";

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

/** Data plane → main thread. */
export type FromDataPlane =
  | { t: "ready"; port: number }
  | { t: "failed"; message: string }
  | { t: "end"; id: number; ok: boolean; timedOut: boolean; reason?: string; bytes: number; counters: TransferCounters }
  /** Packets from clients with no transfer (answered with ERROR 5), since the last report. */
  | { t: "strays"; n: number; from: string }
  | { t: "stopped" };

/** How long one receive call may block; also the granularity of retransmission timers. */
const TICK_MS = 10;
const RECV_BATCH = 64;
const RECV_SLOT = 1024;
const SEND_BATCH = 1024;
/** Encoded files kept when no transfer uses them (a storm fetches the same one or two binaries). */
const IDLE_ENCODINGS = 8;
/** How long the receive loop keeps running after the last transfer ended. */
const LINGER_MS = 2000;
const SA = SOCKADDR_IN.size;

/** A file's DATA packets for one block size, laid out back to back: block b at (b-1) × (blksize+4). */
interface Encoded {
  buf: Uint8Array;
  base: number;
  stride: number;
  users: number;
}

/** A transfer on the wire: its peer, its encoded file, and the state machine that decides. */
interface Wire {
  id: number;
  ip: number;
  port: number;
  enc: Encoded;
  s: Transfer;
}

export class DataPlane {
  private readonly c = libc();
  private readonly ptr = ffi().ptr;
  private fd = -1;
  private retries = 5;
  private readonly transfers = new Map<number, Wire>();
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
  private readonly rNames = new Uint8Array(RECV_BATCH * SA);
  private readonly rIov = new Uint8Array(RECV_BATCH * IOVEC.size);
  private readonly rHdr = new Uint8Array(RECV_BATCH * MMSGHDR.size);
  private readonly rHdr32 = new Uint32Array(this.rHdr.buffer);
  private rHdrPtr = 0;
  // Send vectors: SEND_BATCH packets queued, sent by flush().
  private readonly sNames = new Uint8Array(SEND_BATCH * SA);
  private readonly sIov = new Uint8Array(SEND_BATCH * IOVEC.size);
  private readonly sIov32 = new Uint32Array(this.sIov.buffer);
  private readonly sHdr = new Uint8Array(SEND_BATCH * MMSGHDR.size);
  private sHdrPtr = 0;
  private queued = 0;
  /** Packets not in an encoding (OACK, ERROR) must stay alive until sent. */
  private keep: Uint8Array[] = [];
  private readonly unknownTid = encodeError(ErrorCode.UnknownTid, "unknown transfer ID");

  constructor(private readonly post: (m: FromDataPlane) => void) {}

  /** Opens and binds the socket; returns its port. */
  open(address: string, retries: number): number {
    this.retries = retries;
    const l = this.c;
    const fd = l.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket() failed (errno ${errno()})`);
    // Room for a storm's ACKs and DATA bursts; the kernel caps these at net.core.[rw]mem_max.
    l.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, cInt(1 << 20), 4);
    l.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, cInt(4 << 20), 4);
    const tv = new Uint8Array(TIMEVAL.size);
    new DataView(tv.buffer).setUint32(TIMEVAL.usec, TICK_MS * 1000, true); // tv_sec 0
    if (l.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, TIMEVAL.size) !== 0) throw new Error(`setsockopt(SO_RCVTIMEO) failed (errno ${errno()})`);
    if (l.bind(fd, sockaddrIn(address, 0), SA) !== 0) {
      const e = errno();
      l.close(fd);
      throw new Error(`cannot bind a transfer socket on ${address} (errno ${e})`);
    }
    const name = new Uint8Array(SA);
    l.getsockname(fd, name, Uint32Array.of(SA));
    this.fd = fd;
    this.prepareVectors();
    return (name[SOCKADDR_IN.port]! << 8) | name[SOCKADDR_IN.port + 1]!;
  }

  /** Points every mmsghdr at its address slot and iovec (receive: each iovec at its data slot). */
  private prepareVectors() {
    const p = this.ptr;
    const rData = p(this.rData);
    const rNames = p(this.rNames);
    const rIov = p(this.rIov);
    const rIov32 = new Uint32Array(this.rIov.buffer);
    this.rHdrPtr = p(this.rHdr);
    for (let i = 0; i < RECV_BATCH; i++) {
      setU64(rIov32, i * IOVEC.size + IOVEC.base, rData + i * RECV_SLOT);
      setU64(rIov32, i * IOVEC.size + IOVEC.len, RECV_SLOT);
      this.header(this.rHdr32, i, rNames + i * SA, rIov + i * IOVEC.size);
    }
    const sNames = p(this.sNames);
    const sIov = p(this.sIov);
    const sHdr32 = new Uint32Array(this.sHdr.buffer);
    this.sHdrPtr = p(this.sHdr);
    for (let i = 0; i < SEND_BATCH; i++) {
      this.header(sHdr32, i, sNames + i * SA, sIov + i * IOVEC.size);
      this.sNames[i * SA + SOCKADDR_IN.family] = AF_INET;
    }
  }

  private header(h32: Uint32Array, i: number, name: number, iov: number) {
    const h = i * MMSGHDR.size;
    setU64(h32, h + MMSGHDR.name, name);
    h32[(h + MMSGHDR.namelen) >> 2] = SA;
    setU64(h32, h + MMSGHDR.iov, iov);
    setU64(h32, h + MMSGHDR.iovlen, 1);
  }

  start(m: Extract<ToDataPlane, { t: "start" }>) {
    if (this.stopped) return;
    const ip = sockaddrIn(m.address, 0);
    const a = SOCKADDR_IN.addr;
    const ipNum = ((ip[a]! << 24) | (ip[a + 1]! << 16) | (ip[a + 2]! << 8) | ip[a + 3]!) >>> 0;
    const enc = this.encoding(m.file.key, m.file.bytes, m.blksize);
    enc.users++;
    const s = createTransfer({
      size: m.file.bytes.byteLength,
      blksize: m.blksize,
      windowsize: m.windowsize,
      timeoutMs: m.timeoutMs,
      retries: this.retries,
      ...(m.oack ? { oack: m.oack } : {}),
    });
    const w: Wire = { id: m.id, ip: ipNum, port: m.port, enc, s };
    const key = ipNum * 65536 + m.port;
    const old = this.transfers.get(key);
    if (old) this.end(old, abort(old.s, "superseded by a new request from the same address and port"));
    this.transfers.set(key, w);
    this.apply(w, start(s, performance.now()));
    this.flush();
    if (!this.running) {
      this.running = true;
      setImmediate(() => this.pump());
    }
  }

  stop() {
    this.stopped = true;
    for (const w of [...this.transfers.values()]) this.end(w, abort(w.s, "server stopping"));
    if (this.fd >= 0) this.c.close(this.fd);
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
    e = { buf, base: this.ptr(buf), stride, users: 0 };
    this.encodings.set(id, e);
    let idle = 0;
    for (const [k, v] of [...this.encodings].reverse()) if (v.users === 0 && ++idle > IDLE_ENCODINGS) this.encodings.delete(k);
    return e;
  }

  /** One turn: wait up to TICK_MS for datagrams, hand them all to their transfers, send, check timers. */
  private pump() {
    if (this.stopped || this.fd < 0) return;
    const n = this.c.recvmmsg(this.fd, this.rHdrPtr, RECV_BATCH, MSG_WAITFORONE, null);
    if (n < 0) {
      const e = errno();
      if (e !== EAGAIN && e !== EINTR) this.post({ t: "strays", n: 0, from: `receive failed (errno ${e})` });
    }
    const now = performance.now();
    for (let i = 0; i < n; i++) this.onDatagram(i, now);
    if (now >= this.nextScan) {
      this.nextScan = now + TICK_MS;
      for (const w of [...this.transfers.values()]) if (now >= w.s.deadline) this.apply(w, onTimer(w.s, now));
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

  private onDatagram(i: number, now: number) {
    const h = i * MMSGHDR.size;
    const len = Math.min(this.rHdr32[(h + MMSGHDR.len) >> 2]!, RECV_SLOT);
    this.rHdr32[(h + MMSGHDR.namelen) >> 2] = SA; // the kernel wrote the address length; reset it for the next call
    const nm = i * SA;
    const names = this.rNames;
    const port = (names[nm + SOCKADDR_IN.port]! << 8) | names[nm + SOCKADDR_IN.port + 1]!;
    const a = nm + SOCKADDR_IN.addr;
    const ip = ((names[a]! << 24) | (names[a + 1]! << 16) | (names[a + 2]! << 8) | names[a + 3]!) >>> 0;
    const off = i * RECV_SLOT;
    const w = this.transfers.get(ip * 65536 + port);
    if (w) {
      this.apply(w, onPacket(w.s, this.rData, off, len, now));
      return;
    }
    // RFC 1350: a packet from an unknown transfer ID gets ERROR 5, unless it is an ERROR itself.
    this.strays++;
    this.strayFrom = `${ip >>> 24}.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}:${port}`;
    const d = this.rData;
    if (len >= 2 && !(d[off] === 0 && d[off + 1] === 5)) this.queue(ip, port, this.ptr(this.unknownTid), this.unknownTid.length, this.unknownTid);
  }

  /** Queues what the state machine asked for; reports the end when it is done. */
  private apply(w: Wire, step: Step) {
    const p = step.packet;
    if (p) this.queue(w.ip, w.port, this.ptr(p), p.length, p);
    const e = w.enc;
    for (let b = step.first; b <= step.last; b++) this.queue(w.ip, w.port, e.base + (b - 1) * e.stride, blockLength(w.s.cfg, b) + 4);
    if (step.done) this.end(w, step.done);
  }

  private queue(ip: number, port: number, pointer: number, length: number, keep?: Uint8Array) {
    if (this.queued === SEND_BATCH) this.flush();
    const i = this.queued++;
    if (keep) this.keep.push(keep);
    setU64(this.sIov32, i * IOVEC.size + IOVEC.base, pointer);
    setU64(this.sIov32, i * IOVEC.size + IOVEC.len, length);
    const n = this.sNames;
    const o = i * SA;
    n[o + SOCKADDR_IN.port] = port >> 8;
    n[o + SOCKADDR_IN.port + 1] = port & 0xff;
    const a = o + SOCKADDR_IN.addr;
    n[a] = ip >>> 24;
    n[a + 1] = (ip >> 16) & 0xff;
    n[a + 2] = (ip >> 8) & 0xff;
    n[a + 3] = ip & 0xff;
  }

  private flush() {
    let done = 0;
    while (done < this.queued && this.fd >= 0) {
      const r = this.c.sendmmsg(this.fd, this.sHdrPtr + done * MMSGHDR.size, this.queued - done, 0);
      if (r > 0) done += r;
      else if (errno() !== EINTR) done++; // this one packet could not be sent (e.g. no route): the timer retransmits
    }
    this.queued = 0;
    this.keep = [];
  }

  private end(w: Wire, end: TransferEnd | undefined) {
    const key = w.ip * 65536 + w.port;
    if (!end || this.transfers.get(key) !== w) return;
    this.transfers.delete(key);
    w.enc.users--;
    const s = w.s;
    this.post({ t: "end", id: w.id, ok: end.ok, timedOut: end.timedOut, ...(end.reason ? { reason: end.reason } : {}), bytes: s.bytes, counters: s.counters });
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
