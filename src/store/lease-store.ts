/**
 * DHCP leases in SQLite with group commit (ports.ts LeaseStore).
 *
 * The leases table is read once, at start, into memory; from then on this object is the only writer
 * (one `drover serve` per data dir: runtime/lock.ts), so every read is a Map lookup. Writes change memory at
 * once and are queued; everything queued during one event-loop turn is committed in one `BEGIN IMMEDIATE`
 * transaction from a setImmediate callback — after every datagram the turn read has been decided, before the
 * next turn reads more. `flush()` resolves after the commit that holds the caller's writes, and the DHCP
 * handler sends an ACK only then, so a process killed at any moment has every ACKed lease on disk.
 *
 * The queue holds the last write of each MAC, in the order those writes were made: a commit replays them in
 * that order, so where two MACs' writes name one address the later one wins, as it did in memory. A MAC whose
 * address another MAC's put() takes has its lease deleted (queued as well), so the disk never keeps a lease
 * memory dropped.
 *
 * A failed commit (disk full, the database locked past the busy timeout) rejects the waiting flushes, keeps
 * the writes queued (newer writes to the same key win) and is retried after a second; memory keeps the
 * leases meanwhile, so an address is never offered to a second MAC while its commit is pending.
 */
import type { Database } from "bun:sqlite";
import { type Lease, type LeaseStore, QUARANTINE_MAX } from "../boot/ports";
import { type Db, sqliteOf } from "./db";

export interface SqliteLeaseStoreOptions {
  /**
   * fsync each group commit (PRAGMA synchronous = FULL for its transaction), so an ACKed lease survives a
   * power cut too. Off by default: like the rest of the store (WAL, synchronous = NORMAL) a commit then
   * survives the process being killed at any moment but not a power cut, and the fsync blocks the event
   * loop (about 4 ms per commit on the benchmark's disk: 3× the server time of a whole exchange).
   */
  fsync?: boolean;
  /** Called after each commit with the number of writes in it and its duration (metrics, the benchmark). */
  onCommit?: (writes: number, ms: number) => void;
}

export interface SqliteLeaseStore extends LeaseStore {
  /** Commits what is queued now, synchronously (shutdown, tests). Throws when the commit fails. */
  flushNow(): void;
}

type Row = {
  mac: string;
  ip: string;
  expires_at: number;
  node: string | null;
  hostname: string | null;
};

