import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Services, createServices } from "../../../src/app";
import { importWarewulfSettings } from "../../../src/cli/settings/import";
import type { HostInterface } from "../../../src/config/serve";
import { ServeSettings, type StoredSettings, keyValueSettingsStorage, memorySettingsStorage } from "../../../src/config/settings";
import { drover, tempDir } from "../../helpers/cli";
import { expectGolden } from "../../helpers/golden";

/**
 * `drover settings import warewulf.conf`: written through ServeSettings into the row the Settings page and
 * drover serve read, the default profile's NFS mounts and what drover configure reads; all or nothing.
 */
const fixtures = join(import.meta.dir, "../../fixtures/warewulf");
const conf = readFileSync(join(fixtures, "warewulf.conf"), "utf8");
const hosts: HostInterface[] = [{ name: "eth1", address: "10.0.0.1", netmask: "255.255.252.0" }];

let dir = "";
let cleanup = () => {};
let svc: Services;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  svc = createServices(join(dir, "data"));
});
afterEach(() => {
  svc.close();
  cleanup();
});

/** Everything the import may write: the saved serve settings, the head-node settings, the default profile. */
const state = () => ({
  serve: svc.settingsStore.get("serve"),
  headnode: svc.settingsStore.get("headnode"),
  profile: svc.nodes.listProfiles(["default"])[0]!.own,
});
const imp = (text = conf, dryRun = false) => importWarewulfSettings(svc, text, "/etc/warewulf/warewulf.conf", { hosts, by: "settings import (test)", dryRun });

