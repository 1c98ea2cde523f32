import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decode, encode, macOf } from "../../../src/protocols/dhcp/codec";
import { DhcpHandler, type Inbound, type Outcome } from "../../../src/protocols/dhcp/handler";
import { MemoryLeaseStore } from "../../../src/protocols/dhcp/leases";
import { MessageType, Opt, dump, encapsulate, optIp, optU8, str } from "../../../src/protocols/dhcp/options";
import { FakeBootPort, N1, N2, type ReqSpec, UUID, request, testConfig } from "./fixtures";

const GOLDEN = join(import.meta.dir, "../../golden/dhcp");
const NOW = 1_700_000_000_000;
const M1 = "52:54:00:00:00:01";
const M2 = "52:54:00:00:00:02";
const UNKNOWN = "52:54:00:99:99:99";
/** A registered node with no address on this MAC (its addresses come from another DHCP server). */
const M3 = "52:54:00:00:00:03";
const N3 = { node: "p001", hostname: "p001" };

function setup(opts: { discovery?: boolean; fail?: boolean; tftp?: boolean; arm64?: boolean } = {}) {
  const port = new FakeBootPort({ [M1]: N1, [M2]: N2, [M3]: N3 }, opts.fail);
  const leases = new MemoryLeaseStore();
  const cfg = testConfig({ discovery: opts.discovery ?? false, tftp: opts.tftp ?? true, bootFiles: opts.arm64 ? { uefiArm64: "arm64/snponly.efi" } : {} });
  let now = NOW;
  const h = new DhcpHandler(cfg, port, leases, { now: () => now });
  const on = (name: "br0" | "br1", listener: Inbound["listener"] = "dhcp", from = { address: "0.0.0.0", port: 68 }): Inbound => ({
    iface: cfg.interfaces.find((i) => i.name === name)!,
    listener,
    from,
  });
  const send = (s: ReqSpec, inb: Inbound = on("br0")) => h.handleBytes(encode(request(s)), inb);
  return { h, port, leases, cfg, on, send, tick: (ms: number) => (now += ms) };
}

function reply(o: Outcome) {
  if (o.kind !== "reply") throw new Error(`expected a reply, got ${JSON.stringify(o)}`);
  // Through the wire and back: the golden file shows what a client would decode.
  const d = decode(encode(o.packet));
  if (!d.ok) throw new Error(d.reason);
  return { p: d.packet, to: o.to, note: o.note };
}

function golden(name: string, o: Outcome) {
  const r = reply(o);
  const text = `# ${name}\n# → ${r.to.address}:${r.to.port}\n${dump(r.p)}`;
  const file = join(GOLDEN, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
  }
  if (!existsSync(file)) throw new Error(`missing golden file ${file}; run with UPDATE_GOLDEN=1 and review it`);
  expect(text).toBe(readFileSync(file, "utf8"));
  return r;
}