export function sqliteLeaseStore(db: Db, opts: SqliteLeaseStoreOptions = {}): SqliteLeaseStore {
  const sqlite: Database = sqliteOf(db);
  const fsync = opts.fsync ?? false;
  const byMac = new Map<string, Lease>();
  const byIp = new Map<string, Lease>();
  const held = new Map<string, { mac: string; until: number }>();
  for (const r of sqlite.query("SELECT mac, ip, expires_at, node, hostname FROM leases").all() as Row[]) {
    const l = toLease(r);
    byMac.set(l.mac, l);
    byIp.set(l.ip, l);
  }
  for (const r of sqlite.query("SELECT ip, mac, until FROM dhcp_quarantine ORDER BY until").all() as { ip: string; mac: string; until: number }[])
    held.set(r.ip, { mac: r.mac, until: r.until });

  const dropOther = sqlite.query("DELETE FROM leases WHERE ip = ? AND mac <> ?");
  const upsert = sqlite.query(
    "INSERT INTO leases (mac, ip, expires_at, node, hostname) VALUES (?, ?, ?, ?, ?) ON CONFLICT (mac) DO UPDATE SET ip = excluded.ip, expires_at = " +
      "excluded.expires_at, node = excluded.node, hostname = excluded.hostname",
  );
  const remove = sqlite.query("DELETE FROM leases WHERE mac = ?");
  const qPrune = sqlite.query("DELETE FROM dhcp_quarantine WHERE until < ?");
  const qPut = sqlite.query(
    "INSERT INTO dhcp_quarantine (ip, mac, until) VALUES (?, ?, ?) ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, until = excluded.until",
  );
  const qDel = sqlite.query("DELETE FROM dhcp_quarantine WHERE ip = ?");
  const qCap = sqlite.query(`DELETE FROM dhcp_quarantine WHERE ip IN (SELECT ip FROM dhcp_quarantine ORDER BY until DESC LIMIT -1 OFFSET ${QUARANTINE_MAX})`);

  // Queued writes: mac → the lease to store (null: delete), in the order of each MAC's last write (queue());
  // quarantined ip → entry (null: delete).
  let dirty = new Map<string, Lease | null>();
  let dirtyQ = new Map<string, { mac: string; until: number } | null>();
  let qPruneAt: number | undefined;
  let waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let scheduled = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const apply = sqlite.transaction((leases: Map<string, Lease | null>, q: Map<string, { mac: string; until: number } | null>, pruneAt: number | undefined) => {
    for (const [mac, l] of leases) {
      if (!l) remove.run(mac);
      else {
        // The address may have moved from another MAC whose lease is still on disk: it goes first.
        dropOther.run(l.ip, mac);
        upsert.run(mac, l.ip, l.expiresAt, l.node ?? null, l.hostname ?? null);
      }
    }
    if (pruneAt !== undefined) qPrune.run(pruneAt);
    for (const [ip, e] of q) {
      if (e) qPut.run(ip, e.mac, e.until);
      else qDel.run(ip);
    }
    if (q.size) qCap.run();
  });

  const commit = () => {
    scheduled = false;
    if (dirty.size === 0 && dirtyQ.size === 0) {
      for (const w of waiters.splice(0)) w.resolve();
      return;
    }
    const [batch, qBatch, pruneAt, ws] = [dirty, dirtyQ, qPruneAt, waiters];
    dirty = new Map();
    dirtyQ = new Map();
    qPruneAt = undefined;
    waiters = [];
    const t0 = performance.now();
    try {
      if (fsync) sqlite.run("PRAGMA synchronous = FULL");
      try {
        apply.immediate(batch, qBatch, pruneAt);
      } finally {
        if (fsync) sqlite.run("PRAGMA synchronous = NORMAL");
      }
    } catch (e) {
      // Keep the writes, in their order, for the next commit. Nothing was queued since they were taken:
      // the commit is synchronous.
      [dirty, dirtyQ, qPruneAt] = [batch, qBatch, pruneAt];
      const err = new Error(`committing ${batch.size + qBatch.size} lease change(s): ${(e as Error).message}`);
      for (const w of ws) w.reject(err);
      if (!retry)
        retry = setTimeout(() => {
          retry = undefined;
          schedule();
        }, 1000);
      throw err;
    }
    opts.onCommit?.(batch.size + qBatch.size, performance.now() - t0);
    for (const w of ws) w.resolve();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      try {
        commit();
      } catch {
        // Reported to the waiting flushes; retried.
      }
    });
  };

  const dropExpiredQuarantine = (now: number) => {
    for (const [ip, e] of held) if (e.until <= now) held.delete(ip);
  };

  /**
   * Puts a lease in memory; another MAC's lease on its address goes (`displaced` is told which MAC).
   */
  const remember = (lease: Lease, displaced?: (mac: string) => void): Lease => {
    const l: Lease = Object.freeze({
      mac: lease.mac,
      ip: lease.ip,
      expiresAt: lease.expiresAt,
      ...(lease.node ? { node: lease.node } : {}),
      ...(lease.hostname ? { hostname: lease.hostname } : {}),
    });
    const old = byMac.get(l.mac);
    if (old && byIp.get(old.ip) === old) byIp.delete(old.ip);
    const other = byIp.get(l.ip);
    if (other && other.mac !== l.mac) {
      byMac.delete(other.mac);
      displaced?.(other.mac);
    }
    byMac.set(l.mac, l);
    byIp.set(l.ip, l);
    return l;
  };

  /** Queues a MAC's write behind every other queued one (its earlier write, if queued, goes). */
  const queue = (mac: string, l: Lease | null) => {
    dirty.delete(mac);
    dirty.set(mac, l);
  };

  return {
    get: (mac) => byMac.get(mac),
    byIp: (ip) => byIp.get(ip),
    put: (lease) => {
      const l = remember(lease, (other) => queue(other, null));
      queue(l.mac, l);
      schedule();
    },
    // Memory only (ports.ts). A write of this MAC still queued keeps its place and goes to disk as it was.
    hold: (lease) => void remember(lease),
    delete: (mac) => {
      const old = byMac.get(mac);
      if (!old) return;
      byMac.delete(mac);
      if (byIp.get(old.ip) === old) byIp.delete(old.ip);
      queue(mac, null);
      schedule();
    },
    all: () => [...byMac.values()].sort((a, b) => ipKey(a.ip) - ipKey(b.ip)),
    flush: () => {
      if (!scheduled && dirty.size === 0 && dirtyQ.size === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        schedule();
      });
    },
    flushNow: () => commit(),
    quarantine: (ip, mac, until, now) => {
      dropExpiredQuarantine(now);
      qPruneAt = now;
      // Re-inserted at the end: the map is in insertion order, and the cap drops the oldest first.
      held.delete(ip);
      held.set(ip, { mac, until });
      dirtyQ.set(ip, { mac, until });
      while (held.size > QUARANTINE_MAX) {
        const oldest = held.keys().next().value!;
        held.delete(oldest);
        dirtyQ.set(oldest, null);
      }
      schedule();
    },
    isQuarantined: (ip, now) => (held.get(ip)?.until ?? 0) > now,
  };
}

function toLease(r: Row): Lease {
  return Object.freeze({
    mac: r.mac,
    ip: r.ip,
    expiresAt: r.expires_at,
    ...(r.node ? { node: r.node } : {}),
    ...(r.hostname ? { hostname: r.hostname } : {}),
  });
}

function ipKey(ip: string): number {
  const p = ip.split(".");
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}
