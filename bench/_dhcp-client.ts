/**
 * Scripted DHCP client for tests and benchmarks, run inside a client namespace:
 *
 *   bun bench/_dhcp-client.ts pxe IFACE MAC ARCH      PXE ROM behaviour: broadcast a DISCOVER, print every
 *                                                    offer (decoded), then send a REQUEST to the ProxyDHCP
 *                                                    server's port 4011 and print its ACK.
 *   bun bench/_dhcp-client.ts fuzz IFACE SERVER COUNT send COUNT mutated DHCP packets to SERVER:67.
 *   bun bench/_dhcp-client.ts loop IFACE SERVER RELAY COUNT INFLIGHT MACBASE
 *                                                    closed loop as a relay agent (giaddr RELAY, source port
 *                                                    67): COUNT distinct clients (MACBASE:00:00:00 upwards),
 *                                                    INFLIGHT exchanges at a time, each a full DORA; a new
 *                                                    one starts when one ends. Prints "loop {json}"
 *                                                    (PRINT_ACKS=1: also "ack MAC ADDRESS" per ACK;
 *                                                    IDLE_EXIT_MS=N: stop once the server is silent N ms).
 *
 * Output lines: "offer {json}", "ack {json}", "sent N". Nothing but the given server/broadcast on IFACE
 * is ever addressed.
 */
import dgram from "node:dgram";
import { BOOTREQUEST, HEADER_LEN, MAGIC_COOKIE, type DhcpPacket, decode, encode, macBytes, macOf } from "../src/protocols/dhcp/codec";
import { MessageType, Opt, ip, optIp, optU8, str, u16, u8 } from "../src/protocols/dhcp/options";
import { bindToDevice } from "../src/protocols/dhcp/sockopt";

// bench/run.sh runs every bench/*.ts; alone, this helper has nothing to measure.
if (process.argv.length < 3) {
  console.log("(helper of bench/dhcp.ts and the DHCP integration tests; nothing to run on its own)");
  process.exit(0);
}

const [mode, iface] = process.argv.slice(2);

function pxeRequest(type: number, mac: string, arch: number, ciaddr = "0.0.0.0"): DhcpPacket {
  const o = new Map<number, Uint8Array>([
    [Opt.MessageType, u8(type)],
    [Opt.ParamList, Uint8Array.of(1, 3, 43, 60, 66, 67, 97)],
    [Opt.VendorClass, str(`PXEClient:Arch:${String(arch).padStart(5, "0")}:UNDI:003016`)],
    [Opt.ClientArch, u16(arch)],
    [Opt.ClientUuid, Uint8Array.of(0, ...macBytes(mac), ...new Uint8Array(10))],
  ]);
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: (Math.random() * 2 ** 32) >>> 0,
    secs: 0,
    flags: 0x8000,
    ciaddr,
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: "0.0.0.0",
    chaddr: macBytes(mac),
    sname: "",
    file: "",
    options: o,
  };
}

const show = (p: DhcpPacket) => ({
  type: optU8(p.options, Opt.MessageType),
  server: optIp(p.options, Opt.ServerId),
  yiaddr: p.yiaddr,
  siaddr: p.siaddr,
  file: p.file,
  vendorClass: p.options.get(60) ? new TextDecoder().decode(p.options.get(60)) : undefined,
  mac: macOf(p),
});

async function open(port: number) {
  const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((r) => s.bind(port, "0.0.0.0", () => r()));
  s.setBroadcast(true);
  bindToDevice(port, iface!);
  return s;
}

