import { and, eq, gt, inArray, sql } from "drizzle-orm";
import type { Conf } from "../domain/conf";
import type { AddressEntry, AddressOwner, NodeStore, StoreRevision, StoreTx } from "../services/ports";
import { type Db, sqliteOf } from "./db";
import { images, nodeAddresses, nodes, profiles, revisions, settings } from "./schema";

/** Bumps a change counter (created at 1 on first use) inside the caller's write transaction. */
function bump(d: Db, name: "nodes" | "node_deletes" | "profiles"): number {
  return d
    .insert(revisions)
    .values({ name, value: 1 })
    .onConflictDoUpdate({ target: revisions.name, set: { value: sql`${revisions.value} + 1` } })
    .returning({ value: revisions.value })
    .get()!.value;
}

const CHUNK = 400;

function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The SQLite implementation of the node store port. */
export function sqliteNodeStore(db: Db): NodeStore {
  // Statements on the same connection as `d`, so inside a transaction they read its snapshot.
  const allProfiles = sqliteOf(db).query("SELECT name, conf FROM profiles");
  const oneNode = sqliteOf(db).query("SELECT name, conf FROM nodes WHERE name = ?");
  const byAddress = sqliteOf(db).query("SELECT n.name AS name FROM node_addresses a JOIN nodes n ON n.id = a.node_id WHERE a.kind = ? AND a.value = ?");
  const versionQuery = sqliteOf(db).query("SELECT group_concat(name || '=' || value, ',') AS v FROM revisions");
  const tx = (d: Db): StoreTx => ({
    profiles: () => new Map((allProfiles.all() as { name: string; conf: string }[]).map((r) => [r.name, JSON.parse(r.conf) as Conf])),
    nodes: (names) => {
      if (names?.length === 1) {
        // One node (a DHCP or boot request's lookup): a prepared statement, not the query builder.
        const r = oneNode.get(names[0]!) as { name: string; conf: string } | null;
        return new Map(r ? [[r.name, JSON.parse(r.conf) as Conf]] : []);
      }
      const q = d.select({ name: nodes.name, conf: nodes.conf }).from(nodes);
      const rows = names ? chunks(names).flatMap((c) => q.where(inArray(nodes.name, c)).all()) : q.orderBy(nodes.name).all();
      return new Map(rows.map((r) => [r.name, r.conf as Conf]));
    },
    nodeNames: () =>
      d
        .select({ name: nodes.name })
        .from(nodes)
        .orderBy(nodes.name)
        .all()
        .map((r) => r.name),
    revision: () => {
      const v = new Map(
        d
          .select()
          .from(revisions)
          .all()
          .map((r) => [r.name, r.value]),
      );
      return { nodes: v.get("nodes") ?? 0, nodeDeletes: v.get("node_deletes") ?? 0, profiles: v.get("profiles") ?? 0 } satisfies StoreRevision;
    },
    nodesWrittenSince: (since) =>
      d
        .select({ name: nodes.name })
        .from(nodes)
        .where(gt(nodes.rev, since))
        .all()
        .map((r) => r.name),
    addresses: () => {
      const rows = d
        .select({ kind: nodeAddresses.kind, value: nodeAddresses.value, node: nodes.name, owner: nodeAddresses.owner })
        .from(nodeAddresses)
        .innerJoin(nodes, eq(nodes.id, nodeAddresses.nodeId))
        .all();
      return new Map<string, AddressOwner>(rows.map((r) => [`${r.kind}:${r.value}`, { node: r.node, owner: r.owner }]));
    },
    nodeByAddress: (kind, value) => (byAddress.get(kind, value) as { name: string } | null)?.name,
    imageNames: () =>
      new Set(
        d
          .select({ name: images.name })
          .from(images)
          .all()
          .map((r) => r.name),
      ),
    putProfile: (name, conf) => {
      const now = Date.now();
      bump(d, "profiles");
      d.insert(profiles)
        .values({ name, conf: conf as Record<string, unknown>, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: profiles.name, set: { conf: conf as Record<string, unknown>, updatedAt: now } })
        .run();
    },
    deleteProfile: (name) => {
      bump(d, "profiles");
      d.delete(profiles).where(eq(profiles.name, name)).run();
    },
    putNodes: (entries) => {
      const now = Date.now();
      const rev = entries.length ? bump(d, "nodes") : 0;
      for (const c of chunks(entries)) {
        const ids = d
          .insert(nodes)
          .values(c.map((e) => ({ name: e.name, conf: e.conf as Record<string, unknown>, createdAt: now, updatedAt: now, rev })))
          .onConflictDoUpdate({ target: nodes.name, set: { conf: sqlExcluded("conf"), updatedAt: now, rev } })
          .returning({ id: nodes.id, name: nodes.name })
          .all();
        const idOf = new Map(ids.map((r) => [r.name, r.id]));
        const idList = [...idOf.values()];
        d.delete(nodeAddresses).where(inArray(nodeAddresses.nodeId, idList)).run();
        const addrRows = c.flatMap((e) => e.addresses.map((a: AddressEntry) => ({ ...a, nodeId: idOf.get(e.name)! })));
        for (const ac of chunks(addrRows)) if (ac.length) d.insert(nodeAddresses).values(ac).run();
      }
    },
    deleteNodes: (names) => {
      if (names.length) bump(d, "node_deletes");
      for (const c of chunks(names)) d.delete(nodes).where(inArray(nodes.name, c)).run();
    },
    getSetting: <T>(key: string) => d.select().from(settings).where(eq(settings.key, key)).get()?.value as T | undefined,
    setSetting: (key, value) => void d.insert(settings).values({ key, value }).onConflictDoUpdate({ target: settings.key, set: { value } }).run(),
  });
  return {
    read: (fn) => db.transaction((t) => fn(tx(t as unknown as Db)), { behavior: "deferred" }),
    write: (fn) => db.transaction((t) => fn(tx(t as unknown as Db)), { behavior: "immediate" }),
    // Every node, profile and address write bumps one of these counters in its transaction.
    version: () => (versionQuery.get() as { v: string | null }).v ?? "",
  };
}

const sqlExcluded = (col: string) => sql.raw(`excluded.${col}`);
