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
export interface StoreTx {
  profiles(): Map<string, Conf>;
  nodes(names?: readonly string[]): Map<string, Conf>;
  nodeNames(): string[];
  /** Every node's resolved addresses, keyed `kind:value`. */
  addresses(): Map<string, AddressOwner>;
  imageNames(): Set<string>;
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
}
