/**
 * drover's read-only TFTP server. It exists to hand iPXE to PXE ROMs (undionly.kpxe, ipxe.efi, snponly.efi);
 * everything after iPXE goes over HTTP.
 *
 * Shape: one listening socket (port 69 in production) receives requests; every accepted read request gets a
 * small state machine that sends a window of DATA blocks, waits for the ACK, and retransmits on timeout.
 * All transfers run on one shared transfer port (an ephemeral port, so a client's transfer ID differs from
 * 69 as RFC 1350 asks), found by the client's address and port; DATA packets leave in batches. Files come from
 * a `BootFiles` port; every name goes through `sanitizeBootPath` first. Nothing here knows about nodes or
 * the database.
 *
 * Negotiated options: blksize (8..65464, capped by `maxBlksize`), tsize, timeout (1..255 s), windowsize
 * (RFC 7440, capped by `maxWindowsize`). Block numbers roll over from 65535 to 0, as tftp-hpa, dnsmasq,
 * curl and iPXE expect, so files above 32 MB work at blksize 512.
 *
 * Robustness contract: a malformed or hostile packet is a counted debug line (and, where RFC 1350 says so,
 * an ERROR reply), never an exception out of the socket handler. Only failing to bind ends the server.
 */
import type { BootFiles } from "../../boot/ports";
import { sanitizeBootPath } from "../../boot/sanitize";
import { decode, encodeData, encodeError, encodeOack, ErrorCode, negotiate, type Request, toNetascii } from "./codec";

export interface TftpListen {
  /** UDP port; 69 in production, 0 for an ephemeral port in tests. */
  port: number;
  /** Address to bind, e.g. "0.0.0.0", "127.0.0.1" or the provisioning interface's address. */
  address: string;
}

export interface TftpTuning {
  /** Largest blksize granted (default 65464, the RFC 2348 maximum). */
  maxBlksize?: number;
  /** Largest windowsize granted (default 64). */
  maxWindowsize?: number;
  /** Retransmission timeout when the client does not negotiate one (default 1000 ms). */
  timeoutMs?: number;
  /** Retransmissions of one window before the transfer is abandoned (default 5). */
  retries?: number;
  /** Concurrent transfers; further requests get ERROR 0 "server busy" (default 2048). */
  maxTransfers?: number;
  /** Per-packet and per-transfer detail (malformed packets, refusals, completions). */
  debug?: (line: string) => void;
  /** Called once per finished transfer, successful or not (the composition root records boot events). */
  onTransfer?: (t: TransferRecord) => void;
}

export interface TransferRecord {
  /** The sanitised name served. */
  file: string;
  client: { address: string; port: number };
  ok: boolean;
  bytes: number;
  /** Why the transfer failed, when it did. */
  reason?: string;
}

export interface TftpStats {
  /** Datagrams received on the listening port. */
  packets: number;
  /** Datagrams that could not be decoded or made no sense on the listening port. */
  malformed: number;
  readRequests: number;
  /** Retransmitted read requests for a transfer already under way (ignored). */
  duplicateRequests: number;
  refused: { writeRequest: number; badName: number; notFound: number; badMode: number; busy: number; internal: number };
  active: number;
  completed: number;
  failed: number;
  timedOut: number;
  retransmits: number;
  dataPackets: number;
  bytesSent: number;
}

export interface TftpServer {
  /** The bound port (useful when started with port 0). */
  readonly port: number;
  readonly address: string;
  stop(): Promise<void>;
  stats(): TftpStats;
}

type UdpSocket = import("bun").udp.Socket<"uint8array">;

