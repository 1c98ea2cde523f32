/**
 * Backups of a data dir, taken while `drover serve` runs: the SQLite store copied with `VACUUM INTO` (one
 * read transaction, so it is one consistent state of nodes, profiles, settings, accounts, tokens, leases and
 * boot status, whatever writes go on meanwhile), plus the files that are the site's own and cannot be
 * rebuilt: site overlays (`overlays/`), the nodes' SSH host keys (`nodes/`) and power templates (`power/`).
 * Images (`images/`, `blobs/`) are left out (re-import them; they are large and come from a registry or an
 * archive) and so is `overlay-cache/` (rebuilt on demand).
 *
 * The file is a gzip'd tar (GNU tar, as on every head node) with `drover-backup.json` first, mode 0600:
 * it holds password hashes, BMC passwords and host keys.
 */
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { conflict, invalid, notFound } from "../domain/errors";
import { migrate } from "./migrate";
import { migrations } from "./migrations";

/** What a backup holds besides the database, relative to the data dir. */
export const BACKUP_DIRS = ["overlays", "nodes", "power"] as const;
const MANIFEST = "drover-backup.json";
const DB = "drover.db";

export interface BackupManifest {
  format: 1;
  createdAt: string;
  /** The drover that took it. */
  version: string;
  /** The newest schema migration in the database. */
  schema: string;
  contents: string[];
}

/** The newest migration recorded in a database, by its tag when this drover knows it. */
function schemaOf(sqlite: Database): string {
  const row = sqlite.query<{ created_at: number }, []>("SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1").get();
  if (!row) return "none";
  return migrations.find((m) => m.when === Number(row.created_at))?.tag ?? `unknown (${row.created_at})`;
}

const tar = (args: string[]) => {
  const r = Bun.spawnSync(["tar", ...args], { stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tar ${args[0]}: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`);
};

/** `VACUUM INTO` a new file: a consistent, compacted copy of the store, taken in one read transaction. */
export function copyDatabase(sqlite: Database, to: string): void {
  rmSync(to, { force: true });
  sqlite.run("VACUUM INTO ?", [to]);
  chmodSync(to, 0o600);
}

/** Writes a backup of the data dir (whose open store is `sqlite`) to `file`; returns what it holds. */
export function backupDataDir(dataDir: string, sqlite: Database, file: string, version: string): BackupManifest {
  const out = resolve(file);
  if (out.startsWith(`${resolve(dataDir)}/`) && !out.startsWith(`${resolve(dataDir, "backups")}/`))
    throw invalid(`write the backup outside the data dir (or under its backups/): ${out} would be inside what it backs up`);
  mkdirSync(dirname(out), { recursive: true });
  const stage = mkdtempSync(join(dataDir, ".backup-"));
  try {
    copyDatabase(sqlite, join(stage, DB));
    const dirs = BACKUP_DIRS.filter((d) => existsSync(join(dataDir, d)));
    const manifest: BackupManifest = { format: 1, createdAt: new Date().toISOString(), version, schema: schemaOf(sqlite), contents: [DB, ...dirs] };
    writeFileSync(join(stage, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    const tmp = `${out}.tmp-${process.pid}`;
    try {
      tar(["-czf", tmp, "-C", stage, MANIFEST, DB, ...(dirs.length ? ["-C", dataDir, ...dirs] : [])]);
      chmodSync(tmp, 0o600);
      renameSync(tmp, out);
    } finally {
      rmSync(tmp, { force: true });
    }
    return manifest;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

const SQLITE_MAGIC = "SQLite format 3\0";

export interface RestoreResult {
  manifest?: BackupManifest;
  /** Where what the restore replaced was moved. */
  replacedDir?: string;
}

/**
 * Replaces the data dir's store and site files with a backup's (a `drover backup` file, or a bare database such
 * as the ones taken before each migration, DATA-DIR/backups/*.db). The caller holds the server lock: no
 * `drover serve` runs on it. Nothing is deleted: what is replaced is moved to DATA-DIR/replaced-TIME/. The
 * backup is unpacked and checked (integrity, a schema this drover knows) before anything is moved.
 */
export function restoreDataDir(dataDir: string, file: string, version: string): RestoreResult {
  if (!existsSync(file)) throw notFound(`no backup file ${file}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stage = mkdtempSync(join(dataDir, ".restore-"));
  try {
    let manifest: BackupManifest | undefined;
    if (readFileSync(file).subarray(0, 16).toString("latin1") === SQLITE_MAGIC) {
      writeFileSync(join(stage, DB), readFileSync(file), { mode: 0o600 });
    } else {
      try {
        tar(["-xzf", file, "-C", stage, "--no-same-permissions", "--delay-directory-restore"]);
      } catch (e) {
        throw invalid(`${file} is not a drover backup (a .tar.gz from 'drover backup', or a .db): ${(e as Error).message}`);
      }
      try {
        manifest = JSON.parse(readFileSync(join(stage, MANIFEST), "utf8")) as BackupManifest;
      } catch {
        throw invalid(`${file} is not a drover backup: it has no ${MANIFEST}`);
      }
      if (manifest.format !== 1)
        throw conflict(
          `${file} is a backup in format ${manifest.format}, newer than this drover (${version}) reads; restore it with the drover that took it (${manifest.version})`,
        );
      rmSync(join(stage, MANIFEST));
    }
    const extra = readdirSync(stage).filter((n) => n !== DB && !(BACKUP_DIRS as readonly string[]).includes(n));
    if (extra.length) throw invalid(`${file} holds unexpected entries (${extra.join(", ")}); not restoring it`);
    // The database must be whole, and of a schema this drover can run (migrated forward here if older).
    const db = new Database(join(stage, DB), { strict: true });
    try {
      const ok = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()?.integrity_check;
      if (ok !== "ok") throw invalid(`the database in ${file} is damaged (integrity_check: ${ok})`);
      migrate(db, migrations, { version });
    } catch (e) {
      if ((e as Error).message.includes("written by a newer drover"))
        throw conflict(`${file} was taken by a newer drover${manifest ? ` (${manifest.version})` : ""}: restore it with that drover`);
      if ((e as { code?: string }).code === "SQLITE_NOTADB") throw invalid(`${file} is not a drover backup`);
      throw e;
    } finally {
      db.close();
    }
    // Move the current state aside (the WAL belongs to the old database: it goes with it), then move in.
    const replacedDir = join(dataDir, `replaced-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    const current = [DB, `${DB}-wal`, `${DB}-shm`, ...BACKUP_DIRS].filter((n) => existsSync(join(dataDir, n)));
    if (current.length) {
      mkdirSync(replacedDir, { mode: 0o700 });
      for (const n of current) renameSync(join(dataDir, n), join(replacedDir, n));
    }
    for (const n of readdirSync(stage)) renameSync(join(stage, n), join(dataDir, n));
    rmSync(join(dataDir, "overlay-cache"), { recursive: true, force: true });
    return { ...(manifest ? { manifest } : {}), ...(current.length ? { replacedDir } : {}) };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Before a schema migration: the database as it was, in DATA-DIR/backups/ (0700), named by time and migration. */
export function backupBeforeMigration(dataDir: string, sqlite: Database, pending: readonly string[]): string {
  const dir = join(dataDir, "backups");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const to = join(dir, `drover-${new Date().toISOString().replace(/[:.]/g, "-")}-before-${pending[0]}.db`);
  copyDatabase(sqlite, to);
  return to;
}
