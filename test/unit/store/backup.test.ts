import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { backupTo, createServices } from "../../../src/app";
import { acquireServerLock } from "../../../src/runtime/lock";
import { migrate } from "../../../src/store/migrate";
import { migrations } from "../../../src/store/migrations";
import { drover, tempDir } from "../../helpers/cli";

const t = tempDir("drover-backup-");
afterAll(() => t.cleanup());

describe("drover backup / restore", () => {
  const src = join(t.dir, "src");
  const file = join(t.dir, "site.tar.gz");

  test("a backup taken while another connection is mid-write holds the committed state only; restore brings it all back", async () => {
    expect((await drover(src, "node", "add", "n[1-3]", "--ipaddr", "10.0.0.11/24", "--ipmipass", "bmc-secret")).code).toBe(0);
    expect((await drover(src, "overlay", "create", "site")).code).toBe(0);
    mkdirSync(join(src, "overlays/site/etc"), { recursive: true });
    writeFileSync(join(src, "overlays/site/etc/motd.eta"), "welcome to <%= it.node.name %>\n");
    mkdirSync(join(src, "nodes/n1"), { recursive: true });
    writeFileSync(join(src, "nodes/n1/ssh_host_ed25519_key"), "KEY\n", { mode: 0o600 });
    const svc = createServices(src);
    await svc.auth.setPassword("admin", "the-admin-password");
    svc.settingsStore.set("serve", { values: { dhcpMode: "proxy" } });
    // A writer holding an open transaction (as drover serve would mid-request): its row is not in the backup.
    const writer = new Database(join(src, "drover.db"));
    writer.run("PRAGMA busy_timeout = 5000");
    writer.run("BEGIN IMMEDIATE");
    writer.run("UPDATE settings SET value = ? WHERE key = 'serve'", [JSON.stringify({ values: { dhcpMode: "half-written" } })]);
    const mid = join(t.dir, "mid-write.tar.gz");
    backupTo(svc, mid);
    writer.run("COMMIT");
    writer.close();
    svc.close();
    // The CLI (another process's view, as while serving) writes the same thing.
    const r0 = await drover(src, "backup", file);
    expect(r0.code).toBe(0);
    expect(r0.out).toBe(`backed up drover.db, overlays, nodes (schema ${migrations.at(-1)!.tag}) to ${file}\n`);
    const midDir = join(t.dir, "mid");
    expect((await drover(midDir, "restore", mid)).code).toBe(0);
    const m = createServices(midDir);
    expect(m.settingsStore.get<{ values: { dhcpMode: string } }>("serve")!.values.dhcpMode).toBe("proxy");
    m.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const dst = join(t.dir, "dst");
    const r = await drover(dst, "restore", file);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const list = JSON.parse((await drover(dst, "node", "list", "--json")).out) as { name: string }[];
    expect(list.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
    expect((await drover(dst, "node", "list", "-a", "n1", "--show-secrets")).out).toContain("bmc-secret");
    expect(readFileSync(join(dst, "overlays/site/etc/motd.eta"), "utf8")).toBe("welcome to <%= it.node.name %>\n");
    expect(statSync(join(dst, "nodes/n1/ssh_host_ed25519_key")).mode & 0o777).toBe(0o600);
    const back = createServices(dst);
    try {
      expect(back.settingsStore.get<{ values: { dhcpMode: string } }>("serve")!.values.dhcpMode).toBe("half-written");
      expect((await back.auth.login("admin", "the-admin-password")).user).toBe("admin");
    } finally {
      back.close();
    }
  });

  test("restore moves what it replaces aside, and refuses while a server holds the data dir (exit 5)", async () => {
    const dst = join(t.dir, "dst");
    expect((await drover(dst, "node", "add", "extra", "--ipaddr", "10.0.0.99/24")).code).toBe(0);
    const r = await drover(dst, "restore", file);
    expect(r.code).toBe(0);
    const replaced = /what it replaced is in (\S+)/.exec(r.out)![1]!;
    expect(
      readdirSync(replaced)
        .filter((n) => !/-(wal|shm)$/.test(n))
        .sort(),
    ).toEqual(["drover.db", "nodes", "overlays"]);
    expect((await drover(dst, "node", "list", "extra")).code).not.toBe(0);
    const lock = acquireServerLock(dst);
    try {
      const busy = await drover(dst, "restore", file);
      expect(busy.code).toBe(5);
      expect(busy.err).toContain(`another drover serve (PID ${process.pid}) is running on data dir ${dst}`);
    } finally {
      lock.release();
    }
    const junk = join(t.dir, "junk.tar.gz");
    writeFileSync(junk, "not a backup");
    expect((await drover(dst, "restore", junk)).code).toBe(2);
  });
});

describe("schema migrations", () => {
  test("an older store is backed up before it is migrated, and the copy restores", async () => {
    const dir = join(t.dir, "old");
    mkdirSync(dir);
    // The store as the previous drover left it: every migration but the last.
    const old = new Database(join(dir, "drover.db"), { strict: true });
    migrate(old, migrations.slice(0, -1));
    old.close();
    const r = await drover(dir, "profile", "list", "--json");
    expect(r.code).toBe(0);
    const made = readdirSync(join(dir, "backups"));
    expect(made).toHaveLength(1);
    expect(made[0]).toMatch(new RegExp(`^drover-.*-before-${migrations.at(-1)!.tag}\\.db$`));
    expect(r.err).toContain(`drover: backed up the store to ${join(dir, "backups", made[0]!)} before migrating it (${migrations.at(-1)!.tag})`);
    const copy = new Database(join(dir, "backups", made[0]!), { readonly: true });
    expect(copy.query("SELECT count(*) AS n FROM __drizzle_migrations").get()).toEqual({ n: migrations.length - 1 });
    copy.close();
    // Nothing pending: no second copy.
    expect((await drover(dir, "profile", "list")).code).toBe(0);
    expect(readdirSync(join(dir, "backups"))).toHaveLength(1);
    // The copy is a valid restore source (migrated forward again, with its own backup).
    expect((await drover(dir, "restore", join(dir, "backups", made[0]!))).code).toBe(0);
  });

  test("an older drover refuses a store a newer one migrated (faked: a migration row later than any it knows), and writes nothing", async () => {
    const dir = join(t.dir, "newer");
    expect((await drover(dir, "node", "add", "a1")).code).toBe(0);
    const db = new Database(join(dir, "drover.db"));
    db.run("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('from-the-future', ?)", [migrations.at(-1)!.when + 1000]);
    db.close();
    const before = readFileSync(join(dir, "drover.db"));
    const r = await drover(dir, "node", "list");
    expect(r.code).toBe(4);
    expect(r.err).toContain(
      `drover: this data dir's store was written by a newer drover: its schema is newer than ${migrations.at(-1)!.tag}, the newest this drover`,
    );
    expect(r.err).toContain("Run the newer drover, or restore a backup taken before the upgrade");
    expect(readFileSync(join(dir, "drover.db")).equals(before)).toBe(true);
    expect(existsSync(join(dir, "backups"))).toBe(false);
  });
});
