/**
 * The boot-storm simulator (bench/storm.ts, test/integration/storm-restart.test.ts): plays many nodes from one
 * client network namespace, each doing what its firmware and iPXE do, against whatever boot server answers:
 *
 *   bun bench/_storm-node.ts SPEC.json     (inside the client namespace; prints "result {json}" at the end)
 *
 * Per node, in order (a failure goes back the way the firmware or the script would):
 *   1. PXE ROM: DHCP DISCOVER/REQUEST (broadcast flag, option 93 = arch, vendor class PXEClient), iPXE-like
 *      retries: timeouts 1, 2, 4, 8, 8 … s until an answer; a NAK starts over.
 *   2. TFTP RRQ of the boot file it was given (blksize 1468 and tsize, as EDK2's PXE does), one block in
 *      flight, a lost packet sent again after 1, 2, 4 s; five losses in a row: the firmware starts over (1.).
 *   3. iPXE: DHCP again with user class "iPXE"; the boot file is an http:// URL with iPXE settings in it.
 *   4. The script is run by a small iPXE interpreter (set, echo, sleep, chain, kernel, initrd, imgfetch,
 *      boot, goto, `A || B`): every URL it fetches is fetched, bytes counted and thrown away, one transfer
 *      at a time as iPXE does. HTTP 503 with Retry-After N: the same request again after N s (what iPXE's
 *      http_rx_retry_after does, for ever); any other failure makes the command fail, so the script's own
 *      `|| goto error` path runs (drover's: sleep 15, chain the script again).
 *   5. `boot`: the node "runs": its agent reports `booted` (GET /callback/MAC?stage=booted from the node's
 *      address, again every 5 s until answered), fetches its runtime overlay from a privileged source port
 *      (like the drover agent), then sends HEARTBEATS heartbeats HEARTBEAT_MS apart.
 * Mode "script" stops after the script (no TFTP, no files): DHCP + script only.
 *
 * The node's address (from its reservation) is already on the client interface: every TCP and TFTP packet
 * of a node leaves from its own address, as the server's checks (callbacks, runtime overlays) require.
 * Every packet goes to the server address given in the spec or to the broadcast address of IFACE.
 */
import dgram from "node:dgram";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { BOOTREQUEST, type DhcpPacket, decode, encode, macBytes } from "../src/protocols/dhcp/codec";
import { MessageType, Opt, ip, optIp, optStr, optU8, str, u16, u8 } from "../src/protocols/dhcp/options";
import { bindToDevice } from "../src/protocols/dhcp/sockopt";

if (process.argv.length < 3) {
  console.log("(helper of bench/storm.ts and the storm restart test; nothing to run on its own)");
  process.exit(0);
}

