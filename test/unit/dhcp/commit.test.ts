/**
 * The ACK waits for its lease's commit (authoritative.ts: put(), then `await flush()`), without sockets or
 * root: a lease store whose flush() stays pending until the test lets it go, or rejects as a failed commit
 * does, and the SQLite store itself with its database locked by another connection.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { decode, encode } from "../../../src/protocols/dhcp/codec";
import { DhcpHandler, type Inbound, type Outcome } from "../../../src/protocols/dhcp/handler";
import { MemoryLeaseStore } from "../../../src/protocols/dhcp/leases";
import { MessageType, Opt, optU8 } from "../../../src/protocols/dhcp/options";
import { sqliteLeaseStore } from "../../../src/store/boot-store";
import { openStore, sqliteOf } from "../../../src/store/db";
import { tempDir } from "../../helpers/cli";
import { FakeBootPort, N1, type ReqSpec, request, testConfig } from "./fixtures";

const NOW = 1_700_000_000_000;
const NODE = "52:54:00:00:00:01"; // N1, reserved 10.0.0.11
const POOL_MAC = "52:54:00:99:99:01";
const OTHER = "52:54:00:99:99:02";

/** A memory store whose flush() waits for release() or fails while `failing` is set. */
class GatedLeaseStore extends MemoryLeaseStore {
  failing = false;
  private pending: (() => void)[] = [];
  override flush(): Promise<void> {
    if (this.failing) return Promise.reject(new Error("committing 1 lease change(s): database is locked"));
    return new Promise<void>((resolve) => this.pending.push(resolve));
  }
  get waiting() {
    return this.pending.length;
  }
  release() {
    for (const r of this.pending.splice(0)) r();
  }
}

function setup(leases: MemoryLeaseStore | ReturnType<typeof sqliteLeaseStore>) {
  const port = new FakeBootPort({ [NODE]: N1 });
  const cfg = testConfig({ discovery: true });
  const h = new DhcpHandler(cfg, port, leases, { now: () => NOW });
  const inb: Inbound = { iface: cfg.interfaces.find((i) => i.name === "br0")!, listener: "dhcp", from: { address: "0.0.0.0", port: 68 } };
  const send = (s: ReqSpec) => h.handleBytes(encode(request(s)), inb);
  const requestFor = (mac: string, addr: string) => send({ type: MessageType.REQUEST, mac, serverId: "10.0.0.1", requested: addr });
  return { port, send, requestFor };
}

function replyOf(o: Outcome, type: number) {
  if (o.kind !== "reply") throw new Error(`expected a reply, got ${JSON.stringify(o)}`);
  const d = decode(encode(o.packet));
  if (!d.ok) throw new Error(d.reason);
  expect(optU8(d.packet.options, Opt.MessageType)).toBe(type);
  return d.packet;
}

/** Lets every callback queued so far (timers of 0 ms, immediates, promise jobs) run, a few rounds deep. */
async function settle() {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

describe("no ACK before the commit", () => {
  for (const [who, mac] of [
    ["a registered node", NODE],
    ["a pool client", POOL_MAC],
  ] as const) {
    test(`${who}: the ACK is produced only once flush() resolves`, async () => {
      const leases = new GatedLeaseStore();
      const { port, send, requestFor } = setup(leases);
      const addr = replyOf(await send({ mac }), MessageType.OFFER).yiaddr;
      let out: Outcome | undefined;
      const pending = requestFor(mac, addr).then((o) => (out = o));
      await settle();
      // The lease is decided (in memory, queued for the commit) but nothing has been answered yet.
      expect(leases.waiting).toBe(1);
      expect(leases.get(mac)?.ip).toBe(addr);
      expect(out).toBeUndefined();
      expect(port.events).toEqual([]);
      leases.release();
      await pending;
      expect(replyOf(out!, MessageType.ACK).yiaddr).toBe(addr);
      expect(port.events.map((e) => [e.mac, e.address])).toEqual([[mac, addr]]);
    });

    test(`${who}: a failed commit drops the ACK (store-failed); after the store recovers the same REQUEST is ACKed with the same address`, async () => {
      const leases = new GatedLeaseStore();
      const { port, send, requestFor } = setup(leases);
      const addr = replyOf(await send({ mac }), MessageType.OFFER).yiaddr;
      leases.failing = true;
      expect(await requestFor(mac, addr)).toMatchObject({ kind: "drop", reason: "store-failed", detail: expect.stringContaining("database is locked") });
      expect(port.events).toEqual([]);
      // Memory keeps the lease meanwhile: another client is not offered that address.
      expect(leases.get(mac)?.ip).toBe(addr);
      expect(replyOf(await send({ mac: OTHER }), MessageType.OFFER).yiaddr).not.toBe(addr);
      leases.failing = false;
      const again = requestFor(mac, addr);
      await settle();
      leases.release();
      expect(replyOf(await again, MessageType.ACK).yiaddr).toBe(addr);
      expect(port.events.map((e) => [e.mac, e.address])).toEqual([[mac, addr]]);
    });
  }
});

describe("with the SQLite lease store, its database locked by another connection", () => {
  for (const fsync of [false, true]) {
    test(`no ACK while the commit fails; the client's next REQUEST is ACKed with the same address, which is then on disk (fsync ${fsync ? "on" : "off"})`, async () => {
      const t = tempDir();
      const store = openStore(t.dir);
      const locker = new Database(join(t.dir, "drover.db"));
      try {
        // Fail at once instead of after the 30 s busy timeout: the lock stands for a disk that stays unwritable.
        sqliteOf(store.db).run("PRAGMA busy_timeout = 0");
        const leases = sqliteLeaseStore(store.db, { fsync });
        const { port, send, requestFor } = setup(leases);
        const onDisk = () => locker.query("SELECT mac, ip FROM leases ORDER BY mac").all();
        const addrs = new Map<string, string>();
        for (const mac of [NODE, POOL_MAC]) addrs.set(mac, replyOf(await send({ mac }), MessageType.OFFER).yiaddr);
        locker.run("BEGIN IMMEDIATE");
        for (const mac of [NODE, POOL_MAC])
          expect(await requestFor(mac, addrs.get(mac)!)).toMatchObject({ kind: "drop", reason: "store-failed", detail: expect.stringContaining("locked") });
        expect(onDisk()).toEqual([]);
        expect(port.events).toEqual([]);
        locker.run("ROLLBACK");
        for (const mac of [NODE, POOL_MAC]) expect(replyOf(await requestFor(mac, addrs.get(mac)!), MessageType.ACK).yiaddr).toBe(addrs.get(mac)!);
        expect(onDisk()).toEqual([
          { mac: NODE, ip: "10.0.0.11" },
          { mac: POOL_MAC, ip: addrs.get(POOL_MAC)! },
        ]);
      } finally {
        locker.close();
        store.close();
        t.cleanup();
      }
    });
  }
});