describe("settings import", () => {
  test("saves the serve settings the Settings page shows, the default profile's mount and configure's exports; the second run changes nothing", async () => {
    const r = await imp();
    expect(r.settings).toEqual([
      "dhcpMode: (default) → authoritative",
      "interfaces: (default) → [eth1]",
      "pool: (default) → 10.0.1.1-10.0.1.200",
      "pollSeconds: (default) → 30",
    ]);
    expect(r.applied).toMatch(/^saved; drover serve puts them into effect when it starts/);
    // The Settings page's view: a ServeSettings over the same storage, as drover serve builds it.
    const page = new ServeSettings({
      flags: {},
      explicit: new Set(),
      dataDir: svc.dataDir,
      storage: keyValueSettingsStorage(svc.settingsStore),
      hosts: () => hosts,
    }).get();
    expect(page.fields.pool).toMatchObject({ value: "10.0.1.1-10.0.1.200", source: "saved", editable: "live" });
    expect(page.fields.interfaces).toMatchObject({ value: ["eth1"], source: "saved" });
    expect(page.running.dhcp).toMatchObject({
      mode: "authoritative",
      interfaces: [{ name: "eth1", serverIp: "10.0.0.1", network: "10.0.0.0", netmask: "255.255.252.0", pool: { start: "10.0.1.1", end: "10.0.1.200" } }],
    });
    expect(page.running.runtime.pollSeconds).toBe(30);
    expect(page.changed).toMatchObject({ by: "settings import (test)" });
    expect(svc.nodes.listProfiles(["default"])[0]!.own.resources).toEqual({
      fstab: [{ spec: "10.0.0.1:/srv/scratch", file: "/srv/scratch", vfstype: "nfs", mntops: "defaults,noatime" }],
    });
    expect(svc.settingsStore.get("headnode")).toMatchObject({
      nfsExports: [
        { path: "/home", options: "rw,sync" },
        { path: "/opt", options: "ro,sync,no_root_squash" },
        { path: "/srv/scratch", options: "rw,async,no_root_squash" },
      ],
      sshKeyTypes: ["ed25519", "ecdsa", "rsa"],
    });
    const once = state();
    const again = await imp();
    expect(again.settings).toEqual([]);
    expect(again.fstab).toEqual([]); // the mount is there already
    expect(state()).toEqual(once);
  });

  test("--dry-run reports the same and changes nothing", async () => {
    const before = state();
    const r = await imp(conf, true);
    expect(r.settings.length).toBe(4);
    expect(r.applied).toBe("dry run: nothing changed");
    expect(state()).toEqual(before);
  });

  test("a range outside the interface's subnet: refused by drover serve's own validation, naming the warewulf.conf key; nothing changed", async () => {
    const before = state();
    const bad = conf.replace("range start: 10.0.1.1", "range start: 10.0.9.1").replace("range end: 10.0.1.200", "range end: 10.0.9.9");
    await expect(imp(bad)).rejects.toThrow(
      /warewulf.conf dhcp.range start\/end: pool: --pool 10.0.9.1-10.0.9.9 is not inside eth1's subnet 10.0.0.0\/255.255.252.0; nothing was changed/,
    );
    expect(state()).toEqual(before);
  });

  test("a range that includes the head node's own address is refused; nothing changed", async () => {
    const before = state();
    await expect(imp(conf.replace("range start: 10.0.1.1", "range start: 10.0.0.1"))).rejects.toThrow(/includes this head node's own address 10.0.0.1/);
    expect(state()).toEqual(before);
  });

  test("unreadable YAML and unknown keys change nothing", async () => {
    const before = state();
    await expect(imp("ipaddr: [10.0.0.1\n")).rejects.toThrow(/not valid YAML/);
    await expect(imp(`${conf}\nwarewulf2: {}\n`)).rejects.toThrow(/unknown key 'warewulf2'/);
    expect(state()).toEqual(before);
  });

  test("inside drover serve (remote use) the running server's settings take it; fields its command line fixes are left and reported", async () => {
    const storage = keyValueSettingsStorage(svc.settingsStore);
    const applied: unknown[] = [];
    const live = new ServeSettings({ flags: { pollInterval: "60" }, explicit: new Set(["pollInterval"]), dataDir: svc.dataDir, storage, hosts: () => hosts });
    live.onApply(async (next) => void applied.push(next.dhcp.mode));
    const r = await importWarewulfSettings({ ...svc, liveSettings: live }, conf, "warewulf.conf", { hosts, by: "t" });
    expect(r.applied).toBe("put into effect by the running drover serve");
    expect(r.fixed).toEqual(["pollSeconds: set by --poll-interval on the command line; restart drover serve without it to change it here"]);
    expect(applied).toEqual(["authoritative"]);
    expect(live.config.dhcp.interfaces[0]!.pool).toEqual({ start: "10.0.1.1", end: "10.0.1.200" });
    expect((svc.settingsStore.get("serve") as StoredSettings).values.pollSeconds).toBeUndefined();
  });
});

describe("ServeSettings.reload: a running server picks up what another process saved (SIGHUP)", () => {
  test("applies the saved values, and refuses (keeping the old ones, with a warning) what no longer validates", async () => {
    const storage = memorySettingsStorage();
    const s = new ServeSettings({ flags: {}, explicit: new Set(), dataDir: "/d", storage, hosts: () => hosts, log: () => {} });
    const applied: string[] = [];
    s.onApply(async (next) => void applied.push(next.dhcp.mode));
    expect(await s.reload()).toEqual([]);
    storage.save({ values: { dhcpMode: "authoritative", interfaces: ["eth1"] }, changed: { at: 1, by: "settings import (root)", what: [] } });
    expect(await s.reload()).toEqual(["dhcpMode: (default) → authoritative", "interfaces: (default) → [eth1]"]);
    expect(applied).toEqual(["authoritative"]);
    storage.save({ values: { dhcpMode: "authoritative", interfaces: ["eth9"] } });
    await expect(s.reload()).rejects.toThrow(/eth9/);
    expect(s.config.dhcp.interfaces[0]!.name).toBe("eth1");
    expect(s.get().warning).toMatch(/not in effect.*eth9/);
  });

  test("a change from the page starts from what another process saved, not from its own old copy", async () => {
    const storage = memorySettingsStorage();
    const s = new ServeSettings({ flags: {}, explicit: new Set(), dataDir: "/d", storage, hosts: () => hosts });
    s.onApply(async () => {});
    storage.save({ values: { pollSeconds: 30 } });
    await s.update({ discovery: true }, "admin");
    expect(storage.load()!.values).toEqual({ pollSeconds: 30, discovery: true });
  });
});

describe("the command", () => {
  test('"settings", "import" prints a line per key and what changed; --json; errors exit 2', async () => {
    const file = join(dir, "warewulf.conf");
    writeFileSync(file, conf);
    const data = join(dir, "cli");
    const dry = await drover(data, "settings", "import", file, "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.out).toContain("  dhcp.template: default → not mapped: drover's built-in DHCP server replaces dhcpd");
    expect(dry.out).toContain("  warewulf.update interval: 30 → pollSeconds: 30");
    expect(dry.out).toContain("Dry run: nothing changed.");
    const j = await drover(data, "settings", "import", file, "--json");
    expect(j.code).toBe(0);
    const r = JSON.parse(j.out);
    expect(r.rows.find((x: { key: string }) => x.key === "warewulf.port")).toEqual({
      key: "warewulf.port",
      value: "9873",
      outcome: "checked",
      text: "drover serve's default HTTP port is 9873 too",
    });
    expect(r.settings).toContain("pollSeconds: (default) → 30");
    writeFileSync(file, "ipaddr: 10.0.0.1\ntftp:\n  ipxe:\n    00:00: undionly.kpxe\n  enable: true\n");
    const bad = await drover(data, "settings", "import", file);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/line 5: unknown key 'tftp.enable'; the keys of tftp are: enabled, tftproot, systemd name, ipxe; nothing was changed/);
    const missing = await drover(data, "settings", "import", join(dir, "nope.conf"));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read .*nope.conf: ENOENT/);
  });

  test("the report of the fixture, as printed (golden)", async () => {
    // The interfaces of this host differ from machine to machine: the planner's golden files cover the DHCP
    // rows with an interface; this one pins the printed layout with an ipaddr no host has (TEST-NET-3).
    const file = join(dir, "warewulf.conf");
    writeFileSync(file, conf.replace("ipaddr: 10.0.0.1", "ipaddr: 203.0.113.1"));
    const r = await drover(join(dir, "cli"), "settings", "import", file, "--dry-run");
    expect(r.code).toBe(0);
    expectGolden(
      "warewulf/settings-import-dry-run.txt",
      r.out
        .replaceAll(file, "WAREWULF.CONF")
        .replaceAll(join(dir, "cli"), "DATA")
        .replace(/\(its IPv4 addresses: [^)]*\)/, "(its IPv4 addresses: …)"),
    );
  });
});
