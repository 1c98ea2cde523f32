import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { HostInterface } from "../../../src/config/serve";
import { parseWarewulfConf, planWarewulfImport, type WarewulfImportPlan } from "../../../src/config/warewulf-conf";
import { expectGolden } from "../../helpers/golden";

/** Issue 16 item 3: warewulf.conf → drover, key by key (the planner is pure; the CLI test applies it). */
const fixtures = join(import.meta.dir, "../../fixtures/warewulf");
const read = (f: string) => readFileSync(join(fixtures, f), "utf8");
const eth1: HostInterface = { name: "eth1", address: "10.0.0.1", netmask: "255.255.252.0" };
const plan = (text: string, hosts: HostInterface[] = [eth1], extra: { defaultProfileMounts?: string[] } = {}) =>
  planWarewulfImport(parseWarewulfConf(text, "warewulf.conf"), { file: "warewulf.conf", hosts, dataDir: "/var/lib/drover", ...extra });
/** The plan as the golden file shows it: one line per key, then what is saved. */
const render = (p: WarewulfImportPlan) =>
  `${p.rows.map((r) => `${r.key}${r.value !== "" ? `: ${r.value}` : ""} → ${r.outcome}: ${r.text}`).join("\n")}\n\npatch: ${JSON.stringify(p.patch)}\nheadNode: ${JSON.stringify(p.headNode)}\nfstab: ${JSON.stringify(p.fstab)}\n`;

describe("planWarewulfImport", () => {
  test("a full head node: every key reported; DHCP on the interface with ipaddr, its range as the pool, the site's iPXE builds explained", () => {
    const p = plan(read("warewulf.conf"));
    expectGolden("warewulf/import-warewulf.conf.txt", render(p));
    expect(p.patch).toEqual({ interfaces: ["eth1"], pollSeconds: 30, dhcpMode: "authoritative", pool: "10.0.1.1-10.0.1.200" });
    expect(p.fstab).toEqual([{ spec: "10.0.0.1:/srv/scratch", file: "/srv/scratch", vfstype: "nfs", mntops: "defaults,noatime" }]);
  });

  test("a packaged Warewulf 4.5: distribution iPXE names are served by drover's embedded files; flags drover serve needs are named", () => {
    const p = plan(read("distro.conf"), [{ name: "enp2s0", address: "192.168.1.1", netmask: "255.255.255.0" }]);
    expectGolden("warewulf/import-distro.conf.txt", render(p));
    const by = (k: string) => p.rows.find((r) => r.key === k)!;
    expect(by("tftp.ipxe.00:00")).toMatchObject({ outcome: "checked", text: expect.stringContaining("embedded undionly.kpxe") });
    expect(by("tftp.ipxe.00:07").text).toContain("embedded snponly.efi");
    expect(by("warewulf.port")).toMatchObject({ outcome: "not mapped", text: expect.stringContaining("drover install -- --port 9983") });
    expect(by("warewulf.secure").text).toContain("--insecure-runtime");
    expect(by("api.allowed subnets").text).toContain("--api-subnet 127.0.0.0/8");
    // Warewulf 4.3's plain export list was mounted on every node.
    expect(p.fstab).toEqual([{ spec: "192.168.1.1:/export/shared", file: "/export/shared", vfstype: "nfs" }]);
  });

  test("the project page's ipxe block, keys unquoted (00:09 stays a string), ipaddr with a prefix", () => {
    const p = plan(read("project-page.conf"), [{ name: "eth0", address: "192.168.1.1", netmask: "255.255.255.0" }]);
    expect(p.rows.filter((r) => r.key.startsWith("tftp.ipxe.")).map((r) => r.key)).toEqual([
      "tftp.ipxe.00:09",
      "tftp.ipxe.00:00",
      "tftp.ipxe.00:0B",
      "tftp.ipxe.00:07",
    ]);
    expect(p.rows.find((r) => r.key === "tftp.ipxe")!.text).toContain(
      "cp /usr/local/share/ipxe/bin-x86_64-pcbios-undionly.kpxe /var/lib/drover/ipxe-builds/undionly.kpxe",
    );
    expect(p.rows.find((r) => r.key === "tftp.ipxe.00:0B")!.text).toContain("arm64");
    // dhcp is enabled by default in Warewulf: ipaddr's interface is served.
    expect(p.patch).toEqual({ interfaces: ["eth0"], dhcpMode: "authoritative" });
    expect(p.headNode.nfsClients).toEqual(["192.168.1.0/255.255.255.0"]);
  });

  test("ipaddr not on this host: DHCP is left alone and the report says why", () => {
    const p = plan(read("warewulf.conf"), [{ name: "eth0", address: "192.168.5.5", netmask: "255.255.255.0" }]);
    expect(p.patch).toEqual({ pollSeconds: 30 });
    expect(p.rows.find((r) => r.key === "ipaddr")).toMatchObject({
      outcome: "not mapped",
      text: expect.stringContaining("10.0.0.1 is not an address of this host (its IPv4 addresses: eth0 192.168.5.5)"),
    });
    expect(p.rows.find((r) => r.key === "dhcp.range start/end")!.outcome).toBe("not mapped");
  });

  test("a mount the default profile already has is not added twice; dhcp off sets dhcpMode off and no pool", () => {
    const p = plan(read("warewulf.conf").replace("dhcp:\n  enabled: true", "dhcp:\n  enabled: false"), [eth1], { defaultProfileMounts: ["/srv/scratch"] });
    expect(p.fstab).toEqual([]);
    expect(p.patch.dhcpMode).toBe("off");
    expect(p.patch.pool).toBeUndefined();
    expect(p.patch.interfaces).toBeUndefined();
  });
});

