import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The node store. Nodes and profiles are documents shaped like Warewulf's nodes.conf (see domain/conf.ts):
 * the cascade works on whole documents, and every lookup that must be fast or unique has its own indexed
 * table beside them. `node_addresses` holds each node's resolved MACs and IPs with a unique key, so the
 * database itself refuses a duplicate even when two drover processes write at the same moment.
 */
export const profiles = sqliteTable("profiles", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  conf: text("conf", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const nodes = sqliteTable("nodes", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  conf: text("conf", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Resolved addresses of every node: kind 'mac' or 'ip'; `owner` names the network device or 'ipmi'. */
export const nodeAddresses = sqliteTable(
  "node_addresses",
  {
    kind: text("kind", { enum: ["mac", "ip"] }).notNull(),
    value: text("value").notNull(),
    nodeId: integer("node_id")
      .notNull()
      .references(() => nodes.id, { onDelete: "cascade" }),
    owner: text("owner").notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.value] }), index("node_addresses_node").on(t.nodeId)],
);

/** Images known to the store; the image subsystem owns their files, this table their names. */
export const images = sqliteTable("images", {
  name: text("name").primaryKey(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  info: text("info", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
});

/** Server-wide settings (key → JSON value). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
});