describe("golden replies", () => {
  test("BIOS PXE DISCOVER → OFFER of the reservation with undionly.kpxe", async () => {
    const { send } = setup();
    const r = golden("bios-pxe-offer", await send({ mac: M1, arch: 0, vendorClass: "PXEClient:Arch:00000:UNDI:002001", uuid: UUID }));
    expect(r.p.yiaddr).toBe("10.0.0.11");
    expect(r.p.siaddr).toBe("10.0.0.1");
    expect(r.p.file).toBe("undionly.kpxe");
  });

  test("UEFI x64 PXE REQUEST → ACK with snponly.efi", async () => {
    const { send, port } = setup();
    const r = golden(
      "uefi-pxe-ack",
      await send({
        type: MessageType.REQUEST,
        mac: M1,
        arch: 7,
        vendorClass: "PXEClient:Arch:00007:UNDI:003016",
        serverId: "10.0.0.1",
        requested: "10.0.0.11",
      }),
    );
    expect(r.p.file).toBe("snponly.efi");
    expect(optU8(r.p.options, Opt.MessageType)).toBe(MessageType.ACK);
    expect(port.events).toEqual([{ mac: M1, stage: "dhcp", address: "10.0.0.11", detail: "snponly.efi" }]);
  });

  test("iPXE → script URL, no-pxedhcp set, never the binary", async () => {
    const { send } = setup();
    const r = golden("ipxe-offer", await send({ mac: M1, arch: 0, vendorClass: "PXEClient:Arch:00000:UNDI:002001", userClass: "iPXE" }));
    expect(r.p.file).toBe("http://10.0.0.1:9873/ipxe/${mac:hexhyp}?assetkey=${asset}&uuid=${uuid}");
    expect(r.p.options.get(Opt.Ipxe)).toEqual(encapsulate([[176, Uint8Array.of(1)]]));
  });

  test("UEFI HTTP boot → http URL of ipxe.efi and vendor class HTTPClient", async () => {
    const { send } = setup();
    const r = golden("httpclient-offer", await send({ mac: M1, arch: 16, vendorClass: "HTTPClient:Arch:00016:UNDI:003001" }));
    expect(r.p.file).toBe("http://10.0.0.1:9873/ipxe.efi");
    expect(new TextDecoder().decode(r.p.options.get(Opt.VendorClass))).toBe("HTTPClient");
  });

  test("relayed DISCOVER → OFFER unicast to the relay, subnet of giaddr, option 82 echoed", async () => {
    const { send, port } = setup();
    const relayInfo = encapsulate([
      [1, str("sw1/7")],
      [2, str("rack1")],
    ]).subarray(0, -1);
    const r = golden("relayed-offer", await send({ mac: M2, giaddr: "10.5.0.1", arch: 7, vendorClass: "PXEClient", relayInfo }));
    expect(r.to).toEqual({ address: "10.5.0.1", port: 67 });
    expect(r.p.yiaddr).toBe("10.5.0.21");
    expect(r.p.giaddr).toBe("10.5.0.1");
    expect(r.p.options.get(Opt.RelayAgent)).toEqual(relayInfo);
    expect(optIp(r.p.options, Opt.Router)).toBe("10.5.0.1");
    expect(port.lookups[0]!.origin).toEqual({ iface: "br0", relay: "10.5.0.1" });
  });

  test("proxy, BIOS: OFFER without an address, option 43 says boot the file", async () => {
    const { send, on } = setup();
    const r = golden("proxy-bios-offer", await send({ mac: M1, arch: 0, vendorClass: "PXEClient:Arch:00000:UNDI:002001", uuid: UUID }, on("br1")));
    expect(r.p.yiaddr).toBe("0.0.0.0");
    expect(r.p.options.get(Opt.VendorSpecific)).toEqual(encapsulate([[6, Uint8Array.of(8)]]));
    expect(r.p.options.get(Opt.ClientUuid)).toEqual(UUID);
    expect(r.p.options.has(Opt.LeaseTime)).toBe(false);
  });

  test("proxy, UEFI: OFFER without option 43 (the ROM then asks on 4011)", async () => {
    const { send, on } = setup();
    const r = golden("proxy-uefi-offer", await send({ mac: M1, arch: 7, vendorClass: "PXEClient:Arch:00007:UNDI:003016", uuid: UUID }, on("br1")));
    expect(r.p.options.has(Opt.VendorSpecific)).toBe(false);
    expect(r.p.file).toBe("snponly.efi");
  });

  test("proxy, port 4011 REQUEST → ACK unicast back to the client", async () => {
    const { send, on } = setup();
    const from = { address: "192.168.7.50", port: 68 };
    const r = golden(
      "proxy-4011-ack",
      await send(
        { type: MessageType.REQUEST, mac: M1, ciaddr: "192.168.7.50", arch: 7, vendorClass: "PXEClient:Arch:00007:UNDI:003016", uuid: UUID, flags: 0 },
        on("br1", "pxe", from),
      ),
    );
    expect(r.to).toEqual(from);
    expect(r.p.ciaddr).toBe("192.168.7.50");
    expect(r.p.yiaddr).toBe("0.0.0.0");
  });

  test("discovery pool: unknown MAC gets a short lease", async () => {
    const { send } = setup({ discovery: true });
    const r = golden("pool-offer", await send({ mac: UNKNOWN, arch: 0, vendorClass: "PXEClient" }));
    expect(r.p.yiaddr).toBe("10.0.0.200");
  });

  test("a wrong REQUEST gets a NAK", async () => {
    const { send } = setup();
    const r = golden("nak", await send({ type: MessageType.REQUEST, mac: M1, requested: "10.0.0.99", serverId: "10.0.0.1" }));
    expect(optU8(r.p.options, Opt.MessageType)).toBe(MessageType.NAK);
    expect(r.to.address).toBe("255.255.255.255");
  });
});

