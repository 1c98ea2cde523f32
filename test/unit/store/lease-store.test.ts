/**
 * Group commit in store/lease-store.ts: what one event-loop turn writes is one transaction, and a failed
 * commit leaves nothing half-written on disk, keeps memory as the handler decided it, and once the store
 * recovers the disk says what memory says.
 */
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import type { Lease } from "../../../src/boot/ports";
import { sqliteLeaseStore } from "../../../src/store/boot-store";
import { type Db, type OpenStore, openStore, sqliteOf } from "../../../src/store/db";
import { tempDir } from "../../helpers/cli";

const mac = (i: number) => `52:54:00:00:01:${i.toString(16).padStart(2, "0")}`;
const ip = (i: number) => `10.0.1.${i}`;
const lease = (i: number, at = i, expiresAt = 9_000_000): Lease => ({ mac: mac(i), ip: ip(at), expiresAt });

let t: ReturnType<typeof tempDir>;
let store: OpenStore;
/** A second connection to the same file: reads what is on disk, and takes the write lock to make commits fail. */
let other: Database;

beforeEach(() => {
  t = tempDir();
  store = openStore(t.dir);
  // As drover serve's connection: no automatic checkpoint inside a commit (store/checkpointer.ts).
  sqliteOf(store.db).run("PRAGMA wal_autocheckpoint = 0");
  other = new Database(join(t.dir, "drover.db"));
});
afterEach(() => {
  other.close();
  store.close();
  t.cleanup();
});

const onDisk = () => other.query("SELECT mac, ip, expires_at AS expiresAt FROM leases ORDER BY mac").all() as Lease[];
const sorted = (ls: Lease[]) => [...ls].sort((a, b) => a.mac.localeCompare(b.mac));
/** Frames in the WAL: every commit appends at least one (its commit frame). */
const walFrames = () => (other.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { log: number }).log;
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

test("leases put in one turn are committed in one transaction; the next turn's in another", async () => {
  const commits: number[] = [];
  const leases = sqliteLeaseStore(store.db, { onCommit: (writes) => commits.push(writes) });
  other.run("PRAGMA wal_checkpoint(TRUNCATE)");
  expect(walFrames()).toBe(0);
  for (let i = 1; i <= 32; i++) leases.put(lease(i));
  const flushed = leases.flush();
  // Nothing is written during the turn that decided the leases.
  expect(onDisk()).toEqual([]);
  await flushed;
  expect(commits).toEqual([32]);
  expect(onDisk()).toEqual(sorted(leases.all()));
  expect(onDisk()).toHaveLength(32);
  // 32 transactions would have appended 32 commit frames at least; one writes each page it touched once.
  const frames = walFrames();
  expect(frames).toBeGreaterThan(0);
  expect(frames).toBeLessThan(8);

  leases.put(lease(33));
  await nextTurn();
  leases.put(lease(34));
  await leases.flush();
  expect(commits).toEqual([32, 1, 1]);
});

test("flush() with nothing queued resolves without a commit; hold() is memory only", async () => {
  const commits: number[] = [];
  const leases = sqliteLeaseStore(store.db, { onCommit: (writes) => commits.push(writes) });
  await leases.flush();
  leases.hold(lease(1));
  await leases.flush();
  expect(leases.get(mac(1))?.ip).toBe(ip(1));
  expect(commits).toEqual([]);
  expect(onDisk()).toEqual([]);
});