describe("bad warewulf.conf: a clear error naming the key or line", () => {
  const bad = (text: string) => () => plan(text);
  test("unreadable YAML", () => expect(bad("ipaddr: 10.0.0.1\ndhcp: [unclosed\n")).toThrow(/warewulf.conf is not valid YAML \(line \d\).*nothing was changed/));
  test("not a map", () => expect(bad("- a\n- b\n")).toThrow(/not a warewulf.conf: expected a YAML map/));
  test("empty", () => expect(bad("# nothing\n")).toThrow(/is empty/));
  test("an unknown key, with its line and the keys there are", () =>
    expect(bad("ipaddr: 10.0.0.1\ndhcp:\n  enabled: true\n  rang start: 10.0.1.1\n")).toThrow(
      /warewulf.conf line 4: unknown key 'dhcp.rang start'; the keys of dhcp are: enabled, template, range start/,
    ));
  test("an unknown key inside a list", () =>
    expect(bad("nfs:\n  export paths:\n    - path: /home\n      options: rw\n")).toThrow(/line 4: unknown key 'nfs.export paths\[0\].options'/));
  test("an unknown top-level key", () => expect(bad("ipadr: 10.0.0.1\n")).toThrow(/line 1: unknown key 'ipadr'; warewulf.conf's top-level keys are/));
  test("a range that ends before it starts", () =>
    expect(bad("ipaddr: 10.0.0.1\ndhcp:\n  range start: 10.0.1.200\n  range end: 10.0.1.1\n")).toThrow(/dhcp range 10.0.1.200-10.0.1.1 ends before it starts/));
  test("a range end that is not an address", () =>
    expect(bad("ipaddr: 10.0.0.1\ndhcp:\n  range start: 10.0.1.1\n  range end: 10.0.1.300\n")).toThrow(/dhcp.range end '10.0.1.300' is not an IPv4 address/));
  test("half a range", () => expect(bad("dhcp:\n  range start: 10.0.1.1\n")).toThrow(/range start but no range end/));
  test("a bad ipaddr", () => expect(bad("ipaddr: head-node\n")).toThrow(/ipaddr 'head-node' is not an IPv4 address/));
  test("a bad netmask", () => expect(bad("ipaddr: 10.0.0.1\nnetmask: 255.0.255.0\n")).toThrow(/netmask '255.0.255.0' is not a netmask/));
  test("a bad boolean", () => expect(bad("warewulf:\n  secure: maybe\n")).toThrow(/warewulf.secure is "maybe", not true or false/));
  test("a bad iPXE architecture", () => expect(bad("tftp:\n  ipxe:\n    x86: undionly.kpxe\n")).toThrow(/'x86' is not a DHCP option 93 architecture/));
  test("an export path that is not absolute", () => expect(bad("nfs:\n  export paths:\n    - path: home\n")).toThrow(/'home' is not an absolute path/));
  test("a port out of range", () => expect(bad("warewulf:\n  port: 99999\n")).toThrow(/warewulf.port 99999 is not a port number/));
});
