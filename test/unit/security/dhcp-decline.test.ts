// Issue 13 item 5: a DHCPDECLINE from anyone deleted another client's lease and parked a `declined:IP` row
// forever (50,000 DECLINEs → 49,999 rows). Now only the holder may decline its own address; the address goes
// into a bounded quarantine that expires; a dynamic node's runtime overlay needs a live lease.
import { expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { QUARANTINE_MAX } from "../../../src/boot/ports";
import { BootService } from "../../../src/boot/service";
import { createApp } from "../../../src/http/app";
import { encode } from "../../../src/protocols/dhcp/codec";
import { DhcpHandler, type Inbound } from "../../../src/protocols/dhcp/handler";
import { MemoryLeaseStore } from "../../../src/protocols/dhcp/leases";
import { MessageType } from "../../../src/protocols/dhcp/options";
import { NodeService } from "../../../src/services/nodes";
import { sqliteBootStateStore, sqliteLeaseStore } from "../../../src/store/boot-store";
import { openMemoryStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";
import { tempDir } from "../../helpers/cli";
import { FakeBootPort, N1, type ReqSpec, request, testConfig } from "../dhcp/fixtures";

const NOW = 1_700_000_000_000;
const M1 = "52:54:00:00:00:01";
const POOLED = "52:54:00:99:99:99";

function setup(leases = new MemoryLeaseStore() as ConstructorParameters<typeof DhcpHandler>[2]) {
  const cfg = testConfig({ discovery: true });
  let now = NOW;
  const h = new DhcpHandler(cfg, new FakeBootPort({ [M1]: N1 }), leases, { now: () => now });
  const inb: Inbound = { iface: cfg.interfaces[0]!, listener: "dhcp", from: { address: "0.0.0.0", port: 68 } };
  const send = (s: ReqSpec) => h.handleBytes(encode(request(s)), inb);
  const lease = async (mac: string) => {
    const o = await send({ mac });
    if (o.kind !== "reply") throw new Error(JSON.stringify(o));
    await send({ type: MessageType.REQUEST, mac, serverId: "10.0.0.1", requested: o.packet.yiaddr });
    return o.packet.yiaddr;
  };
  return { h, send, lease, leases, tick: (ms: number) => (now += ms), now: () => now };
}
const mac = (i: number) => `02:00:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;

test("a DECLINE from another MAC, or for another address, is dropped and the lease stays", async () => {
  const { send, lease, leases } = setup();
  const ip = await lease(POOLED);
  expect(await send({ type: MessageType.DECLINE, mac: "52:54:00:66:66:66", requested: ip, serverId: "10.0.0.1" })).toMatchObject({
    kind: "drop",
    reason: "not-lease-holder",
  });
  expect(await send({ type: MessageType.DECLINE, mac: POOLED, requested: "10.0.0.201", serverId: "10.0.0.1" })).toMatchObject({
    kind: "drop",
    reason: "not-lease-holder",
  });
  expect(await send({ type: MessageType.DECLINE, mac: POOLED, requested: ip, serverId: "10.0.0.99" })).toMatchObject({ kind: "drop", reason: "other-server" });
  expect(leases.get(POOLED)?.ip).toBe(ip);
  // A registered node's lease cannot be taken away either.
  await send({ type: MessageType.REQUEST, mac: M1, serverId: "10.0.0.1", requested: "10.0.0.11" });
  expect(await send({ type: MessageType.DECLINE, mac: POOLED, requested: "10.0.0.11" })).toMatchObject({ kind: "drop" });
  expect(leases.get(M1)?.ip).toBe("10.0.0.11");
});

test("50,000 DECLINEs from random MACs leave the store as it was (SQLite)", async () => {
  const store = openMemoryStore();
  const leases = sqliteLeaseStore(store.db);
  const { send, lease } = setup(leases);
  const ip = await lease(POOLED);
  for (let i = 0; i < 50_000; i++) await send({ type: MessageType.DECLINE, mac: mac(i), requested: `10.0.${(i >> 8) & 255}.${i & 255}`, serverId: "10.0.0.1" });
  expect(store.sqlite.query("SELECT count(*) AS n FROM leases").get()).toEqual({ n: 1 });
  expect(store.sqlite.query("SELECT count(*) AS n FROM dhcp_quarantine").get()).toEqual({ n: 0 });
  expect(leases.get(POOLED)?.ip).toBe(ip);
  store.close();
}, 60_000);

test("the holder's DECLINE quarantines its pool address for a pool lease time, then it is free again", async () => {
  for (const leases of [new MemoryLeaseStore(), sqliteLeaseStore(openMemoryStore().db)]) {
    const { send, lease, tick } = setup(leases);
    const ip = await lease(POOLED);
    expect(await send({ type: MessageType.DECLINE, mac: POOLED, requested: ip, serverId: "10.0.0.1" })).toMatchObject({ kind: "done" });
    expect(leases.get(POOLED)).toBeUndefined();
    expect(leases.all().some((l) => l.mac.startsWith("declined:"))).toBe(false);
    // Not handed out again while quarantined: not to the same client, not to another, not on REQUEST.
    expect(await lease(POOLED)).not.toBe(ip);
    expect(await send({ type: MessageType.REQUEST, mac: "52:54:00:77:77:77", requested: ip, serverId: "10.0.0.1" })).toMatchObject({
      kind: "reply",
      note: expect.stringMatching(/^NAK/),
    });
    tick(600_001);
    expect(leases.isQuarantined(ip, NOW + 600_001)).toBe(false);
    expect(await send({ type: MessageType.REQUEST, mac: "52:54:00:77:77:77", requested: ip, serverId: "10.0.0.1" })).toMatchObject({
      kind: "reply",
      note: expect.stringMatching(/^ACK/),
    });
  }
});

test("the quarantine is bounded and drops expired entries", () => {
  for (const leases of [new MemoryLeaseStore(), sqliteLeaseStore(openMemoryStore().db)]) {
    for (let i = 0; i < QUARANTINE_MAX + 500; i++) leases.quarantine(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mac(i), NOW + 1000 + i, NOW);
    expect(leases.isQuarantined("10.0.0.0", NOW)).toBe(false); // the oldest went first
    expect(leases.isQuarantined(`10.0.${((QUARANTINE_MAX + 499) >> 8) & 255}.${(QUARANTINE_MAX + 499) & 255}`, NOW)).toBe(true);
    leases.quarantine("10.9.9.9", mac(1), NOW + 10_000_000, NOW + 5_000_000);
    expect(leases.isQuarantined("10.0.20.0", NOW + 5_000_000)).toBe(false);
  }
  const store = openMemoryStore();
  const l = sqliteLeaseStore(store.db);
  for (let i = 0; i < QUARANTINE_MAX + 10; i++) l.quarantine(`10.1.${i >> 8}.${i & 255}`, mac(i), NOW + 1000 + i, NOW);
  l.flushNow();
  expect((store.sqlite.query("SELECT count(*) AS n FROM dhcp_quarantine").get() as { n: number }).n).toBeLessThanOrEqual(QUARANTINE_MAX);
});

test("a dynamic node's runtime overlay needs a live lease from drover: not from another host once it is gone", async () => {
  const t = tempDir();
  const file = join(t.dir, "runtime.img");
  writeFileSync(file, "x");
  const st = statSync(file);
  const store = openMemoryStore();
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  nodes.addNodes(["d1"], { set: { networkDevices: { default: { hwaddr: POOLED } }, runtimeOverlay: ["generic"] } });
  const leases = sqliteLeaseStore(store.db);
  const overlays = { archive: async () => ({ path: file, size: st.size, mtimeMs: st.mtimeMs, etag: '"r"' }) };
  const boot = new BootService(nodes, sqliteBootStateStore(store.db), undefined, overlays, { discovery: false, dhcpLeases: true }, () => {}, leases);
  const get = (remote: string) => boot.file("runtime", POOLED, { base: "http://h", query: {}, remote, remotePort: 900 });
  leases.put({ mac: POOLED, ip: "10.0.0.200", expiresAt: Date.now() + 60_000 });
  expect(await get("10.0.0.200")).not.toHaveProperty("refused");
  expect(await get("10.0.0.66")).toMatchObject({ refused: true, status: 403 });
  // The lease is gone (declined by its holder, expired, or the address given to another MAC).
  leases.delete(POOLED);
  expect(await get("10.0.0.66")).toMatchObject({ refused: true, status: 403, message: expect.stringContaining("no live DHCP lease") });
  expect(await get("10.0.0.200")).toMatchObject({ refused: true, status: 403 });
  leases.put({ mac: POOLED, ip: "10.0.0.200", expiresAt: Date.now() - 1 });
  expect(await get("10.0.0.66")).toMatchObject({ refused: true, status: 403 });
  // Without drover's DHCP (ProxyDHCP next to a site's server) the source-port check stays what it was.
  boot.setDhcpLeases(false);
  expect(await get("10.0.0.66")).not.toHaveProperty("refused");
  store.close();
  t.cleanup();
});
