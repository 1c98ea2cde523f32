/**
 * Scripted DHCP client for tests and benchmarks, run inside a client namespace:
 *
 *   bun bench/_dhcp-client.ts pxe IFACE MAC ARCH      PXE ROM behaviour: broadcast a DISCOVER, print every
 *                                                    offer (decoded), then send a REQUEST to the ProxyDHCP
 *                                                    server's port 4011 and print its ACK.
 *   bun bench/_dhcp-client.ts fuzz IFACE SERVER COUNT send COUNT mutated DHCP packets to SERVER:67.
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
  return { op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: (Math.random() * 2 ** 32) >>> 0, secs: 0, flags: 0x8000, ciaddr, yiaddr: "0.0.0.0", siaddr: "0.0.0.0", giaddr: "0.0.0.0", chaddr: macBytes(mac), sname: "", file: "", options: o };
}

const show = (p: DhcpPacket) => ({ type: optU8(p.options, Opt.MessageType), server: optIp(p.options, Opt.ServerId), yiaddr: p.yiaddr, siaddr: p.siaddr, file: p.file, vendorClass: p.options.get(60) ? new TextDecoder().decode(p.options.get(60)) : undefined, mac: macOf(p) });

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
  const base = [
    encode(pxeRequest(MessageType.DISCOVER, "52:54:00:fe:00:01", 0)),
    encode(pxeRequest(MessageType.REQUEST, "52:54:00:fe:00:02", 7, "0.0.0.0")),
  ];
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
        b.set(new Uint8Array(b.length - HEADER_LEN).map(() => rnd() & 255), HEADER_LEN);
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
console.error("usage: dhcp-client.ts pxe IFACE MAC ARCH | fuzz IFACE SERVER COUNT");
process.exit(2);