if (mode === "pxe") {
  const [mac, archS] = process.argv.slice(4);
  const arch = Number(archS);
  const s = await open(68);
  const offers: DhcpPacket[] = [];
  const discover = pxeRequest(MessageType.DISCOVER, mac!, arch);
  let ackResolve: (p: DhcpPacket) => void = () => {};
  const ack = new Promise<DhcpPacket>((r) => (ackResolve = r));
  s.on("message", (m) => {
    const d = decode(m);
    if (!d.ok || d.packet.op !== 2) return;
    if (optU8(d.packet.options, Opt.MessageType) === MessageType.OFFER && d.packet.xid === discover.xid) {
      offers.push(d.packet);
      console.log(`offer ${JSON.stringify(show(d.packet))}`);
    } else if (optU8(d.packet.options, Opt.MessageType) === MessageType.ACK) ackResolve(d.packet);
  });
  s.send(encode(discover), 67, "255.255.255.255");
  await Bun.sleep(2500);
  const proxy = offers.find((o) => o.yiaddr === "0.0.0.0");
  const lease = offers.find((o) => o.yiaddr !== "0.0.0.0");
  if (proxy && lease) {
    // After taking the address from the DHCP server, a UEFI ROM asks the ProxyDHCP server on 4011.
    const me = process.env.CLIENT_IP ?? lease.yiaddr;
    const req = pxeRequest(MessageType.REQUEST, mac!, arch, me);
    req.flags = 0;
    s.send(encode(req), 4011, optIp(proxy.options, Opt.ServerId)!);
    const got = await Promise.race([ack, Bun.sleep(3000).then(() => undefined)]);
    if (got) console.log(`ack ${JSON.stringify(show(got))}`);
  }
  s.close();
  process.exit(0);
}

