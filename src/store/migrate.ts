import type { Database } from "bun:sqlite";

export interface EmbeddedMigration {
  tag: string;
  /** drizzle-kit's timestamp for the migration; applied in this order. */
  when: number;
  sql: string;
}

/**
 * Applies embedded drizzle-kit migrations, recording them in drizzle's own `__drizzle_migrations` table.
 * Runs inside BEGIN IMMEDIATE so that two drover processes starting on a new data dir at once do not both
 * try to create the schema: the second waits, then finds nothing left to do.
 */
export function migrate(sqlite: Database, migrations: readonly EmbeddedMigration[]): number {
  sqlite.run(
    "CREATE TABLE IF NOT EXISTS __drizzle_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)",
  );
  let applied = 0;
  sqlite
    .transaction(() => {
      const last = sqlite.query<{ created_at: number }, []>("SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1").get();
      for (const m of [...migrations].sort((a, b) => a.when - b.when)) {
        if (last && Number(last.created_at) >= m.when) continue;
        for (const stmt of m.sql.split("--> statement-breakpoint")) if (stmt.trim()) sqlite.run(stmt);
        const hash = new Bun.CryptoHasher("sha256").update(m.sql).digest("hex");
        sqlite.run("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)", [hash, m.when]);
        applied++;
      }
    })
    .immediate();
  return applied;
}