export interface StormSpec {
  iface: string;
  nodes: { mac: string; ip: string }[];
  mode: "full" | "script";
  /** Client architecture (option 93): 7 = x86-64 UEFI (snponly.efi), 0 = BIOS. */
  arch: number;
  /** Nodes power on spread evenly over this many ms (a rack switched on). */
  spreadMs: number;
  /** Give up on every node still booting after this long. */
  deadlineMs: number;
  heartbeats: number;
  heartbeatMs: number;
  /** Per-node records (one JSON line each) go here. */
  out: string;
  /** Progress lines ("progress {json}") every this many ms, 0 for none. */
  progressMs?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as StormSpec;
const T0 = performance.now();
const now = () => performance.now() - T0;
const sleep = (ms: number) => Bun.sleep(ms);
const deadline = spec.deadlineMs;
class Expired extends Error {}
const checkDeadline = () => {
  if (now() > deadline) throw new Expired("deadline");
};

// ---- measurements ----
type Stage = "dhcp" | "tftp" | "dhcp2" | "script" | "kernel" | "image" | "system" | "booted" | "runtime" | "heartbeat";
interface NodeRecord {
  mac: string;
  ip: string;
  start: number;
  done?: number;
  /** ms per stage (the last successful one), and how often each was retried. */
  stages: Partial<Record<Stage, number>>;
  retries: Record<string, number>;
  bytes: number;
  status: Record<string, number>;
  /** Every address an ACK gave this node (the restart test: one per node, never another node's). */
  acks: string[];
  error?: string;
}
const records: NodeRecord[] = [];
const counters = {
  dhcpSent: 0,
  dhcpTimeouts: 0,
  naks: 0,
  tftpTimeouts: 0,
  tftpErrors: 0,
  http503: 0,
  httpErrors: 0,
  scriptRetries: 0,
  firmwareRestarts: 0,
  httpBytes: 0,
  tftpBytes: 0,
};
const bump = (r: NodeRecord, k: string) => (r.retries[k] = (r.retries[k] ?? 0) + 1);

// ---- DHCP: one socket on port 68 for every simulated node; answers matched by xid ----
const dhcpSock = dgram.createSocket({ type: "udp4", reuseAddr: true });
await new Promise<void>((r) => dhcpSock.bind(68, "0.0.0.0", () => r()));
dhcpSock.setBroadcast(true);
try {
  dhcpSock.setRecvBufferSize(8 << 20);
} catch {}
bindToDevice(68, spec.iface);
const waiting = new Map<number, (p: DhcpPacket) => void>();
dhcpSock.on("message", (m) => {
  const d = decode(m);
  if (!d.ok || d.packet.op !== 2) return;
  waiting.get(d.packet.xid)?.(d.packet);
});

function dhcpPacket(type: number, mac: string, ipxe: boolean, xid: number, extra: [number, Uint8Array][] = []): Uint8Array {
  const o = new Map<number, Uint8Array>([
    [Opt.MessageType, u8(type)],
    [Opt.MaxMessageSize, u16(1472)],
    [Opt.ParamList, Uint8Array.of(1, 3, 6, 12, 15, 17, 26, 28, 43, 60, 66, 67, 97, 119, 128, 175)],
    [Opt.VendorClass, str(`PXEClient:Arch:${String(spec.arch).padStart(5, "0")}:UNDI:003016`)],
    [Opt.ClientArch, u16(spec.arch)],
    [Opt.ClientNdi, Uint8Array.of(1, 3, 16)],
    [Opt.ClientUuid, Uint8Array.of(0, ...macBytes(mac), ...new Uint8Array(10))],
    ...(ipxe ? ([[Opt.UserClass, str("iPXE")]] as [number, Uint8Array][]) : []),
    ...extra,
  ]);
  const p: DhcpPacket = {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: 0,
    flags: 0x8000,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr: macBytes(mac),
    sname: "",
    file: "",
    options: o,
  };
  return encode(p);
}

/** Sends `msg` until an answer that `accept` takes arrives; timeouts 1, 2, 4, 8, 8 … s (iPXE's DHCP). */
async function exchange(r: NodeRecord, xid: number, msg: Uint8Array, accept: (p: DhcpPacket) => boolean): Promise<DhcpPacket> {
  let timeout = 1000;
  for (;;) {
    checkDeadline();
    let resolve!: (p: DhcpPacket | undefined) => void;
    const got = new Promise<DhcpPacket | undefined>((res) => (resolve = res));
    waiting.set(xid, (p) => accept(p) && resolve(p));
    counters.dhcpSent++;
    dhcpSock.send(msg, 67, "255.255.255.255");
    const t = setTimeout(() => resolve(undefined), timeout);
    const p = await got;
    clearTimeout(t);
    waiting.delete(xid);
    if (p) return p;
    counters.dhcpTimeouts++;
    bump(r, "dhcp");
    timeout = Math.min(timeout * 2, 8000);
  }
}

interface Lease {
  yiaddr: string;
  server: string;
  siaddr: string;
  file: string;
}
let xidSeq = (Math.random() * 2 ** 31) >>> 0;
async function dhcp(r: NodeRecord, ipxe: boolean): Promise<Lease> {
  for (;;) {
    const xid = (xidSeq = (xidSeq + 1) >>> 0);
    const offer = await exchange(r, xid, dhcpPacket(MessageType.DISCOVER, r.mac, ipxe, xid), (p) => optU8(p.options, Opt.MessageType) === MessageType.OFFER);
    const server = optIp(offer.options, Opt.ServerId) ?? offer.siaddr;
    const req = dhcpPacket(MessageType.REQUEST, r.mac, ipxe, xid, [
      [Opt.RequestedIP, ip(offer.yiaddr)],
      [Opt.ServerId, ip(server)],
    ]);
    const ack = await exchange(r, xid, req, (p) => {
      const t = optU8(p.options, Opt.MessageType);
      return t === MessageType.ACK || t === MessageType.NAK;
    });
    if (optU8(ack.options, Opt.MessageType) === MessageType.NAK) {
      counters.naks++;
      bump(r, "nak");
      continue;
    }
    // dnsmasq ends option 67 with a NUL; the BOOTP file field is NUL-padded.
    const file = (optStr(ack.options, Opt.BootFile) || ack.file || offer.file || "").replace(/\0.*$/s, "");
    const siaddr = optStr(ack.options, Opt.TftpServer) ?? (ack.siaddr !== "0.0.0.0" ? ack.siaddr : server);
    if (!r.acks.includes(ack.yiaddr)) r.acks.push(ack.yiaddr);
    return { yiaddr: ack.yiaddr, server, siaddr, file };
  }
}

// ---- TFTP: RRQ with blksize 1468 + tsize, lock-step ----
const TFTP_BLKSIZE = 1468;
async function tftp(r: NodeRecord, server: string, file: string): Promise<number> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((res, rej) => {
    sock.once("error", rej);
    sock.bind(0, r.ip, () => res());
  });
  const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0blksize\0${TFTP_BLKSIZE}\0tsize\0${0}\0`)]);
  let peer: { address: string; port: number } | undefined;
  let last: Buffer = rrq;
  let lastTo = { address: server, port: 69 };
  let expect = 1;
  let blksize = 512;
  let bytes = 0;
  let resolveStep: (() => void) | undefined;
  let finished = false;
  let failure: string | undefined;
  const ack = (n: number) => Buffer.from([0, 4, (n >> 8) & 255, n & 255]);
  sock.on("message", (m, rinfo) => {
    if (peer && (rinfo.address !== peer.address || rinfo.port !== peer.port)) return;
    const op = m.readUInt16BE(0);
    if (op === 6) {
      // OACK: the server's TID; blksize as accepted.
      peer = { address: rinfo.address, port: rinfo.port };
      const parts = m.subarray(2).toString("latin1").split("\0");
      for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i]!.toLowerCase() === "blksize") blksize = Number(parts[i + 1]);
      last = ack(0);
      lastTo = peer;
      sock.send(last, peer.port, peer.address);
      resolveStep?.();
    } else if (op === 3) {
      peer ??= { address: rinfo.address, port: rinfo.port };
      const n = m.readUInt16BE(2);
      if (n === (expect & 0xffff)) {
        const len = m.length - 4;
        bytes += len;
        expect++;
        last = ack(n);
        lastTo = peer;
        sock.send(last, peer.port, peer.address);
        if (len < blksize) finished = true;
        resolveStep?.();
      } else if (n === ((expect - 1) & 0xffff)) sock.send(ack(n), peer.port, peer.address); // a duplicate: ACK again
    } else if (op === 5) {
      failure = `TFTP error ${m.readUInt16BE(2)}: ${m.subarray(4).toString("latin1").replace(/\0.*$/, "")}`;
      resolveStep?.();
    }
  });
  try {
    sock.send(last, lastTo.port, lastTo.address);
    let losses = 0;
    let timeout = 1000;
    while (!finished && !failure) {
      checkDeadline();
      const before = expect;
      const hadPeer = !!peer;
      await new Promise<void>((res) => {
        resolveStep = res;
        setTimeout(res, timeout);
      });
      resolveStep = undefined;
      if (expect !== before || (!hadPeer && peer)) {
        losses = 0;
        timeout = 1000;
        continue;
      }
      if (finished || failure) break;
      if (++losses >= 5) throw new Error("TFTP: no answer after 5 tries");
      counters.tftpTimeouts++;
      bump(r, "tftp");
      timeout = Math.min(timeout * 2, 4000);
      sock.send(last, lastTo.port, lastTo.address);
    }
    if (failure) throw new Error(failure);
    counters.tftpBytes += bytes;
    return bytes;
  } finally {
    sock.close();
  }
}

// ---- HTTP/1.1 over node:net, from the node's own address (and a privileged port when asked) ----
interface HttpResult {
  status: number;
  headers: Record<string, string>;
  bytes: number;
  /** The body when it is a small text (a script); undefined for large downloads. */
  text?: string;
}
function httpGet(url: string, from: string, o: { localPort?: number; keepText?: boolean; idleMs?: number } = {}): Promise<HttpResult> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port || 80), localAddress: from, ...(o.localPort ? { localPort: o.localPort } : {}) });
    let head = "";
    let headDone = false;
    let status = 0;
    const headers: Record<string, string> = {};
    let length = -1;
    let bytes = 0;
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      if (err) reject(err);
      else resolve({ status, headers, bytes, ...(o.keepText ? { text: Buffer.concat(chunks).toString("utf8") } : {}) });
    };
    sock.setTimeout(o.idleMs ?? 30_000, () => done(new Error(`HTTP ${u.pathname}: no data for ${(o.idleMs ?? 30_000) / 1000} s`)));
    sock.on("connect", () =>
      sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: iPXE/1.21.1 (storm)\r\nConnection: close\r\n\r\n`),
    );
    sock.on("data", (d: Buffer) => {
      // A download still crawling at the deadline ends there: the node counts as not booted.
      if (now() > deadline) return done(new Expired("deadline"));
      let body = d;
      if (!headDone) {
        head += d.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        headDone = true;
        const lines = head.slice(0, end).split("\r\n");
        status = Number(lines[0]!.split(" ")[1]);
        for (const l of lines.slice(1)) {
          const i = l.indexOf(":");
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        length = headers["content-length"] !== undefined ? Number(headers["content-length"]) : -1;
        body = Buffer.from(head.slice(end + 4), "latin1");
      }
      bytes += body.length;
      if (o.keepText && chunks.length < 1024) chunks.push(body);
      if (length >= 0 && bytes >= length) done();
    });
    sock.on("end", () =>
      headDone && (length < 0 || bytes >= length) ? done() : done(new Error(`HTTP ${u.pathname}: connection closed after ${bytes} of ${length} bytes`)),
    );
    sock.on("error", (e) => done(new Error(`HTTP ${u.pathname}: ${e.message}`)));
  });
}

