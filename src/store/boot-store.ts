import { desc, eq } from "drizzle-orm";
import type { BootEventRecord, BootStateStore, NodeBootState, UnknownMac } from "../services/ports";
import { type Db, sqliteOf } from "./db";
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

function pruneUnknown(db: Db, now: number) {
  const sq = sqliteOf(db);
  // Not ignored, and either too old or beyond the newest UNKNOWN_MAX.
  sq.query("DELETE FROM unknown_macs WHERE ignored = 0 AND last_seen < ?").run(now - UNKNOWN_DAYS * 86_400_000);
  sq.query(
    `DELETE FROM unknown_macs WHERE mac IN (SELECT mac FROM unknown_macs WHERE ignored = 0 ORDER BY last_seen, mac LIMIT max(0, (SELECT count(*) FROM ` +
      `unknown_macs WHERE ignored = 0) - ${UNKNOWN_MAX}))`,
  ).run();
}

/**
 * One event's writes, inside the caller's transaction; true when it went to the inbox (which then needs
 * pruning). Prepared statements rather than the query builder: the DHCP server records every ACK.
 */
type Recorder = (e: BootEventRecord) => boolean;

function recorder(db: Db): Recorder {
  const sq = sqliteOf(db);
  const nodeId = sq.query("SELECT id FROM nodes WHERE name = ?");
  const inbox = sq.query(
    "INSERT INTO unknown_macs (mac, first_seen, last_seen, count, address, detail) VALUES (?1, ?2, ?2, 1, ?3, ?4) ON CONFLICT (mac) DO UPDATE SET " +
      "last_seen = ?2, count = count + 1, address = coalesce(?3, address), detail = ?4",
  );
  const addEvent = sq.query("INSERT INTO boot_events (node_id, mac, stage, detail, address, at) VALUES (?, ?, ?, ?, ?, ?)");
  const status = sq.query("SELECT stage, address, stages, boot_started_at, last_error FROM boot_status WHERE node_id = ?");
  const putStatus = sq.query(
    "INSERT INTO boot_status (node_id, stage, detail, address, last_seen, stages, boot_started_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON " +
      "CONFLICT (node_id) DO UPDATE SET stage = excluded.stage, detail = excluded.detail, address = excluded.address, last_seen = excluded.last_seen, " +
      "stages = excluded.stages, boot_started_at = excluded.boot_started_at, last_error = excluded.last_error",
  );
  const cutoffOf = sq.query(`SELECT id FROM boot_events WHERE node_id = ? ORDER BY id DESC LIMIT 1 OFFSET ${EVENTS_PER_NODE}`);
  const trim = sq.query("DELETE FROM boot_events WHERE node_id = ? AND id <= ?");
  return (e) => {
    const node = e.node ? (nodeId.get(e.node) as { id: number } | null) : null;
    if (!node) {
      inbox.run(e.mac, e.at, e.address ?? null, e.detail ?? e.stage);
      return true;
    }
    addEvent.run(node.id, e.mac, e.stage, e.detail ?? null, e.address ?? null, e.at);
    const row = status.get(node.id) as {
      stage: string;
      address: string | null;
      stages: string;
      boot_started_at: number | null;
      last_error: string | null;
    } | null;
    const cur = row ? { ...row, stages: JSON.parse(row.stages) as Record<string, number> } : undefined;
    // A boot starts with its first stage after the node was booted (or on first sight).
    const restarting = !cur || cur.stage === "booted" || cur.stage === "heartbeat" || cur.stage === "error";
    const isBootStage = ["dhcp", "ipxe", "kernel", "image", "system"].includes(e.stage);
    const stages: Record<string, number> = restarting && isBootStage ? {} : { ...(cur?.stages ?? {}) };
    stages[e.stage] = e.at;
    // The agent's first heartbeat of this boot: the node's init has started it and it reaches us.
    const firstHeartbeat = e.stage === "heartbeat" && stages.agent === undefined;
    if (firstHeartbeat) stages.agent = e.at;
    // Once booted, the agent's heartbeats and runtime-overlay polls keep the node booted (they refresh
    // last seen and their own stage times); only a stage that starts a boot (dhcp … system) leaves it.
    const afterBoot = (e.stage === "heartbeat" || e.stage === "runtime") && cur && (cur.stage === "booted" || cur.stage === "heartbeat");
    putStatus.run(
      node.id,
      afterBoot ? "booted" : e.stage,
      e.detail ?? (firstHeartbeat ? "agent up (first heartbeat)" : null),
      e.address ?? cur?.address ?? null,
      e.at,
      JSON.stringify(stages),
      restarting && isBootStage ? e.at : (cur?.boot_started_at ?? null),
      e.stage === "error" ? (e.detail ?? "error") : (cur?.last_error ?? null),
    );
    // Keep the newest EVENTS_PER_NODE events of this node.
    const cutoff = cutoffOf.get(node.id) as { id: number } | null;
    if (cutoff) trim.run(node.id, cutoff.id);
    return false;
  };
}

export function sqliteBootStateStore(db: Db): BootStateStore {
  const recordIn = recorder(db);
  return {
    record: (e) => {
      db.transaction(() => void (recordIn(e) && pruneUnknown(db, e.at)), { behavior: "immediate" });
    },
    recordMany: (es) => {
      if (es.length === 0) return;
      db.transaction(
        () => {
          let inbox = false;
          for (const e of es) inbox = recordIn(e) || inbox;
          if (inbox) pruneUnknown(db, es.at(-1)!.at);
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
        .map(({ e }) => ({
          node,
          mac: e.mac,
          stage: e.stage,
          at: e.at,
          ...(e.detail ? { detail: e.detail } : {}),
          ...(e.address ? { address: e.address } : {}),
        })),
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