if (mode === "fuzz") {
  const [server, countS] = process.argv.slice(4);
  const count = Number(countS);
  const s = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((r) => s.bind(0, "0.0.0.0", () => r()));
  let seed = 4242;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const base = [encode(pxeRequest(MessageType.DISCOVER, "52:54:00:fe:00:01", 0)), encode(pxeRequest(MessageType.REQUEST, "52:54:00:fe:00:02", 7, "0.0.0.0"))];
  let sent = 0;
  for (let i = 0; i < count; i++) {
    let b: Uint8Array = base[i & 1]!.slice();
    switch (rnd() % 6) {
      case 0:
        for (let k = 1 + (rnd() % 8); k > 0; k--) b[rnd() % b.length]! ^= 1 << (rnd() % 8);
        break;
      case 1:
        b = b.slice(0, rnd() % b.length);
        break;
      case 2:
        b[HEADER_LEN + (rnd() % 30) + 1] = rnd() & 255;
        break;
      case 3:
        b = new Uint8Array(rnd() % 1400).map(() => rnd() & 255);
        if (b.length >= 240 && rnd() % 2) new DataView(b.buffer).setUint32(236, MAGIC_COOKIE);
        break;
      case 4:
        b.set(
          new Uint8Array(b.length - HEADER_LEN).map(() => rnd() & 255),
          HEADER_LEN,
        );
        break;
      default: {
        // A well-formed request from a random MAC, sometimes claiming a relay inside the lab subnet.
        const p = decode(b);
        if (p.ok) {
          p.packet.chaddr = Uint8Array.of(0x52, 0x54, rnd() & 255, rnd() & 255, rnd() & 255, rnd() & 255);
          b = encode(p.packet);
        }
      }
    }
    await new Promise<void>((r) => s.send(b, 67, server!, () => r()));
    sent++;
    // Paced (about 20-40k packets per second) so the flood reaches the server instead of overflowing socket buffers.
    if (sent % 50 === 0) await Bun.sleep(1);
  }
  console.log(`sent ${sent}`);
  s.close();
  process.exit(0);
}
if (mode === "loop") {
  const [server, relay, countS, inflightS, base] = process.argv.slice(4);
  const count = Number(countS);
  const inflight = Math.min(Number(inflightS), count);
  // Bounded: a lost packet is sent again after RETRY_MS, at most TRIES times, then the exchange counts as failed.
  const RETRY_MS = Number(process.env.RETRY_MS ?? 1000);
  const TRIES = 3;
  // PRINT_ACKS=1: an "ack MAC ADDRESS" line per ACK (the crash test compares them with the store).
  const printAcks = process.env.PRINT_ACKS === "1";
  const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((r) => s.bind(67, relay!, () => r()));
  interface Ex {
    mac: string;
    xid: number;
    t0: number;
    sent: number;
    tries: number;
    msg: Uint8Array;
    phase: "offer" | "ack";
  }
  const live = new Map<number, Ex>();
  const lat: number[] = [];
  let next = 0;
  let failed = 0;
  let naks = 0;
  let retries = 0;
  let done = 0;
  let xidSeq = ((Math.random() * 2 ** 31) >>> 0) & 0x7fff0000;
  const macOfIndex = (i: number) => `${base}:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
  const relayed = (p: DhcpPacket) => {
    p.giaddr = relay!;
    p.hops = 1;
    p.flags = 0;
    return encode(p);
  };
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const send = (ex: Ex) => {
    ex.sent = performance.now();
    s.send(ex.msg, 67, server!);
  };
  const start = (i: number) => {
    const mac = macOfIndex(i);
    const p = pxeRequest(MessageType.DISCOVER, mac, 0);
    p.xid = xidSeq = (xidSeq + 1) >>> 0;
    const ex: Ex = { mac, xid: p.xid, t0: performance.now(), sent: 0, tries: 1, msg: relayed(p), phase: "offer" };
    live.set(ex.xid, ex);
    send(ex);
  };
  const end = (ex: Ex, ok: boolean) => {
    live.delete(ex.xid);
    if (ok) lat.push(performance.now() - ex.t0);
    else failed++;
    done++;
    if (next < count) start(next++);
    else if (done === count) finish();
  };
  s.on("message", (m) => {
    const d = decode(m);
    if (!d.ok || d.packet.op !== 2) return;
    const ex = live.get(d.packet.xid);
    if (!ex) return;
    const t = optU8(d.packet.options, Opt.MessageType);
    if (ex.phase === "offer" && t === MessageType.OFFER) {
      const p = pxeRequest(MessageType.REQUEST, ex.mac, 0);
      p.xid = ex.xid;
      p.options.set(Opt.RequestedIP, ip(d.packet.yiaddr));
      p.options.set(Opt.ServerId, ip(optIp(d.packet.options, Opt.ServerId) ?? server!));
      ex.msg = relayed(p);
      ex.phase = "ack";
      ex.tries = 1;
      send(ex);
    } else if (ex.phase === "ack" && t === MessageType.ACK) {
      if (printAcks) console.log(`ack ${ex.mac} ${d.packet.yiaddr}`);
      end(ex, true);
    } else if (ex.phase === "ack" && t === MessageType.NAK) {
      naks++;
      end(ex, false);
    }
  });
  // IDLE_EXIT_MS: give up on the rest once the server has said nothing for that long (it was killed).
  const idleExit = Number(process.env.IDLE_EXIT_MS ?? 0);
  let lastReply = performance.now();
  s.on("message", () => (lastReply = performance.now()));
  const timer = setInterval(() => {
    const now = performance.now();
    if (idleExit && now - lastReply > idleExit) finish();
    for (const ex of [...live.values()]) {
      if (now - ex.sent < RETRY_MS) continue;
      if (ex.tries >= TRIES) end(ex, false);
      else {
        ex.tries++;
        retries++;
        send(ex);
      }
    }
  }, 20);
  const t0 = performance.now();
  while (next < inflight) start(next++);
  await finished;
  const secs = (performance.now() - t0) / 1000;
  clearInterval(timer);
  s.close();
  lat.sort((a, b) => a - b);
  const q = (f: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]! : Number.NaN);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const out = {
    clients: count,
    inflight,
    leases: lat.length,
    failed,
    naks,
    retries,
    seconds: r2(secs),
    rate: Math.round(lat.length / secs),
    p50: r2(q(0.5)),
    p99: r2(q(0.99)),
    max: r2(lat.at(-1) ?? Number.NaN),
  };
  console.log(`loop ${JSON.stringify(out)}`);
  process.exit(0);
}
console.error("usage: dhcp-client.ts pxe IFACE MAC ARCH | fuzz IFACE SERVER COUNT | loop IFACE SERVER RELAY COUNT INFLIGHT MACBASE");
process.exit(2);