test("a failed commit writes nothing, keeps memory and the writes; once the store recovers the disk is what memory is", async () => {
  const leases = sqliteLeaseStore(store.db);
  sqliteOf(store.db).run("PRAGMA busy_timeout = 0");
  leases.put(lease(1));
  leases.put(lease(2));
  await leases.flush();
  const before = onDisk();
  expect(before.map((l) => l.mac)).toEqual([mac(1), mac(2)]);

  other.run("BEGIN IMMEDIATE"); // the write lock, held: every commit fails
  leases.put(lease(3)); // new
  leases.put(lease(1, 1, 9_500_000)); // renewal
  leases.delete(mac(2));
  leases.put(lease(4, 2)); // 2's old address, to a new MAC
  const failed = leases.flush();
  await expect(failed).rejects.toThrow(/committing 4 lease change\(s\): .*locked/);
  expect(() => leases.flushNow()).toThrow(/locked/);
  // Nothing of the failed batch is on disk; memory holds what was decided, so no address goes to a second MAC.
  expect(onDisk()).toEqual(before);
  expect(leases.all().map((l) => [l.mac, l.ip])).toEqual([
    [mac(1), ip(1)],
    [mac(4), ip(2)],
    [mac(3), ip(3)],
  ]);
  expect(leases.byIp(ip(2))?.mac).toBe(mac(4));

  // More writes while it fails. A newer write of a MAC replaces its queued one; an address taken from a
  // MAC whose write is still queued stays with its new holder, even one queued before it (the commit
  // applies the writes in the order they were made, not in the order their MACs were first queued).
  leases.put(lease(3, 1)); // .1 moves from 1 to 3 (3 was queued before 1's renewal)
  leases.put(lease(6, 5)); // new
  await expect(leases.flush()).rejects.toThrow(/locked/);
  expect(onDisk()).toEqual(before);

  other.run("ROLLBACK");
  await leases.flush();
  const expected = sorted(leases.all());
  expect(expected.map((l) => [l.mac, l.ip])).toEqual([
    [mac(3), ip(1)],
    [mac(4), ip(2)],
    [mac(6), ip(5)],
  ]);
  expect(onDisk()).toEqual(expected);
  // And a restart reads back the same view.
  store.close();
  store = openStore(t.dir);
  expect(sorted(sqliteLeaseStore(store.db).all())).toEqual(expected);
});

test("an address given to another MAC, which moves on in the same turn, does not bring its old holder back from disk", async () => {
  const leases = sqliteLeaseStore(store.db);
  leases.put(lease(1));
  await leases.flush();
  leases.put(lease(2, 1)); // .1 moves from 1 to 2 (1's lease is gone from memory) …
  leases.put(lease(2, 7)); // … and 2 moves on to .7
  await leases.flush();
  expect(leases.all().map((l) => [l.mac, l.ip])).toEqual([[mac(2), ip(7)]]);
  expect(onDisk()).toEqual(sorted(leases.all()));
});

/**
 * The store's connection, seen through a wrapper that notes the connection's `PRAGMA synchronous` each time
 * one of the store's statements writes (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
 */
function watchedSync(db: Db): { db: Db; levels: number[]; now: () => number } {
  const real = sqliteOf(db);
  const level = () => (real.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
  const levels: number[] = [];
  const client = new Proxy(real, {
    get(target, key) {
      if (key === "query")
        return (sql: string) => {
          const st = target.query(sql);
          return new Proxy(st, {
            get(s, k) {
              const v = Reflect.get(s, k, s);
              if (k !== "run" || typeof v !== "function") return typeof v === "function" ? v.bind(s) : v;
              return (...args: unknown[]) => {
                levels.push(level());
                return v.apply(s, args);
              };
            },
          });
        };
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { db: { $client: client } as unknown as Db, levels, now: level };
}

test("fsync: true writes each group commit at synchronous = FULL and puts the connection back at NORMAL; without it, NORMAL throughout", async () => {
  for (const fsync of [true, false]) {
    const w = watchedSync(store.db);
    const leases = sqliteLeaseStore(w.db, { fsync });
    expect(w.now()).toBe(1);
    for (let i = 1; i <= 4; i++) leases.put(lease(i + (fsync ? 0 : 10)));
    await leases.flush();
    leases.delete(mac(1 + (fsync ? 0 : 10)));
    leases.quarantine(ip(99), mac(99), 5000, 1000);
    await leases.flush();
    // Every write of both commits (4 puts: a delete of another MAC's row and an upsert each; then the delete,
    // the quarantine's prune, insert and cap) ran at the level asked for.
    expect(w.levels).toEqual(Array(12).fill(fsync ? 2 : 1));
    expect(w.now()).toBe(1);
  }
  expect(onDisk()).toHaveLength(6);
});
