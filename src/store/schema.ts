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

export const nodes = sqliteTable(
  "nodes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull().unique(),
    conf: text("conf", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** The `nodes` revision of the write that last stored this row (see `revisions`). */
    rev: integer("rev").notNull().default(0),
  },
  (t) => [index("nodes_rev").on(t.rev)],
);

/**
 * Change counters, one row each, bumped inside every write transaction that changes what they count:
 * `nodes` (and the written rows get its new value in `nodes.rev`), `node_deletes`, `profiles`. A reader
 * that remembers them asks for the nodes with a higher `rev` instead of comparing 10,000 rows; a counter
 * never goes back, unlike a clock or max(rev) after a delete.
 */
export const revisions = sqliteTable("revisions", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
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

/** DHCP leases, persisted so a restart keeps every node's address (ports.ts LeaseStore). */
export const leases = sqliteTable("leases", {
  mac: text("mac").primaryKey(),
  ip: text("ip").notNull().unique(),
  expiresAt: integer("expires_at").notNull(),
  node: text("node"),
  hostname: text("hostname"),
});

/**
 * Addresses a DHCP client declined (RFC 2131 DHCPDECLINE: someone else answers on it): not handed out again
 * until `until`. Only the lease holder can put its own address here, so the table is bounded by the pools.
 */
export const dhcpQuarantine = sqliteTable("dhcp_quarantine", {
  ip: text("ip").primaryKey(),
  /** The MAC that declined it. */
  mac: text("mac").notNull(),
  until: integer("until").notNull(),
});

/** The latest boot state of each node; survives restarts (Warewulf keeps it in memory only). */
export const bootStatus = sqliteTable("boot_status", {
  nodeId: integer("node_id")
    .primaryKey()
    .references(() => nodes.id, { onDelete: "cascade" }),
  stage: text("stage").notNull(),
  detail: text("detail"),
  address: text("address"),
  /** Unix ms of the last request of any kind from the node. */
  lastSeen: integer("last_seen").notNull(),
  /** Unix ms when each stage was last reached: {"dhcp": …, "ipxe": …}. */
  stages: text("stages", { mode: "json" }).notNull().$type<Record<string, number>>(),
  /** Unix ms when this boot began (the first stage after `booted` or an idle period). */
  bootStartedAt: integer("boot_started_at"),
  lastError: text("last_error"),
});

/** Boot event history (node page, `node status --events`); pruned to the newest events per node. */
export const bootEvents = sqliteTable(
  "boot_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    nodeId: integer("node_id").references(() => nodes.id, { onDelete: "cascade" }),
    mac: text("mac").notNull(),
    stage: text("stage").notNull(),
    detail: text("detail"),
    address: text("address"),
    at: integer("at").notNull(),
  },
  (t) => [index("boot_events_node_at").on(t.nodeId, t.at)],
);

/** Unknown MACs that asked to boot: the discovery inbox. */
export const unknownMacs = sqliteTable(
  "unknown_macs",
  {
    mac: text("mac").primaryKey(),
    firstSeen: integer("first_seen").notNull(),
    lastSeen: integer("last_seen").notNull(),
    count: integer("count").notNull(),
    address: text("address"),
    detail: text("detail"),
    ignored: integer("ignored", { mode: "boolean" }).notNull().default(false),
  },
  // The inbox is bounded and aged out by last sight (boot-store.ts).
  (t) => [index("unknown_macs_last_seen").on(t.lastSeen)],
);

/** Accounts for the web page and the API (issue 6). Passwords are argon2id hashes (Bun.password). */
export const users = sqliteTable("users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  /** `admin` (everything) or `viewer` (read only); see docs/web.md. Accounts from before roles are admins. */
  role: text("role").notNull().default("admin"),
});

/**
 * Login attempts per key (`u:NAME` per account, `c:ADDRESS` per client), in the store so that the limit
 * holds across restarts and `drover user unlock` on the head node can lift it for a locked-out admin.
 */
export const loginFailures = sqliteTable("login_failures", {
  key: text("key").primaryKey(),
  /** Wrong passwords since the last success or unlock. */
  count: integer("count").notNull(),
  /** Unix ms before which another attempt is refused without looking at the password. */
  until: integer("until").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Browser sessions: the cookie holds a random token, the table only its SHA-256 (a leaked db logs nobody in). */
export const sessions = sqliteTable(
  "sessions",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The CSRF token every state-changing request of this session must echo in X-CSRF-Token. */
    csrf: text("csrf").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

/** API tokens for scripts and the CLI's remote mode; only their SHA-256 is kept. Revoked tokens stay listed. */
export const apiTokens = sqliteTable("api_tokens", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  userId: integer("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  tokenHash: text("token_hash").notNull().unique(),
  /** The first characters of the token, to recognise it in a listing. */
  prefix: text("prefix").notNull(),
  createdAt: integer("created_at").notNull(),
  lastUsedAt: integer("last_used_at"),
  revokedAt: integer("revoked_at"),
});
