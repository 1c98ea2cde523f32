/**
 * Where a DHCP exchange's server time goes, without sockets: the handler `drover serve` runs (BootService over
 * the node store, the SQLite lease store with group commit, events recorded per turn), on a data dir on
 * disk, fed DORA exchanges for CLIENTS distinct relayed MACs, INFLIGHT at a time (each batch of DISCOVERs
 * in one event-loop turn, then their REQUESTs, as a closed-loop client's packets arrive). Each stage is
 * timed around its calls: decode, reservation lookup (BootService: node lookup, discovery), lease reads and
 * writes (memory), policy (the rest of the handler), the group commit, boot-event recording, encode. The
 * socket cost (receive + send of one datagram through node:dgram over loopback) is measured apart.
 *
 *   bun bench/dhcp-profile.ts                  (both pool clients and registered nodes)
 *   CLIENTS=5000 INFLIGHT=32 MODE=pool bun bench/dhcp-profile.ts
 *   FSYNC=1 …                                  (each group commit fsync'd: SqliteLeaseStoreOptions.fsync)
 */
import dgram from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createServices } from "../src/app";
import type { LeaseStore } from "../src/boot/ports";
import { BootService } from "../src/boot/service";
import type { Conf } from "../src/domain/conf";
import { formatIPv4, parseIPv4 } from "../src/domain/net";
import { BOOTREQUEST, type DhcpPacket, decode, encode, macBytes } from "../src/protocols/dhcp/codec";
import { dhcpConfig } from "../src/protocols/dhcp/config";
import { DhcpHandler, type Inbound } from "../src/protocols/dhcp/handler";
import { MessageType, Opt, ip, str, u8, u16 } from "../src/protocols/dhcp/options";
import { sqliteLeaseStore } from "../src/store/lease-store";

const CLIENTS = Number(process.env.CLIENTS ?? 5000);
const INFLIGHT = Number(process.env.INFLIGHT ?? 32);
const MODES = (process.env.MODE ?? "pool,nodes").split(",");
const SERVER = "172.20.0.1";
const RELAY = "172.20.0.2";

const t: Record<string, number> = {};
const timed =
  <A extends unknown[], R>(name: string, f: (...a: A) => R) =>
  (...a: A): R => {
    const t0 = performance.now();
    try {
      return f(...a);
    } finally {
      t[name] = (t[name] ?? 0) + performance.now() - t0;
    }
  };

function request(type: number, mac: string, xid: number, want?: string): Uint8Array {
  const o = new Map<number, Uint8Array>([
    [Opt.MessageType, u8(type)],
    [Opt.ParamList, Uint8Array.of(1, 3, 43, 60, 66, 67, 97)],
    [Opt.VendorClass, str("PXEClient:Arch:00000:UNDI:003016")],
    [Opt.ClientArch, u16(0)],
  ]);
  if (want) {
    o.set(Opt.RequestedIP, ip(want));
    o.set(Opt.ServerId, ip(SERVER));
  }
  const p: DhcpPacket = {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 1,
    xid,
    secs: 0,
    flags: 0,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0",
    siaddr: "0.0.0.0",
    giaddr: RELAY,
    chaddr: macBytes(mac),
    sname: "",
    file: "",
    options: o,
  };
  return encode(p);
}

