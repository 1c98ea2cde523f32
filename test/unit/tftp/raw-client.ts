/**
 * A hand-driven TFTP peer for tests: sends exactly the bytes a test gives it and hands back every datagram
 * received, so tests can drop, duplicate or reorder packets on purpose. Loopback only.
 */
import { type Decoded, decode, encodeAck, encodeRequest, type Mode } from "../../../src/protocols/tftp/codec";

export interface Received {
  data: Uint8Array;
  port: number;
  packet: Decoded;
}

export class RawClient {
  private queue: Received[] = [];
  private waiters: ((r: Received) => void)[] = [];
  private constructor(private sock: import("bun").udp.Socket<"uint8array">) {}

  /** `hostname`: another loopback address (127.0.0.2 …) is another client address to the server. */
  static async open(hostname = "127.0.0.1"): Promise<RawClient> {
    let self!: RawClient;
    const sock = await Bun.udpSocket({
      hostname,
      port: 0,
      binaryType: "uint8array",
      socket: {
        data(_s, data, port) {
          const r = { data: new Uint8Array(data), port, packet: decode(data) };
          const w = self.waiters.shift();
          if (w) w(r);
          else self.queue.push(r);
        },
        // ICMP "port unreachable" for an earlier send (a transfer port that has closed): not a test failure.
        error() {
          self.refusedSends++;
        },
      },
    });
    self = new RawClient(sock);
    return self;
  }

  get port() {
    return this.sock.port;
  }

  /** Sends one datagram; a refused send (the peer's port is closed: ICMP unreachable) is counted, not thrown. */
  send(buf: Uint8Array, port: number) {
    try {
      this.sock.send(buf, port, "127.0.0.1");
    } catch {
      this.refusedSends++;
    }
  }

  refusedSends = 0;

  /** The next datagram; rejects after `ms` (a guard against hanging, not a timing assertion). */
  recv(ms = 3000): Promise<Received> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no datagram within ${ms} ms`));
      }, ms);
      const w = (r: Received) => {
        clearTimeout(t);
        resolve(r);
      };
      this.waiters.push(w);
    });
  }

  /** Resolves true when nothing arrives for `ms`. */
  async quiet(ms: number): Promise<boolean> {
    try {
      await this.recv(ms);
      return false;
    } catch {
      return true;
    }
  }

  pending() {
    return this.queue.length;
  }

  close() {
    this.sock.close();
  }
}

/**
 * A complete, well-behaved read transfer over a RawClient: RRQ, OACK/ACK 0, then windows of DATA with an
 * ACK after each window. Returns the bytes and what the server negotiated.
 */
export async function rawGet(serverPort: number, name: string, options: Record<string, string> = {}, mode: Mode = "octet") {
  const c = await RawClient.open();
  try {
    c.send(encodeRequest("RRQ", name, mode, options), serverPort);
    let first = await c.recv();
    const tid = first.port;
    let oack: Map<string, string> | undefined;
    if (first.packet.ok && first.packet.packet.op === "OACK") {
      oack = first.packet.packet.options;
      c.send(encodeAck(0), tid);
      first = await c.recv();
    }
    const blksize = Number(oack?.get("blksize") ?? 512);
    const window = Number(oack?.get("windowsize") ?? 1);
    const chunks: Uint8Array[] = [];
    let expect = 1;
    let inWindow = 0;
    let r = first;
    let maxBlockSeen = 0;
    let wrapped = false;
    for (;;) {
      if (!r.packet.ok) throw new Error(`bad packet: ${r.packet.reason}`);
      const p = r.packet.packet;
      if (p.op === "ERROR") return { error: p, oack, data: undefined, wrapped, tid };
      if (p.op !== "DATA") throw new Error(`unexpected ${p.op}`);
      if (p.block === (expect & 0xffff)) {
        if (p.block === 0) wrapped = true;
        maxBlockSeen = Math.max(maxBlockSeen, p.block);
        chunks.push(p.data);
        expect++;
        inWindow++;
        const last = p.data.length < blksize;
        if (last || inWindow === window) {
          c.send(encodeAck(p.block), tid);
          inWindow = 0;
        }
        if (last) break;
      }
      r = await c.recv();
    }
    const total = chunks.reduce((n, x) => n + x.length, 0);
    const data = new Uint8Array(total);
    let o = 0;
    for (const x of chunks) {
      data.set(x, o);
      o += x.length;
    }
    return { data: data as Uint8Array, oack, error: undefined, wrapped, tid, blocks: expect - 1 };
  } finally {
    c.close();
  }
}
