/**
 * drover's read-only TFTP server. It exists to hand iPXE to PXE ROMs (undionly.kpxe, ipxe.efi, snponly.efi);
 * everything after iPXE goes over HTTP.
 *
 * Shape, as DHCP's: this file owns the sockets and the counters and carries out decisions; it decides nothing.
 *   - the listening socket (port 69 in production, Bun's UDP socket) feeds each datagram to the request
 *     handler (handler.ts: sanitised name, file, negotiated options → start | refuse | ignore);
 *   - a `start` is handed to the data plane (dataplane.ts), a Worker with its own UDP socket on an ephemeral
 *     port (so a client's transfer ID differs from 69, as RFC 1350 asks) that runs every transfer's DATA/ACK
 *     exchange through libc recvmmsg/sendmmsg; what each transfer sends and when it gives up is the pure
 *     state machine of transfer.ts;
 *   - the data plane reports each transfer's end here (stats, `onTransfer`).
 * Files come from a `BootFiles` port; nothing here knows about nodes or the database. docs/tftp.md has the
 * options and limits.
 *
 * Robustness contract: a malformed or hostile packet is a counted debug line (and, where RFC 1350 says so,
 * an ERROR reply), never an exception out of the socket handler. Only failing to bind ends the server.
 */
import { workerEntry } from "../../runtime/worker-entry";
import type { BootFiles } from "../../boot/ports";
import { encodeError } from "./codec";
import type { FromDataPlane, ToDataPlane } from "./dataplane";
import { type Decision, TftpHandler } from "./handler";

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
  /**
   * Concurrent transfers from one client address (any port); further requests from it get ERROR 0 "too many
   * transfers from this address (N)". Default 16: a firmware fetches one file at a time, and one that
   * retries with a fresh port while its first transfer is still timing out holds 2–3, so 16 leaves room for
   * a few such hosts behind one address (a relay, NAT) while one flooding host can take at most 16 of
   * `maxTransfers`, and nodes booting at the same moment still find slots.
   */
  maxTransfersPerClient?: number;
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
  /** `clientLimit`: over `maxTransfersPerClient` from one address; `busy`: over `maxTransfers` in all. */
  refused: { writeRequest: number; badName: number; notFound: number; badMode: number; clientLimit: number; busy: number; internal: number };
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
  const handler = new TftpHandler(files, {
    maxBlksize: tuning.maxBlksize ?? 1468,
    maxWindowsize: tuning.maxWindowsize ?? 64,
    defaultTimeoutMs: tuning.timeoutMs ?? 1000,
    maxTransfers: tuning.maxTransfers ?? 2048,
    maxPerClient: tuning.maxTransfersPerClient ?? 16,
  });
  const maxRetries = tuning.retries ?? 5;
  const debug = tuning.debug;
  const st: TftpStats = {
    packets: 0,
    malformed: 0,
    readRequests: 0,
    duplicateRequests: 0,
    refused: { writeRequest: 0, badName: 0, notFound: 0, badMode: 0, clientLimit: 0, busy: 0, internal: 0 },
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

  /** Transfers handed to the data plane, by id. */
  const running = new Map<number, { key: string; name: string; address: string; port: number }>();
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
          onRequest(sock, buf, port, address);
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
    handler.handle(buf, { address, port }).then(
      (d) => carryOut(sock, d, port, address),
      (e) => {
        // Defensive: a bug in request handling must not take the listener down.
        st.malformed++;
        log(`tftp: internal error handling a packet from ${address}:${port}: ${(e as Error).message}`);
      },
    );
  }

  function carryOut(sock: UdpSocket, d: Decision, port: number, address: string) {
    if (stopped) {
      if (d.kind === "refuse" && d.why === "internal") log(`tftp: ${d.note}`);
      return;
    }
    if (d.request) st.readRequests++;
    if (d.kind === "ignore") {
      if (d.why === "duplicate") st.duplicateRequests++;
      else st.malformed++;
      if (d.note) debug?.(`tftp: ${d.note}`);
      return;
    }
    if (d.kind === "refuse") {
      if (d.why === "malformed") st.malformed++;
      else st.refused[d.why]++;
      if (d.note) (d.why === "internal" ? log : debug)?.(`tftp: ${d.note}`);
      refuse(sock, port, address, d.error.code, d.error.message);
      return;
    }
    running.set(d.id, { key: d.key, name: d.name, address, port });
    st.active++;
    const neg = d.negotiated;
    plane.postMessage({
      t: "start",
      id: d.id,
      file: sharedFile(d.data),
      blksize: neg.blksize,
      windowsize: neg.windowsize,
      timeoutMs: neg.timeoutMs,
      ...(d.oack ? { oack: d.oack } : {}),
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
    handler.ended(r.key, m.id);
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
      handler.clear();
      await stopPlane();
      st.active = 0;
    },
  };
}
