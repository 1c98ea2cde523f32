import { and, asc, desc, eq, gt, lt, sql } from "drizzle-orm";
import type { BootEventRecord, BootStateStore, NodeBootState, UnknownMac } from "../services/ports";
import type { Db } from "./db";
import { bootEvents, bootStatus, nodes, unknownMacs } from "./schema";

export { sqliteLeaseStore } from "./lease-store";

/** Newest events kept per node; older ones are pruned as new ones arrive. */
const EVENTS_PER_NODE = 200;
/**
 * The discovery inbox is open to anyone who sends a request naming a MAC, so it is bounded: at most
 * UNKNOWN_MAX MACs (the least recently seen go first), each forgotten UNKNOWN_DAYS after it was last seen.
 * MACs an admin chose to ignore stay (they are decisions, and only an admin makes them).
 */
export const UNKNOWN_MAX = 1000;
export const UNKNOWN_DAYS = 7;

function pruneUnknown(tx: Pick<Db, "select" | "delete">, now: number) {
  const open = and(eq(unknownMacs.ignored, false));
  tx.delete(unknownMacs).where(and(open, lt(unknownMacs.lastSeen, now - UNKNOWN_DAYS * 86_400_000))).run();
  const n = tx.select({ n: sql<number>`count(*)` }).from(unknownMacs).where(open).get()?.n ?? 0;
  if (n <= UNKNOWN_MAX) return;
  const cutoff = tx.select({ lastSeen: unknownMacs.lastSeen, mac: unknownMacs.mac }).from(unknownMacs).where(open).orderBy(asc(unknownMacs.lastSeen), asc(unknownMacs.mac)).limit(n - UNKNOWN_MAX).all();
  for (const c of cutoff) tx.delete(unknownMacs).where(eq(unknownMacs.mac, c.mac)).run();
}

/** One event's writes inside the caller's transaction; true when it went to the inbox (which then needs pruning). */
function recordIn(tx: Pick<Db, "select" | "insert" | "delete">, e: BootEventRecord): boolean {
  const node = e.node ? tx.select({ id: nodes.id }).from(nodes).where(eq(nodes.name, e.node)).get() : undefined;
  if (!node) {
    tx.insert(unknownMacs)
      .values({ mac: e.mac, firstSeen: e.at, lastSeen: e.at, count: 1, address: e.address ?? null, detail: e.detail ?? e.stage })
      .onConflictDoUpdate({
        target: unknownMacs.mac,
        set: { lastSeen: e.at, count: sql`${unknownMacs.count} + 1`, address: e.address ?? sql`${unknownMacs.address}`, detail: e.detail ?? e.stage },
      })
      .run();
    return true;
  }
  tx.insert(bootEvents).values({ nodeId: node.id, mac: e.mac, stage: e.stage, detail: e.detail ?? null, address: e.address ?? null, at: e.at }).run();
  const cur = tx.select().from(bootStatus).where(eq(bootStatus.nodeId, node.id)).get();
  // A boot starts with its first stage after the node was booted (or on first sight).
  const restarting = !cur || cur.stage === "booted" || cur.stage === "heartbeat" || cur.stage === "error";
  const isBootStage = ["dhcp", "ipxe", "kernel", "image", "system"].includes(e.stage);
  const stages = restarting && isBootStage ? {} : { ...(cur?.stages ?? {}) };
  stages[e.stage] = e.at;
  // The agent's first heartbeat of this boot: the node's init has started it and it reaches us.
  const firstHeartbeat = e.stage === "heartbeat" && stages.agent === undefined;
  if (firstHeartbeat) stages.agent = e.at;
  // Once booted, the agent's heartbeats and runtime-overlay polls keep the node booted (they refresh
  // last seen and their own stage times); only a stage that starts a boot (dhcp … system) leaves it.
  const afterBoot = (e.stage === "heartbeat" || e.stage === "runtime") && cur && (cur.stage === "booted" || cur.stage === "heartbeat");
  const stage = afterBoot ? "booted" : e.stage;
  const row = {
    nodeId: node.id,
    stage,
    detail: e.detail ?? (firstHeartbeat ? "agent up (first heartbeat)" : null),
    address: e.address ?? cur?.address ?? null,
    lastSeen: e.at,
    stages,
    bootStartedAt: restarting && isBootStage ? e.at : (cur?.bootStartedAt ?? null),
    lastError: e.stage === "error" ? (e.detail ?? "error") : (cur?.lastError ?? null),
  };
  tx.insert(bootStatus).values(row).onConflictDoUpdate({ target: bootStatus.nodeId, set: row }).run();
  // Keep the newest EVENTS_PER_NODE events of this node.
  const cutoff = tx
    .select({ id: bootEvents.id })
    .from(bootEvents)
    .where(eq(bootEvents.nodeId, node.id))
    .orderBy(desc(bootEvents.id))
    .limit(1)
    .offset(EVENTS_PER_NODE)
    .get();
  if (cutoff) tx.delete(bootEvents).where(and(eq(bootEvents.nodeId, node.id), lt(bootEvents.id, cutoff.id + 1))).run();
  return false;
}

export function sqliteBootStateStore(db: Db): BootStateStore {
  return {
    record: (e) => {
      db.transaction((tx) => void (recordIn(tx, e) && pruneUnknown(tx, e.at)), { behavior: "immediate" });
    },
    recordMany: (es) => {
      if (es.length === 0) return;
      db.transaction(
        (tx) => {
          let inbox = false;
          for (const e of es) inbox = recordIn(tx, e) || inbox;
          if (inbox) pruneUnknown(tx, es.at(-1)!.at);
        },
        { behavior: "immediate" },
      );
    },
    statuses: () =>
      db
        .select({ s: bootStatus, name: nodes.name })
        .from(bootStatus)
        .innerJoin(nodes, eq(nodes.id, bootStatus.nodeId))
        .all()
        .map(
          ({ s, name }): NodeBootState => ({
            node: name,
            stage: s.stage,
            lastSeen: s.lastSeen,
            stages: s.stages,
            ...(s.detail ? { detail: s.detail } : {}),
            ...(s.address ? { address: s.address } : {}),
            ...(s.bootStartedAt ? { bootStartedAt: s.bootStartedAt } : {}),
            ...(s.lastError ? { lastError: s.lastError } : {}),
          }),
        ),
    events: (node, limit) =>
      db
        .select({ e: bootEvents })
        .from(bootEvents)
        .innerJoin(nodes, eq(nodes.id, bootEvents.nodeId))
        .where(eq(nodes.name, node))
        .orderBy(desc(bootEvents.id))
        .limit(limit)
        .all()
        .map(({ e }) => ({ node, mac: e.mac, stage: e.stage, at: e.at, ...(e.detail ? { detail: e.detail } : {}), ...(e.address ? { address: e.address } : {}) })),
    unknown: () =>
      db
        .select()
        .from(unknownMacs)
        .orderBy(desc(unknownMacs.lastSeen))
        .all()
        .map(
          (u): UnknownMac => ({
            mac: u.mac,
            firstSeen: u.firstSeen,
            lastSeen: u.lastSeen,
            count: u.count,
            ignored: u.ignored,
            ...(u.address ? { address: u.address } : {}),
            ...(u.detail ? { detail: u.detail } : {}),
          }),
        ),
    forgetUnknown: (mac) => void db.delete(unknownMacs).where(eq(unknownMacs.mac, mac)).run(),
    ignoreUnknown: (mac, ignored) => void db.update(unknownMacs).set({ ignored }).where(eq(unknownMacs.mac, mac)).run(),
  };
}
