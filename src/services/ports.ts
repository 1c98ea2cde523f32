import type { Conf } from "../domain/conf";

/**
 * Ports the services need from storage. The SQLite implementation lives in store/; tests can use it
 * in memory. Nothing outside store/ knows about drizzle or SQL.
 */
export interface AddressEntry {
  kind: "mac" | "ip";
  value: string;
  /** Network device name, or 'ipmi'. */
  owner: string;
}

export interface AddressOwner {
  node: string;
  owner: string;
}

/** A consistent view of the store inside one transaction. Writes are visible to later reads in it. */
/** The store's change counters; each only ever grows (see store/schema.ts `revisions`). */
export interface StoreRevision {
  /** Bumped by every write of nodes; the rows written carry the new value. */
  nodes: number;
  nodeDeletes: number;
  profiles: number;
}

export interface StoreTx {
  profiles(): Map<string, Conf>;
  nodes(names?: readonly string[]): Map<string, Conf>;
  revision(): StoreRevision;
  /** Names of the nodes stored by writes after the `nodes` revision `since` (an indexed lookup). */
  nodesWrittenSince(since: number): string[];
  nodeNames(): string[];
  /** Every node's resolved addresses, keyed `kind:value`. */
  addresses(): Map<string, AddressOwner>;
  imageNames(): Set<string>;
  /** The node holding an address (indexed lookup), e.g. ("mac", "52:54:00:00:00:01"). */
  nodeByAddress(kind: "mac" | "ip", value: string): string | undefined;
  putProfile(name: string, conf: Conf): void;
  deleteProfile(name: string): void;
  /** Inserts or replaces nodes together with their resolved addresses. */
  putNodes(entries: readonly { name: string; conf: Conf; addresses: readonly AddressEntry[] }[]): void;
  deleteNodes(names: readonly string[]): void;
  getSetting<T>(key: string): T | undefined;
  setSetting(key: string, value: unknown): void;
}

export interface NodeStore {
  /** Runs fn in a read transaction (a snapshot). */
  read<T>(fn: (tx: StoreTx) => T): T;
  /** Runs fn in a write transaction that takes the database's write lock first (BEGIN IMMEDIATE). */
  write<T>(fn: (tx: StoreTx) => T): T;
  /**
   * A cheap token that changes whenever nodes or profiles are written by any process (the revision
   * counters), for caches of lookups made per DHCP packet. Absent: nothing may be cached.
   */
  version?(): string;
}

/** One node's latest boot state. */
export interface NodeBootState {
  node: string;
  stage: string;
  detail?: string;
  address?: string;
  lastSeen: number;
  stages: Record<string, number>;
  bootStartedAt?: number;
  lastError?: string;
}

export interface BootEventRecord {
  node?: string;
  mac: string;
  stage: string;
  detail?: string;
  address?: string;
  at: number;
}

export interface UnknownMac {
  mac: string;
  firstSeen: number;
  lastSeen: number;
  count: number;
  address?: string;
  detail?: string;
  ignored: boolean;
}

/** Persistent boot state: per-node status, event history, and the discovery inbox. */
export interface BootStateStore {
  /** Records an event for a known node (updating its status), or for an unknown MAC (the inbox). */
  record(e: BootEventRecord): void;
  /** Records several events in one transaction (the DHCP server's events of one event-loop turn). */
  recordMany?(es: readonly BootEventRecord[]): void;
  statuses(): NodeBootState[];
  events(node: string, limit: number): BootEventRecord[];
  unknown(): UnknownMac[];
  forgetUnknown(mac: string): void;
  ignoreUnknown(mac: string, ignored: boolean): void;
}

/** Server-wide settings, key → JSON value (the settings table); each write is one transaction. */
export interface SettingsStore {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown): void;
}