/** Starts the TFTP server; rejects when the port cannot be bound. */
export async function startTftpServer(listen: TftpListen, files: BootFiles, log: (line: string) => void, tuning: TftpTuning = {}): Promise<TftpServer> {
  const limits = {
    maxBlksize: tuning.maxBlksize ?? 65464,
    maxWindowsize: tuning.maxWindowsize ?? 64,
    defaultTimeoutMs: tuning.timeoutMs ?? 1000,
  };
  const maxRetries = tuning.retries ?? 5;
  const maxTransfers = tuning.maxTransfers ?? 2048;
  const debug = tuning.debug;
  const st: TftpStats = {
    packets: 0,
    malformed: 0,
    readRequests: 0,
    duplicateRequests: 0,
    refused: { writeRequest: 0, badName: 0, notFound: 0, badMode: 0, busy: 0, internal: 0 },
    active: 0,
    completed: 0,
    failed: 0,
    timedOut: 0,
    retransmits: 0,
    dataPackets: 0,
    bytesSent: 0,
  };
  /**
   * Encoded DATA packets per file contents and blksize, built on first use. In a boot storm hundreds of
   * clients fetch the same iPXE binary with the same blksize: each packet is built once instead of once per
   * client (block numbers depend only on the block index, rollover included). Keyed weakly by the file's
   * bytes, so it lives exactly as long as the BootFiles cache keeps those bytes.
   */
  const packetCache = new WeakMap<Uint8Array, Map<number, Uint8Array[]>>();
  const CACHE_MAX_FILE = 64 * 1024 * 1024;
  function dataPacket(data: Uint8Array, blksize: number, block: number): Uint8Array {
    const off = (block - 1) * blksize;
    const chunk = () => data.subarray(off, Math.min(off + blksize, data.length));
    if (data.length > CACHE_MAX_FILE) return encodeData(block, chunk());
    let bySize = packetCache.get(data);
    if (!bySize) packetCache.set(data, (bySize = new Map()));
    let packets = bySize.get(blksize);
    if (!packets) bySize.set(blksize, (packets = []));
    return (packets[block - 1] ??= encodeData(block, chunk()));
  }

  /** Transfers by client "address|port"; an entry exists from the moment the RRQ is accepted. */
  const transfers = new Map<string, Transfer | "opening">();
  let stopped = false;

  const main: UdpSocket = await Bun.udpSocket({
    hostname: listen.address,
    port: listen.port,
    binaryType: "uint8array",
    socket: {
      data(sock, buf, port, address) {
        try {
          onRequest(sock, buf, port, address);
        } catch (e) {
          // Defensive: a bug in request handling must not take the listener down.
          st.malformed++;
          log(`tftp: internal error handling a packet from ${address}:${port}: ${(e as Error).message}`);
        }
      },
      error(_sock, err) {
        debug?.(`tftp: listening socket error: ${err.message}`);
      },
    },
  });

  function refuse(sock: UdpSocket, port: number, address: string, code: number, message: string) {
    try {
      sock.send(encodeError(code, message), port, address);
    } catch (e) {
      // e.g. ECONNREFUSED: an ICMP "port unreachable" from an earlier datagram to a client that has gone.
      debug?.(`tftp: cannot send an error to ${address}:${port}: ${(e as Error).message}`);
    }
  }

  function onRequest(sock: UdpSocket, buf: Uint8Array, port: number, address: string) {
    st.packets++;
    if (stopped) return;
    const d = decode(buf);
    if (!d.ok) {
      st.malformed++;
      debug?.(`tftp: malformed packet from ${address}:${port}: ${d.reason}`);
      const op = buf.length >= 2 ? (buf[0]! << 8) | buf[1]! : 0;
      // RFC 1350: answer a bad request with ERROR 4. Never answer anything that might be an ERROR or a
      // stray DATA/ACK (two servers could otherwise bounce errors at each other forever).
      if (op === 1 || op === 2 || op > 6) refuse(sock, port, address, ErrorCode.IllegalOperation, "malformed request");
      return;
    }
    const p = d.packet;
    if (p.op === "WRQ") {
      st.refused.writeRequest++;
      debug?.(`tftp: refused write request for ${JSON.stringify(p.filename)} from ${address}:${port}`);
      refuse(sock, port, address, ErrorCode.AccessViolation, "this server is read-only");
      return;
    }
    if (p.op !== "RRQ") {
      st.malformed++;
      debug?.(`tftp: unexpected ${p.op} on the listening port from ${address}:${port}`);
      return;
    }
    st.readRequests++;
    if (port === 0) {
      st.malformed++;
      return;
    }
    const key = `${address}|${port}`;
    if (transfers.has(key)) {
      st.duplicateRequests++;
      return;
    }
    if (p.mode === "mail") {
      st.refused.badMode++;
      refuse(sock, port, address, ErrorCode.IllegalOperation, "mail mode is not supported");
      return;
    }
    const clean = sanitizeBootPath(p.filename);
    if (!clean.ok) {
      st.refused.badName++;
      debug?.(`tftp: refused ${JSON.stringify(p.filename.slice(0, 200))} from ${address}:${port}: ${clean.reason}`);
      refuse(sock, port, address, ErrorCode.AccessViolation, `bad file name: ${clean.detail}`);
      return;
    }
    if (transfers.size >= maxTransfers) {
      st.refused.busy++;
      refuse(sock, port, address, ErrorCode.NotDefined, "server busy, try again");
      return;
    }
    transfers.set(key, "opening");
    begin(sock, key, p, clean.name, port, address).catch((e) => {
      transfers.delete(key);
      log(`tftp: internal error starting a transfer for ${address}:${port}: ${(e as Error).message}`);
    });
  }

  async function begin(sock: UdpSocket, key: string, req: Request, name: string, port: number, address: string) {
    let file: { size: number; data: Uint8Array } | undefined;
    try {
      file = await files.open(name);
    } catch (e) {
      transfers.delete(key);
      st.refused.internal++;
      log(`tftp: cannot read ${name}: ${(e as Error).message}`);
      if (!stopped) refuse(sock, port, address, ErrorCode.NotDefined, "server error reading the file");
      return;
    }
    if (stopped) return;
    if (!file) {
      transfers.delete(key);
      st.refused.notFound++;
      debug?.(`tftp: ${address}:${port} asked for ${name}: not found`);
      refuse(sock, port, address, ErrorCode.FileNotFound, "file not found");
      return;
    }
    const data = req.mode === "netascii" ? toNetascii(file.data) : file.data;
    const neg = negotiate(req, data.length, limits);
    let t: Transfer;
    try {
      t = new Transfer(name, data, neg.blksize, neg.windowsize, neg.timeoutMs, neg.oack, address, port);
      t.link = await sharedLink(t);
    } catch (e) {
      transfers.delete(key);
      st.refused.internal++;
      log(`tftp: cannot open a transfer socket for ${address}:${port}: ${(e as Error).message}`);
      if (!stopped) refuse(sock, port, address, ErrorCode.NotDefined, "server error");
      return;
    }
    if (stopped) {
      t.close();
      return;
    }
    transfers.set(key, t);
    st.active++;
    t.start();

    function end(ok: boolean, reason?: string) {
      transfers.delete(key);
      st.active--;
      if (ok) st.completed++;
      else st.failed++;
      debug?.(`tftp: ${address}:${port} ${name} ${ok ? "sent" : `failed: ${reason}`} (${t.bytes} bytes)`);
      tuning.onTransfer?.({ file: name, client: { address, port }, ok, bytes: t.bytes, reason });
    }
    t.onEnd = end;
  }

  /** Where a transfer's packets go (the shared transfer port). */
  interface Link {
    /** Queues packets; they leave at the end of this event-loop turn (or on drain when the buffer is full). */
    send(packets: Uint8Array[]): void;
    close(): void;
  }

  /**
   * The shared transfer port: one socket, bound on first use, carries every transfer, which is found by the
   * client's address and port (a client sees one server port per transfer, as RFC 1350 asks; dnsmasq's
   * --tftp-single-port works the same way). In a boot storm the kernel hands over many ACKs per receive
   * call, and every DATA packet queued while they are handled leaves in one sendmmsg at the end of the
   * event-loop turn: two system calls per batch instead of two per block.
   */
  interface SharedPort {
    sock: UdpSocket;
    clients: Map<string, Map<number, Transfer>>;
    /** Packets waiting to leave, flattened as sendMany wants them: data, port, address, data, … */
    queue: (Uint8Array | number | string)[];
    scheduled: boolean;
  }
  let sharedPort: Promise<SharedPort> | undefined;

  function openSharedPort(): Promise<SharedPort> {
    const sp = { clients: new Map(), queue: [], scheduled: false } as unknown as SharedPort;
    return Bun.udpSocket({
      hostname: listen.address,
      port: 0,
      binaryType: "uint8array",
      socket: {
        data(sock, buf, port, address) {
          const t = sp.clients.get(address)?.get(port);
          if (!t) {
            // RFC 1350: a packet from an unknown transfer ID is answered with ERROR 5 (never an ERROR with one).
            st.malformed++;
            if (buf.length >= 2 && !(buf[0] === 0 && buf[1] === 5)) refuse(sock, port, address, ErrorCode.UnknownTid, "unknown transfer ID");
            return;
          }
          try {
            t.onPacket(buf);
          } catch (e) {
            debug?.(`tftp: ${address}:${port}: ${(e as Error).message}`);
          }
        },
        drain: () => flushShared(sp),
        error(_s, err) {
          debug?.(`tftp: transfer socket error: ${err.message}`);
        },
      },
    }).then((sock) => {
      sp.sock = sock;
      return sp;
    });
  }

  function flushShared(sp: SharedPort) {
    sp.scheduled = false;
    const q = sp.queue;
    if (q.length === 0 || sp.sock.closed) return;
    let n: number;
    try {
      n = sp.sock.sendMany(q);
    } catch (e) {
      debug?.(`tftp: sending ${q.length / 3} packets failed: ${(e as Error).message}`);
      n = q.length / 3; // dropped; the transfers' timers retransmit
    }
    // A full socket buffer takes only part of the queue; the rest leaves on drain.
    sp.queue = n * 3 >= q.length ? [] : q.slice(n * 3);
  }

  async function sharedLink(t: Transfer): Promise<Link> {
    sharedPort ??= openSharedPort().catch((e) => {
      sharedPort = undefined;
      throw e;
    });
    const sp = await sharedPort;
    let byPort = sp.clients.get(t.address);
    if (!byPort) sp.clients.set(t.address, (byPort = new Map()));
    byPort.set(t.port, t);
    const ports = byPort;
    return {
      send(packets) {
        for (const p of packets) sp.queue.push(p, t.port, t.address);
        if (!sp.scheduled) {
          sp.scheduled = true;
          setImmediate(() => flushShared(sp));
        }
      },
      close() {
        if (ports.get(t.port) === t) ports.delete(t.port);
        if (ports.size === 0 && sp.clients.get(t.address) === ports) sp.clients.delete(t.address);
      },
    };
  }

  /** One read transfer: a window of DATA blocks in flight, retransmitted on timeout. */
  class Transfer {
    link?: Link;
    /** Blocks in the file, counting the final short (possibly empty) block. */
    readonly total: number;
    /** Absolute number of the highest block the client acknowledged (0: none yet). */
    acked = 0;
    /** Absolute number of the highest block sent. */
    sent = 0;
    /** Waiting for ACK 0 of our OACK. */
    awaitingOackAck: boolean;
    retries = 0;
    bytes = 0;
    timer?: ReturnType<typeof setTimeout>;
    done = false;
    onEnd: (ok: boolean, reason?: string) => void = () => {};

    constructor(
      readonly name: string,
      readonly data: Uint8Array,
      readonly blksize: number,
      readonly windowsize: number,
      readonly timeoutMs: number,
      readonly oack: Map<string, string> | undefined,
      readonly address: string,
      readonly port: number,
    ) {
      this.total = Math.floor(data.length / blksize) + 1;
      this.awaitingOackAck = oack !== undefined;
    }

    start() {
      if (this.oack) this.sendRaw([encodeOack(this.oack)]);
      else this.sendWindow();
      this.arm();
    }

    onPacket(buf: Uint8Array) {
      if (this.done) return;
      // Fast path for the packet that makes up half of all traffic.
      if (buf.length >= 4 && buf[0] === 0 && buf[1] === 4) {
        this.onAck((buf[2]! << 8) | buf[3]!);
        return;
      }
      const d = decode(buf);
      if (!d.ok) {
        debug?.(`tftp: ${this.address}:${this.port}: malformed packet during transfer: ${d.reason}`);
        return;
      }
      const p = d.packet;
      if (p.op === "ERROR") {
        this.finish(false, `client sent error ${p.code}: ${p.message}`);
        return;
      }
      if (p.op !== "ACK") {
        this.sendRaw([encodeError(ErrorCode.IllegalOperation, "expected an ACK")]);
        this.finish(false, `client sent ${p.op} during a read transfer`);
        return;
      }
      this.onAck(p.block);
    }

    onAck(block: number) {
      if (this.awaitingOackAck) {
        if (block !== 0) return;
        this.awaitingOackAck = false;
        this.retries = 0;
        this.sendWindow();
        this.arm();
        return;
      }
      // Map the 16-bit block number onto the window in flight. An ACK for a block already acknowledged
      // (a duplicate) is ignored rather than answered: answering duplicates is the Sorcerer's Apprentice bug.
      const delta = (block - this.acked) & 0xffff;
      if (delta === 0 || this.acked + delta > this.sent) return;
      this.acked += delta;
      this.retries = 0;
      if (this.acked >= this.total) {
        this.finish(true);
        return;
      }
      // Either the whole window arrived, or (RFC 7440) the client acknowledged the last block it got in
      // order and wants the rest again: both mean "send the next window starting after `acked`".
      this.sendWindow();
      this.arm();
    }

    sendWindow() {
      const last = Math.min(this.acked + this.windowsize, this.total);
      const packets: Uint8Array[] = [];
      for (let b = this.acked + 1; b <= last; b++) {
        const p = dataPacket(this.data, this.blksize, b);
        packets.push(p);
        if (b > this.sent) this.bytes += p.length - 4;
      }
      this.sent = Math.max(this.sent, last);
      st.dataPackets += packets.length;
      this.sendRaw(packets);
    }

    sendRaw(packets: Uint8Array[]) {
      if (!this.link || this.done) return;
      this.link.send(packets);
      for (const p of packets) st.bytesSent += p.length;
    }

    /**
     * Starts the retransmission clock from now. One timer per transfer stays armed and, when it fires early
     * (progress was made since it was set), re-arms for the remainder: far cheaper than clearing and
     * setting a timer for every ACK.
     */
    arm() {
      this.lastSend = performance.now();
      this.timer ??= setTimeout(() => this.onTimer(), this.timeoutMs);
    }

    lastSend = 0;

    onTimer() {
      this.timer = undefined;
      if (this.done) return;
      const left = this.lastSend + this.timeoutMs - performance.now();
      if (left > 1) {
        this.timer = setTimeout(() => this.onTimer(), left);
        return;
      }
      this.onTimeout();
    }

    onTimeout() {
      if (++this.retries > maxRetries) {
        st.timedOut++;
        this.finish(false, `no ACK after ${maxRetries} retransmissions`);
        return;
      }
      st.retransmits++;
      if (this.awaitingOackAck && this.oack) this.sendRaw([encodeOack(this.oack)]);
      else this.sendWindow();
      this.arm();
    }

    finish(ok: boolean, reason?: string) {
      if (this.done) return;
      this.close();
      this.onEnd(ok, reason);
    }

    close() {
      this.done = true;
      clearTimeout(this.timer);
      this.link?.close();
    }
  }

  log(`drover: TFTP on ${main.address.address}:${main.port} (read-only)`);
  return {
    port: main.port,
    address: listen.address,
    stats: () => ({ ...st, refused: { ...st.refused } }),
    stop: async () => {
      stopped = true;
      main.close();
      for (const t of transfers.values()) if (t !== "opening") t.close();
      transfers.clear();
      if (sharedPort) (await sharedPort.catch(() => undefined))?.sock.close();
      st.active = 0;
    },
  };
}