/** A GET as iPXE does it: 503 + Retry-After → the same request after that many seconds, for ever. */
async function fetchLikeIpxe(r: NodeRecord, url: string, keepText = false): Promise<HttpResult | undefined> {
  for (;;) {
    checkDeadline();
    let res: HttpResult;
    try {
      res = await httpGet(url, r.ip, { keepText });
    } catch (e) {
      counters.httpErrors++;
      bump(r, "http");
      r.error = (e as Error).message;
      return undefined;
    }
    r.status[res.status] = (r.status[res.status] ?? 0) + 1;
    counters.httpBytes += res.bytes;
    r.bytes += res.bytes;
    if (res.status === 503 && res.headers["retry-after"] !== undefined) {
      counters.http503++;
      bump(r, "503");
      const s = /^\d+$/.test(res.headers["retry-after"]) ? Number(res.headers["retry-after"]) : 5;
      await sleep(s * 1000);
      continue;
    }
    if (res.status >= 200 && res.status < 300) return res;
    counters.httpErrors++;
    bump(r, "http");
    r.error = `HTTP ${res.status} for ${new URL(url).pathname}`;
    return undefined;
  }
}

// ---- a small iPXE script interpreter ----
const hexhyp = (mac: string) => mac.replaceAll(":", "-");
function expand(s: string, vars: Map<string, string>, r: NodeRecord): string {
  return s.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
    const [n] = name.split(":");
    if (name === "mac:hexhyp") return hexhyp(r.mac);
    switch (n) {
      case "mac":
      case "net0/mac":
        return r.mac;
      case "uuid":
        return `00000000-0000-0000-0000-${r.mac.replaceAll(":", "")}`;
      case "memsize":
        return "4096";
      case "platform":
        return spec.arch === 0 ? "pcbios" : "efi";
      case "buildarch":
        return "x86_64";
      case "ip":
      case "net0/ip":
        return r.ip;
      case "asset":
        return "";
      default:
        return vars.get(n!) ?? "";
    }
  });
}

