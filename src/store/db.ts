import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import { backupBeforeMigration } from "./backup";
import { migrate } from "./migrate";
import { migrations } from "./migrations";
import * as schema from "./schema";

export type Db = BunSQLiteDatabase<typeof schema>;

/** The bun:sqlite connection under a drizzle handle, for the few hot paths that use prepared statements. */
export function sqliteOf(db: Db): Database {
  return (db as unknown as { $client: Database }).$client;
}

export interface OpenStore {
  sqlite: Database;
  db: Db;
  path: string;
  close(): void;
}

/**
 * Opens (creating if needed) the SQLite store in `dataDir`: WAL so readers never block the writer,
 * foreign keys on, and a busy timeout so that the server and CLI invocations share the file safely.
 */
export function openStore(dataDir: string, opts: { version?: string; log?: (line: string) => void } = {}): OpenStore {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, "drover.db");
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.run("PRAGMA busy_timeout = 30000");
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = NORMAL");
  sqlite.run("PRAGMA foreign_keys = ON");
  try {
    migrate(sqlite, migrations, {
      ...(opts.version ? { version: opts.version } : {}),
      // A schema change is the one write that cannot be undone by the next write: keep the database as it was.
      beforeApply: (pending) => {
        const to = backupBeforeMigration(dataDir, sqlite, pending);
        opts.log?.(`drover: backed up the store to ${to} before migrating it (${pending.join(", ")})`);
      },
    });
  } catch (e) {
    sqlite.close();
    throw e;
  }
  const db = drizzle({ client: sqlite, schema });
  return { sqlite, db, path, close: () => sqlite.close() };
}

/** An in-memory store for tests. */
export function openMemoryStore(): OpenStore {
  const sqlite = new Database(":memory:", { strict: true });
  sqlite.run("PRAGMA foreign_keys = ON");
  migrate(sqlite, migrations);
  const db = drizzle({ client: sqlite, schema });
  return { sqlite, db, path: ":memory:", close: () => sqlite.close() };
}
