import type { Database } from "bun:sqlite";
import { conflict } from "../domain/errors";

export interface EmbeddedMigration {
  tag: string;
  /** drizzle-kit's timestamp for the migration; applied in this order. */
  when: number;
  sql: string;
}

export interface MigrateOptions {
  /**
   * Called outside any transaction before the first pending migration is applied to a store that already has
   * a schema (not a new one), with the tags about to be applied: openStore takes a backup of the database here.
   */
  beforeApply?: (pending: readonly string[]) => void;
  /** This drover's version, for the message when the store is newer than it. */
  version?: string;
}

type Row = { created_at: number };
const lastApplied = (sqlite: Database) => sqlite.query<Row, []>("SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1").get();

/** The migrations not yet applied; throws when the store holds one this drover does not know (a newer drover wrote it). */
function pending(last: Row | null, migrations: readonly EmbeddedMigration[], version?: string): EmbeddedMigration[] {
  const sorted = [...migrations].sort((a, b) => a.when - b.when);
  const newest = sorted.at(-1);
  if (last && newest && Number(last.created_at) > newest.when)
    throw conflict(
      `this data dir's store was written by a newer drover: its schema is newer than ${newest.tag}, the newest this drover${version ? ` (${version})` : ""} knows. ` +
        "Run the newer drover, or restore a backup taken before the upgrade ('drover restore FILE'; one is taken before every schema change, in DATA-DIR/backups/)",
    );
  return sorted.filter((m) => !last || Number(last.created_at) < m.when);
}

/**
 * Applies embedded drizzle-kit migrations, recording them in drizzle's own `__drizzle_migrations` table.
 * Runs inside BEGIN IMMEDIATE so that two drover processes starting on a new data dir at once do not both
 * try to create the schema: the second waits, then finds nothing left to do. A store migrated by a newer
 * drover (a recorded migration later than every one embedded here) is refused, never written to.
 */
export function migrate(sqlite: Database, migrations: readonly EmbeddedMigration[], opts: MigrateOptions = {}): number {
  sqlite.run("CREATE TABLE IF NOT EXISTS __drizzle_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)");
  const before = lastApplied(sqlite);
  const todo = pending(before, migrations, opts.version);
  if (!todo.length) return 0;
  if (before && opts.beforeApply) opts.beforeApply(todo.map((m) => m.tag));
  let applied = 0;
  sqlite
    .transaction(() => {
      // Another process may have applied some meanwhile: look again under the write lock.
      for (const m of pending(lastApplied(sqlite), migrations, opts.version)) {
        for (const stmt of m.sql.split("--> statement-breakpoint")) if (stmt.trim()) sqlite.run(stmt);
        const hash = new Bun.CryptoHasher("sha256").update(m.sql).digest("hex");
        sqlite.run("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)", [hash, m.when]);
        applied++;
      }
    })
    .immediate();
  return applied;
}