type ScriptEnd = "booted" | "reboot";
/** Runs the script at `url`; returns how the node left iPXE. */
async function runScript(r: NodeRecord, url0: string): Promise<ScriptEnd> {
  let url = url0;
  const vars = new Map<string, string>();
  let scripts = 0;
  for (;;) {
    checkDeadline();
    if (++scripts > 1 && url === url0) counters.scriptRetries++;
    const t = now();
    const res = await fetchLikeIpxe(r, url, true);
    if (!res) {
      // iPXE's chain failed: the firmware's boot attempt ends; this simulator tries the script again later.
      bump(r, "script");
      await sleep(5000);
      continue;
    }
    r.stages.script = now() - t;
    const lines = (res.text ?? "").split("\n").map((l) => l.trim());
    if (!lines[0]?.startsWith("#!ipxe")) throw new Error(`not an iPXE script at ${url}: ${(res.text ?? "").slice(0, 60)}`);
    const labels = new Map<string, number>();
    lines.forEach((l, i) => l.startsWith(":") && labels.set(l.slice(1), i));
    let next: string | undefined;
    let pc = 0;
    const run = async (cmdline: string): Promise<boolean | { chain: string } | { end: ScriptEnd } | { goto: string }> => {
      const words = cmdline.split(/\s+/).filter(Boolean);
      const cmd = words[0];
      // Options: --name NAME and --timeout MS take a value; --replace, --autofree … do not.
      const args: string[] = [];
      for (let k = 1; k < words.length; k++) {
        const w = words[k]!;
        if (w === "--name" || w === "--timeout" || w === "-n" || w === "-t") k++;
        else if (!w.startsWith("-")) args.push(w);
      }
      switch (cmd) {
        case "set":
          vars.set(args[0]!, expand(args.slice(1).join(" "), vars, r));
          return true;
        case "echo":
        case "prompt":
          return true;
        case "sleep":
          await sleep(Number(expand(args[0] ?? "0", vars, r)) * 1000);
          return true;
        case "goto":
          return { goto: args[0]! };
        case "chain":
          return { chain: expand(args[0]!, vars, r) };
        case "kernel":
        case "initrd":
        case "imgfetch":
        case "module": {
          const target = expand(args[0]!, vars, r);
          const kind = new URL(target).pathname.split("/")[1] ?? "file";
          const stage: Stage =
            kind === "kernel" || kind === "vmlinuz" ? "kernel" : kind === "image" || kind === "initrd.img" ? "image" : kind === "system" ? "system" : "image";
          const t = now();
          const ok = await fetchLikeIpxe(r, target);
          if (ok) r.stages[stage] = now() - t;
          return !!ok;
        }
        case "boot":
          return { end: "booted" };
        case "reboot":
          return { end: "reboot" };
        case "imgfree":
        case "ifstat":
        case "dhcp":
          return true;
        default:
          return true; // iseq and the like: true (drover's templates do not branch on them)
      }
    };
    while (pc < lines.length && next === undefined) {
      const line = lines[pc++]!;
      if (!line || line.startsWith("#") || line.startsWith(":")) continue;
      const [first, ...alts] = line.split("||").map((s) => s.trim());
      let out = await run(first!);
      if (out === false) {
        if (!alts.length || !alts[0]) {
          if (!alts.length) {
            // An unhandled failure ends the script: iPXE returns to the firmware.
            out = { end: "reboot" };
          } else continue;
        } else out = await run(alts[0]);
      }
      if (typeof out === "object") {
        if ("goto" in out) {
          const at = labels.get(out.goto);
          if (at === undefined) throw new Error(`script at ${url}: no label ${out.goto}`);
          pc = at + 1;
        } else if ("chain" in out) next = out.chain;
        else return out.end;
      }
    }
    if (next === undefined) return "reboot";
    url = next;
  }
}

