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
 * Negotiated options: blksize (8..65464, capped by `maxBlksize`, default 1468: one Ethernet frame), tsize, timeout (1..255 s), windowsize
 * (RFC 7440, capped by `maxWindowsize`). Block numbers roll over from 65535 to 0, as tftp-hpa, dnsmasq,
 * curl and iPXE expect, so files above 32 MB work at blksize 512.
 *
 * Robustness contract: a malformed or hostile packet is a counted debug line (and, where RFC 1350 says so,
 * an ERROR reply), never an exception out of the socket handler. Only failing to bind ends the server.
 */
import { workerEntry } from "../../runtime/worker-entry";
import type { BootFiles } from "../../boot/ports";
import { sanitizeBootPath } from "../../boot/sanitize";
import { decode, encodeError, encodeOack, ErrorCode, negotiate, type Request, toNetascii } from "./codec";
import type { FromDataPlane, ToDataPlane } from "./dataplane";

export interface TftpListen {
  /** UDP port; 69 in production, 0 for an ephemeral port in tests. */
  port: number;
  /** Address to bind, e.g. "0.0.0.0", "127.0.0.1" or the provisioning interface's address. */
  address: string;
}

export interface TftpTuning {
  /**
   * Largest blksize granted. Default 1468: an Ethernet frame (1500) less the IP, UDP and TFTP headers, as
   * dnsmasq caps it at the MTU. A larger block is IP-fragmented on the wire anyway, and it is what made one
   * spoofed request worth 64 KiB per packet (docs/security.md); 65464 is the RFC 2348 maximum.
   */
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
  /** The last three are added when a transfer ends. */
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

/** The data plane's Worker entrypoint (see runtime/worker-entry.ts). */
export function dataPlaneEntry(): string {
  return workerEntry(import.meta.url, "./dataplane.ts", "the TFTP data plane");
}

/** Starts the TFTP server; rejects when the port cannot be bound. */
export async function startTftpServer(listen: TftpListen, files: BootFiles, log: (line: string) => void, tuning: TftpTuning = {}): Promise<TftpServer> {
  const limits = {
    maxBlksize: tuning.maxBlksize ?? 1468,
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
   * The files' bytes as the data plane sees them: copied once into shared memory per file contents (keyed
   * weakly by the BootFiles cache's bytes, so they live as long as it keeps them), then shared, not copied,
   * with every transfer of that file.
   */
  const sharedFiles = new WeakMap<Uint8Array, { key: number; bytes: SharedArrayBuffer }>();
  let fileSeq = 0;
  function sharedFile(data: Uint8Array) {
    let f = sharedFiles.get(data);
    if (!f) {
      const bytes = new SharedArrayBuffer(data.length);
      new Uint8Array(bytes).set(data);
      sharedFiles.set(data, (f = { key: ++fileSeq, bytes }));
    }
    return f;
  }

  /** Transfers by client "address|port"; an entry exists from the moment the RRQ is accepted. */
  const transfers = new Map<string, number | "opening">();
  /** Transfers handed to the data plane, by id. */
  const running = new Map<number, { key: string; name: string; address: string; port: number }>();
  let transferSeq = 0;
  let stopped = false;

  // The data plane (every transfer's DATA and ACKs) runs on its own thread with its own socket.
  const plane = new Worker(dataPlaneEntry());
  const planePort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the TFTP data plane thread did not start within 10 s")), 10_000);
    plane.onmessage = (ev: MessageEvent<FromDataPlane>) => {
      clearTimeout(timer);
      if (ev.data.t === "ready") resolve(ev.data.port);
      else reject(new Error(`the TFTP data plane could not start: ${ev.data.t === "failed" ? ev.data.message : ev.data.t}`));
    };
    plane.onerror = (ev) => {
      clearTimeout(timer);
      reject(new Error(`the TFTP data plane thread failed: ${ev.message}`));
    };
    plane.postMessage({ t: "init", address: listen.address, retries: maxRetries } satisfies ToDataPlane);
  }).catch((e) => {
    plane.terminate();
    throw e;
  });
  plane.onmessage = (ev: MessageEvent<FromDataPlane>) => onPlaneMessage(ev.data);
  plane.onerror = (ev) => log(`tftp: the data plane thread failed: ${ev.message}`);
  // Keeps the process alive only through the listening socket, like any server socket.
  (plane as unknown as { unref(): void }).unref();
  async function stopPlane() {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      plane.onmessage = (ev: MessageEvent<FromDataPlane>) => {
        if (ev.data.t === "stopped") {
          clearTimeout(timer);
          resolve();
        }
      };
      plane.postMessage({ t: "stop" } satisfies ToDataPlane);
    });
    plane.terminate();
  }
  debug?.(`tftp: transfers run on port ${planePort}`);

  let main: UdpSocket;
  try {
    main = await Bun.udpSocket({
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
  } catch (e) {
    await stopPlane();
    throw e;
  }

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
    const id = ++transferSeq;
    transfers.set(key, id);
    running.set(id, { key, name, address, port });
    st.active++;
    plane.postMessage({
      t: "start",
      id,
      file: sharedFile(data),
      blksize: neg.blksize,
      windowsize: neg.windowsize,
      timeoutMs: neg.timeoutMs,
      ...(neg.oack ? { oack: encodeOack(neg.oack) } : {}),
      address,
      port,
    } satisfies ToDataPlane);
  }

  function onPlaneMessage(m: FromDataPlane) {
    if (m.t === "strays") {
      st.malformed += m.n;
      debug?.(`tftp: ${m.n} packet(s) for no transfer (last from ${m.from}), answered with ERROR 5`);
      return;
    }
    if (m.t !== "end") return;
    const r = running.get(m.id);
    if (!r) return;
    running.delete(m.id);
    if (transfers.get(r.key) === m.id) transfers.delete(r.key);
    st.active--;
    if (m.ok) st.completed++;
    else st.failed++;
    if (m.timedOut) st.timedOut++;
    st.retransmits += m.counters.retransmits;
    st.dataPackets += m.counters.dataPackets;
    st.bytesSent += m.counters.bytesSent;
    debug?.(`tftp: ${r.address}:${r.port} ${r.name} ${m.ok ? "sent" : `failed: ${m.reason}`} (${m.bytes} bytes)`);
    tuning.onTransfer?.({ file: r.name, client: { address: r.address, port: r.port }, ok: m.ok, bytes: m.bytes, ...(m.reason ? { reason: m.reason } : {}) });
  }

  log(`drover: TFTP on ${main.address.address}:${main.port} (read-only)`);
  return {
    port: main.port,
    address: listen.address,
    stats: () => ({ ...st, refused: { ...st.refused } }),
    stop: async () => {
      stopped = true;
      main.close();
      transfers.clear();
      await stopPlane();
      st.active = 0;
    },
  };
}