describe("authoritative policy", () => {
  test("unknown MAC without discovery: no answer", async () => {
    const { send } = setup();
    const o = await send({ mac: UNKNOWN, arch: 0, vendorClass: "PXEClient" });
    expect(o).toMatchObject({ kind: "drop", reason: "unknown-client" });
  });

  test("a REQUEST naming another server is dropped and frees the offered pool address", async () => {
    const { send, leases } = setup({ discovery: true });
    reply(await send({ mac: UNKNOWN }));
    expect(leases.get(UNKNOWN)?.ip).toBe("10.0.0.200");
    expect(await send({ type: MessageType.REQUEST, mac: UNKNOWN, serverId: "10.0.0.77", requested: "10.0.0.200" })).toMatchObject({
      kind: "drop",
      reason: "other-server",
    });
    expect(leases.get(UNKNOWN)).toBeUndefined();
  });

  test("the PXE ROM phase and the iPXE phase of one MAC get the same pool address", async () => {
    const { send, leases, tick } = setup({ discovery: true });
    const a = reply(await send({ mac: UNKNOWN, arch: 0, vendorClass: "PXEClient" }));
    reply(await send({ mac: "52:54:00:99:99:98" }));
    const ack = reply(await send({ type: MessageType.REQUEST, mac: UNKNOWN, serverId: "10.0.0.1", requested: a.p.yiaddr }));
    expect(leases.get(UNKNOWN)!.expiresAt).toBe(NOW + 600_000);
    tick(5000);
    const b = reply(await send({ mac: UNKNOWN, userClass: "iPXE", xid: 77 }));
    expect(b.p.yiaddr).toBe(a.p.yiaddr);
    expect(ack.p.yiaddr).toBe(a.p.yiaddr);
    expect(b.p.file).toContain("/ipxe/");
  });

  test("pool exhaustion is a counted drop; expired leases are reused", async () => {
    const { send, tick } = setup({ discovery: true });
    for (const m of ["52:54:00:aa:00:01", "52:54:00:aa:00:02", "52:54:00:aa:00:03"]) reply(await send({ mac: m }));
    expect(await send({ mac: "52:54:00:aa:00:04" })).toMatchObject({ kind: "drop", reason: "pool-exhausted" });
    tick(61_000);
    expect(reply(await send({ mac: "52:54:00:aa:00:04" })).p.yiaddr).toMatch(/^10\.0\.0\.20[0-2]$/);
  });

  test("a store failure is a drop, not a crash", async () => {
    const { send } = setup({ fail: true });
    expect(await send({ mac: M1 })).toMatchObject({ kind: "drop", reason: "lookup-failed" });
  });

  test("relay from an unknown subnet is dropped", async () => {
    const { send } = setup();
    expect(await send({ mac: M1, giaddr: "172.16.0.1" })).toMatchObject({ kind: "drop", reason: "no-subnet" });
  });

  test("a reservation outside the relay's subnet is dropped with a reason", async () => {
    const { send } = setup();
    expect(await send({ mac: M1, giaddr: "10.5.0.1" })).toMatchObject({ kind: "drop", reason: "wrong-subnet" });
  });

  test("boot file by architecture; arm64 only when configured; TFTP off means no file", async () => {
    expect(reply(await setup().send({ mac: M1, arch: 9, vendorClass: "PXEClient" })).p.file).toBe("snponly.efi");
    expect(reply(await setup().send({ mac: M1, arch: 11, vendorClass: "PXEClient" })).p.file).toBe("");
    expect(reply(await setup({ arm64: true }).send({ mac: M1, arch: 11, vendorClass: "PXEClient" })).p.file).toBe("arm64/snponly.efi");
    expect(reply(await setup({ tftp: false }).send({ mac: M1, arch: 0, vendorClass: "PXEClient" })).p.file).toBe("");
    expect(reply(await setup().send({ mac: M1 })).p.file).toBe("");
  });

  test("RFC 3004-style user class 'iPXE' is recognised too", async () => {
    const { h, on } = setup();
    const p = request({ mac: M1 });
    p.options.set(Opt.UserClass, Uint8Array.of(4, ...str("iPXE")));
    expect(reply(await h.handle(p, on("br0"))).p.file).toContain("/ipxe/");
  });

  test("renewal (ciaddr set) is answered by unicast to the client", async () => {
    const { send } = setup();
    const r = reply(await send({ type: MessageType.REQUEST, mac: M1, ciaddr: "10.0.0.11", flags: 0 }));
    expect(r.to).toEqual({ address: "10.0.0.11", port: 68 });
    expect(r.p.ciaddr).toBe("10.0.0.11");
  });

  test("RELEASE forgets the lease; replies and other ops are dropped with reasons", async () => {
    const { send, leases, h, on } = setup();
    reply(await send({ type: MessageType.REQUEST, mac: M1, requested: "10.0.0.11" }));
    expect(leases.get(M1)?.node).toBe("n001");
    expect(await send({ type: MessageType.RELEASE, mac: M1, ciaddr: "10.0.0.11" })).toMatchObject({ kind: "done" });
    expect(leases.get(M1)).toBeUndefined();
    const offer = request({ mac: M1 });
    offer.op = 2;
    expect(await h.handle(offer, on("br0"))).toMatchObject({ kind: "drop", reason: "not-request" });
    const noType = request({ mac: M1 });
    noType.options.delete(Opt.MessageType);
    expect(await h.handle(noType, on("br0"))).toMatchObject({ kind: "drop", reason: "no-message-type" });
    expect(await h.handleBytes(new Uint8Array(100), on("br0"))).toMatchObject({ kind: "drop", reason: "truncated" });
  });
});