// ---- the node's agent after boot ----
async function agent(r: NodeRecord, base: string) {
  const hex = hexhyp(r.mac);
  const t = now();
  for (;;) {
    checkDeadline();
    try {
      const res = await httpGet(`${base}/callback/${hex}?stage=booted`, r.ip);
      r.status[res.status] = (r.status[res.status] ?? 0) + 1;
      if (res.status === 200) break;
      r.error = `callback booted: HTTP ${res.status}`;
    } catch (e) {
      r.error = (e as Error).message;
    }
    bump(r, "callback");
    await sleep(5000);
  }
  r.stages.booted = now() - t;
  r.done = now();
  for (let i = 0; i < spec.heartbeats; i++) {
    if (now() > deadline) return;
    const t1 = now();
    // Runtime overlay from a privileged port (the drover agent: curl --local-port 900-1000), then a heartbeat.
    for (let port = 1000 - (i % 50); ; port--) {
      try {
        const res = await httpGet(`${base}/runtime/${hex}`, r.ip, { localPort: port });
        r.status[res.status] = (r.status[res.status] ?? 0) + 1;
        counters.httpBytes += res.bytes;
        r.bytes += res.bytes;
        if (res.status !== 200 && res.status !== 304) r.error = `runtime: HTTP ${res.status}`;
        else r.stages.runtime = now() - t1;
        break;
      } catch (e) {
        if (!/EADDRINUSE|address in use/i.test((e as Error).message) || port < 900) {
          r.error = (e as Error).message;
          break;
        }
      }
    }
    const t2 = now();
    try {
      const res = await httpGet(`${base}/callback/${hex}?stage=heartbeat`, r.ip);
      r.status[res.status] = (r.status[res.status] ?? 0) + 1;
      if (res.status === 200) r.stages.heartbeat = now() - t2;
    } catch (e) {
      r.error = (e as Error).message;
    }
    if (i + 1 < spec.heartbeats) await sleep(spec.heartbeatMs);
  }
}

