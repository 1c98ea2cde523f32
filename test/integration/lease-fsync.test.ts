/**
 * What `sqliteLeaseStore(db, { fsync: true })` asks of the kernel: a child process makes COMMITS group
 * commits under strace, which counts its fsync/fdatasync calls on the WAL. With the option each commit
 * syncs the WAL once (synchronous = FULL: durable across a power cut); without it no commit syncs
 * (synchronous = NORMAL: the WAL is synced only when checkpointed, so commits survive kill -9, not a power
 * cut). Needs strace; no root.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli";

const ROOT = join(import.meta.dir, "../..");
const COMMITS = 20;
const strace = spawnSync(["sh", "-c", "command -v strace"]).stdout.toString().trim();
if (!strace) console.warn("skipping the lease fsync test: needs strace");

/** fsync/fdatasync calls on the WAL file by a child that opens a store and makes `commits` group commits of 8 leases. */
function walSyncs(fsync: boolean, commits = COMMITS): number {
  const t = tempDir();
  try {
    const script = join(t.dir, "commits.ts");
    writeFileSync(
      script,
      `import { sqliteLeaseStore } from ${JSON.stringify(join(ROOT, "src/store/boot-store"))};
import { openStore, sqliteOf } from ${JSON.stringify(join(ROOT, "src/store/db"))};
const s = openStore(${JSON.stringify(join(t.dir, "data"))});
// As drover serve's connection: no automatic checkpoint inside a commit (its fsyncs would count here).
sqliteOf(s.db).run("PRAGMA wal_autocheckpoint = 0");
const leases = sqliteLeaseStore(s.db, { fsync: ${fsync} });
let commits = 0;
for (let c = 0; c < ${commits}; c++) {
  for (let i = 0; i < 8; i++) leases.put({ mac: "52:54:00:00:" + [c, i].map((b) => b.toString(16).padStart(2, "0")).join(":"), ip: "10.0." + c + "." + (i + 1), expiresAt: 1e12 });
  await leases.flush();
  commits++;
}
console.log("commits " + commits);
`,
    );
    const r = spawnSync([strace, "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", join(t.dir, "trace"), process.execPath, script]);
    expect(r.stdout.toString()).toContain(`commits ${commits}`);
    expect(r.exitCode).toBe(0);
    return readFileSync(join(t.dir, "trace"), "utf8")
      .split("\n")
      .filter((l) => /\b(fsync|fdatasync)\(\d+<[^>]*drover\.db-wal>\)/.test(l)).length;
  } finally {
    t.cleanup();
  }
}

test.skipIf(!strace)(
  "fsync: true syncs the WAL once per group commit; without it, the commits never sync it",
  () => {
    // Opening the store (migrations, then the switch to WAL) syncs the WAL a few times, commits or not.
    const opening = walSyncs(false, 0);
    expect(walSyncs(false)).toBe(opening);
    expect(walSyncs(true)).toBe(opening + COMMITS);
  },
  60_000,
);