describe("interfaces that are off", () => {
  test("a request handed in for an interface that is off is its own drop reason, not an unexpected type", async () => {
    const { h, cfg } = setup();
    const off: Inbound = { iface: { ...cfg.interfaces[0]!, mode: "off" }, listener: "dhcp", from: { address: "0.0.0.0", port: 68 } };
    expect(await h.handle(request({ mac: M1, arch: 0, vendorClass: "PXEClient" }), off)).toMatchObject({
      kind: "drop",
      reason: "interface-off",
      detail: "interface br0 is off",
    });
  });
});

describe("proxy policy", () => {
  test("never an address; plain DHCP clients and REQUESTs on 67 are ignored", async () => {
    const { send, on } = setup();
    expect(await send({ mac: M1 }, on("br1"))).toMatchObject({ kind: "drop", reason: "not-pxe" });
    expect(await send({ type: MessageType.REQUEST, mac: M1, arch: 0, vendorClass: "PXEClient" }, on("br1"))).toMatchObject({
      kind: "drop",
      reason: "proxy-ignores-request",
    });
    expect(await send({ mac: UNKNOWN, arch: 0, vendorClass: "PXEClient" }, on("br1"))).toMatchObject({ kind: "drop", reason: "unknown-client" });
  });

  test("iPXE through the proxy gets the script URL", async () => {
    const { send, on } = setup();
    const r = reply(await send({ mac: M1, userClass: "iPXE", vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: 0 }, on("br1")));
    expect(r.p.file).toBe("http://192.168.7.2:9873/ipxe/${mac:hexhyp}?assetkey=${asset}&uuid=${uuid}");
    expect(r.p.yiaddr).toBe("0.0.0.0");
    expect(macOf(r.p)).toBe(M1);
  });

  test("a registered node without an address is booted by the proxy", async () => {
    const { send, on } = setup();
    const r = reply(await send({ mac: M3, userClass: "iPXE", vendorClass: "PXEClient:Arch:00000:UNDI:002001", arch: 0 }, on("br1")));
    expect(r.p.yiaddr).toBe("0.0.0.0");
    expect(r.p.file).toMatch(/\/ipxe\//);
  });
});

describe("proxy policy: relayed requests", () => {
  // A proxy interface with its own subnet and one --relay-subnet, as drover serve builds it.
  function relaySetup(discovery = false) {
    const port = new FakeBootPort({ [M1]: N1 });
    const cfg = testConfig({
      discovery,
      interfaces: [
        {
          name: "br1",
          mode: "proxy",
          serverIp: "192.168.7.2",
          subnets: [
            { network: "192.168.7.0", netmask: "255.255.255.0" },
            { network: "10.9.0.0", netmask: "255.255.255.0" },
          ],
        },
      ],
    });
    const h = new DhcpHandler(cfg, port, new MemoryLeaseStore(), { now: () => NOW });
    const inb: Inbound = { iface: cfg.interfaces[0]!, listener: "dhcp", from: { address: "10.9.0.1", port: 67 } };
    return { port, send: (s: ReqSpec) => h.handleBytes(encode(request(s)), inb) };
  }
  const pxe = { arch: 0, vendorClass: "PXEClient:Arch:00000:UNDI:002001" };

  test("a relay in a served subnet is answered at the relay's server port", async () => {
    const { send, port } = relaySetup();
    const r = reply(await send({ mac: M1, giaddr: "10.9.0.1", ...pxe }));
    expect(r.to).toEqual({ address: "10.9.0.1", port: 67 });
    expect(r.p.giaddr).toBe("10.9.0.1");
    expect(port.lookups).toEqual([{ mac: M1, origin: { iface: "br1", relay: "10.9.0.1" } }]);
  });

  test("a made-up relay address is dropped before the node lookup, registered node or not", async () => {
    const { send, port } = relaySetup(true);
    for (const mac of [M1, UNKNOWN]) {
      expect(await send({ mac, giaddr: "172.16.0.1", ...pxe })).toMatchObject({
        kind: "drop",
        reason: "no-subnet",
        detail: "relay 172.16.0.1 is in no subnet of br1",
      });
      expect(await send({ mac, giaddr: "10.9.1.1", userClass: "iPXE", ...pxe })).toMatchObject({ kind: "drop", reason: "no-subnet" });
    }
    // No lookup means no discovery either (the lookup is where BootService registers unknown MACs).
    expect(port.lookups).toEqual([]);
    expect(port.events).toEqual([]);
  });

  test("a proxy interface without subnets answers no relay at all", async () => {
    const { send, on, port } = setup({ discovery: true });
    expect(await send({ mac: M1, giaddr: "192.168.7.1", ...pxe }, on("br1"))).toMatchObject({ kind: "drop", reason: "no-subnet" });
    expect(port.lookups).toEqual([]);
    // An unrelayed request on the same interface is still served.
    expect(reply(await send({ mac: M1, ...pxe }, on("br1"))).to).toEqual({ address: "255.255.255.255", port: 68 });
  });
});

describe("registered node without an address, authoritative", () => {
  test("is treated as unknown: no answer without discovery", async () => {
    const { send } = setup();
    expect(await send({ mac: M3, arch: 0, vendorClass: "PXEClient" })).toMatchObject({ kind: "drop", reason: "unknown-client" });
  });
});