async function boot(r: NodeRecord) {
  for (;;) {
    let t = now();
    const l1 = await dhcp(r, false);
    r.stages.dhcp = now() - t;
    if (spec.mode === "full") {
      t = now();
      try {
        await tftp(r, l1.siaddr, l1.file);
      } catch (e) {
        if (e instanceof Expired) throw e;
        counters.tftpErrors++;
        r.error = (e as Error).message;
        counters.firmwareRestarts++;
        bump(r, "firmware");
        await sleep(2000);
        continue;
      }
      r.stages.tftp = now() - t;
    }
    t = now();
    const l2 = await dhcp(r, true);
    r.stages.dhcp2 = now() - t;
    const url = expand(l2.file, new Map(), r);
    if (!/^https?:\/\//.test(url)) throw new Error(`iPXE got boot file '${l2.file}', not an http URL`);
    if (spec.mode === "script") {
      const t3 = now();
      const res = await fetchLikeIpxe(r, url, true);
      if (!res) {
        await sleep(5000);
        continue;
      }
      r.stages.script = now() - t3;
      // A script that only chains (drover's first one asks again with ${memsize}) is followed once.
      const chain = /^kernel\s/m.test(res.text ?? "") ? undefined : /^chain\s+(?:--\S+\s+)*(\S+)/m.exec(res.text ?? "")?.[1];
      if (chain) {
        const t4 = now();
        const res2 = await fetchLikeIpxe(r, expand(chain, new Map(), r), true);
        if (!res2) continue;
        r.stages.script += now() - t4;
      }
      r.done = now();
      return;
    }
    const end = await runScript(r, url);
    if (end === "reboot") {
      counters.firmwareRestarts++;
      bump(r, "firmware");
      continue;
    }
    await agent(r, new URL(url).origin);
    return;
  }
}

// ---- link counters and the run ----
const stat = (f: string) => {
  try {
    return Number(readFileSync(`/sys/class/net/${spec.iface}/statistics/${f}`, "utf8"));
  } catch {
    return 0;
  }
};
const link0 = { rx: stat("rx_bytes"), tx: stat("tx_bytes") };
let peakRx = 0;
let lastRx = link0.rx;
let lastAt = now();
let ticks = 0;
const sampler = setInterval(() => {
  const rx = stat("rx_bytes");
  const at = now();
  peakRx = Math.max(peakRx, ((rx - lastRx) * 1000) / (at - lastAt));
  lastRx = rx;
  lastAt = at;
  if (spec.progressMs && ++ticks % Math.max(1, Math.round(spec.progressMs / 1000)) === 0) {
    const booted = records.filter((x) => x.done !== undefined).length;
    console.log(`progress ${JSON.stringify({ s: Math.round(at / 1000), booted, of: records.length, ...counters })}`);
  }
}, 1000);

writeFileSync(spec.out, "");
const all = spec.nodes.map((n, i) => {
  const r: NodeRecord = {
    mac: n.mac.toLowerCase(),
    ip: n.ip,
    start: (i * spec.spreadMs) / Math.max(1, spec.nodes.length),
    stages: {},
    retries: {},
    bytes: 0,
    status: {},
    acks: [],
  };
  records.push(r);
  return (async () => {
    await sleep(r.start);
    r.start = now();
    try {
      await boot(r);
    } catch (e) {
      r.error = (e as Error).message;
    }
    appendFileSync(spec.out, `${JSON.stringify(r)}\n`);
  })();
});
await Promise.all(all);
clearInterval(sampler);
const secs = now() / 1000;
const rx = stat("rx_bytes") - link0.rx;
const tx = stat("tx_bytes") - link0.tx;
const booted = records.filter((r) => r.done !== undefined);
const result = {
  nodes: records.length,
  booted: booted.length,
  allBootedS: booted.length === records.length ? Math.max(...booted.map((r) => r.done!)) / 1000 : null,
  lastBootedS: booted.length ? Math.max(...booted.map((r) => r.done!)) / 1000 : null,
  seconds: secs,
  link: { rxBytes: rx, txBytes: tx, meanRxBps: rx / secs, peakRxBps: peakRx },
  ...counters,
};
console.log(`result ${JSON.stringify(result)}`);
dhcpSock.close();
process.exit(0);