const macOf = (i: number) => `0e:00:01:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;

async function run(mode: string, clients = CLIENTS, quiet = false) {
  for (const k of Object.keys(t)) delete t[k];
  const dir = mkdtempSync(join(tmpdir(), "drover-dhcpprof-"));
  const svc = createServices(dir);
  try {
    if (mode === "nodes") {
      const docs: Record<string, Conf> = {};
      let a = parseIPv4("172.20.1.0")!;
      for (let i = 0; i < clients; i++)
        docs[`n${String(i + 1).padStart(5, "0")}`] = {
          profiles: ["default"],
          networkDevices: { default: { hwaddr: macOf(i), ipaddr: formatIPv4(a++), netmask: "255.255.0.0" } },
        };
      svc.nodes.replaceNodes(docs, { allowMissingImage: true });
    }
    let commits = 0;
    let commitWrites = 0;
    const leases0 = sqliteLeaseStore(svc.store.db, {
      fsync: process.env.FSYNC === "1",
      onCommit: (n, ms) => {
        commits++;
        commitWrites += n;
        t.commit = (t.commit ?? 0) + ms;
      },
    });
    const leases: LeaseStore = { ...leases0 };
    for (const k of ["get", "byIp", "put", "delete", "isQuarantined", "quarantine"] as const)
      (leases as unknown as Record<string, unknown>)[k] = timed("leases", leases0[k] as (...a: unknown[]) => unknown);
    leases.flush = () => leases0.flush();
    const state = {
      ...svc.bootState,
      recordMany: timed("events", (es: Parameters<NonNullable<typeof svc.bootState.recordMany>>[0]) => svc.bootState.recordMany!(es)),
    };
    const boot = new BootService(svc.nodes, state, undefined, undefined, { discovery: mode === "pool", dhcpLeases: true }, () => {}, leases);
    // As drover serve does before it listens.
    boot.warmReservations();
    const port = {
      reservation: timed("reservation", (m: string, o: Parameters<BootService["reservation"]>[1]) => boot.reservation(m, o)),
      event: (e: Parameters<BootService["event"]>[0]) => boot.event(e),
    };
    const cfg = dhcpConfig({
      interfaces: [
        {
          name: "br0",
          mode: "authoritative",
          serverIp: SERVER,
          subnets: [{ network: "172.20.0.0", netmask: "255.255.0.0", pool: { start: "172.20.1.0", end: "172.20.255.254" } }],
        },
      ],
      discovery: mode === "pool",
      httpPort: 9873,
    });
    const h = new DhcpHandler(cfg, port, leases);
    const inb: Inbound = { iface: cfg.interfaces[0]!, listener: "dhcp", from: { address: RELAY, port: 67 } };
    const step = async (bytes: Uint8Array) => {
      const d = timed("decode", decode)(bytes);
      if (!d.ok) throw new Error(d.reason);
      const out = await h.handle(d.packet, inb);
      if (out.kind !== "reply") throw new Error(`${out.kind}: ${"detail" in out ? out.detail : ""}`);
      timed("encode", encode)(out.packet);
      return out.packet;
    };
    // The client's own packet building is timed so it can be left out.
    const client = timed("client", request);
    const t0 = performance.now();
    let xid = 1;
    for (let i = 0; i < clients; i += INFLIGHT) {
      const batch = Array.from({ length: Math.min(INFLIGHT, clients - i) }, (_, k) => ({ mac: macOf(i + k), xid: xid++ }));
      const offers = await Promise.all(batch.map((c) => step(client(MessageType.DISCOVER, c.mac, c.xid))));
      await Promise.all(batch.map((c, k) => step(client(MessageType.REQUEST, c.mac, c.xid, offers[k]!.yiaddr))));
    }
    await new Promise((r) => setImmediate(r));
    const wall = performance.now() - t0 - t.client!;
    // What no stage accounts for: the handler's own decisions, building the reply, promises and the event loop.
    const rest = wall - ["decode", "reservation", "leases", "commit", "events", "encode"].reduce((a, k) => a + (t[k] ?? 0), 0);
    if (quiet) return;
    const per = (ms: number) => `${((ms * 1000) / CLIENTS).toFixed(1)} µs`;
    console.log(
      `\n${mode === "pool" ? "pool clients (discovery on, no discoverable node)" : `registered nodes (${CLIENTS} reservations)`}, ${CLIENTS} DORA, ${INFLIGHT} at a time, load ${loadavg()[0]!.toFixed(2)}:`,
    );
    console.log("| stage | per DORA (2 packets) |");
    console.log("|---|---|");
    console.log(`| decode | ${per(t.decode!)} |`);
    console.log(`| reservation lookup (BootService) | ${per(t.reservation ?? 0)} |`);
    console.log(`| lease reads/writes (memory) | ${per(t.leases ?? 0)} |`);
    console.log(`| policy, reply building, promises, event loop (the rest) | ${per(rest)} |`);
    console.log(`| group commit (${commits} commits, ${(commitWrites / Math.max(1, commits)).toFixed(1)} writes each) | ${per(t.commit ?? 0)} |`);
    console.log(`| boot events (recordMany) | ${per(t.events ?? 0)} |`);
    console.log(`| encode | ${per(t.encode!)} |`);
    console.log(`| total in process (wall) | ${per(wall)} → ${Math.round(CLIENTS / (wall / 1000))} leases/s without sockets |`);
  } finally {
    svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** node:dgram receive + send of one 300-byte datagram over loopback, per packet (a ping-pong, one in flight). */
async function socketCost(n = 20_000): Promise<number> {
  const a = dgram.createSocket("udp4");
  const b = dgram.createSocket("udp4");
  await new Promise<void>((r) => a.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => b.bind(0, "127.0.0.1", () => r()));
  const buf = new Uint8Array(300);
  let left = n;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    b.on("message", (m, ri) => b.send(m, ri.port, ri.address));
    a.on("message", () => (--left > 0 ? a.send(buf, b.address().port, "127.0.0.1") : done()));
    a.send(buf, b.address().port, "127.0.0.1");
  });
  const per = ((performance.now() - t0) * 1000) / n / 2;
  a.close();
  b.close();
  return per;
}

// A first pass of 1,000 clients per mode warms the JIT; it is not reported.
for (const m of MODES) await run(m, 1000, true);
for (const m of MODES) await run(m);
const sock = await socketCost();
console.log(
  `\nsockets: one datagram received and one sent through node:dgram over loopback: ${sock.toFixed(1)} µs per packet → ~${(sock * 4).toFixed(0)} µs per DORA (2 in, 2 out), before the veth and the kernel's share`,
);
