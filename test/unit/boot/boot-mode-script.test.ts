/**
 * Which iPXE script a node gets for a built image (docs/booting.md): two-stage for a large image with a
 * stage 1, one-stage otherwise or when the node's bootmode tag says so, the site's own template when it has
 * one — and a node under the default profile (whose Warewulf-style `ipxe template: default` names the
 * built-in script) must get the two-stage script too. Also the RAM check through ${memsize}.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootArtifact, ImageArtifacts, OverlayArtifacts } from "../../../src/boot/ports";
import { BootService, type BootSettings } from "../../../src/boot/service";
import { createApp } from "../../../src/http/app";
import { NodeService } from "../../../src/services/nodes";
import { sqliteBootStateStore } from "../../../src/store/boot-store";
import { openMemoryStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";
import { tempDir } from "../../helpers/cli";
import { expectGolden } from "../../helpers/golden";

const files = tempDir("drover-bootmode-");
afterAll(() => files.cleanup());
const blob = join(files.dir, "blob");
writeFileSync(blob, "x");
const artifact = (path: string): BootArtifact => {
  const st = statSync(path);
  return { path, size: st.size, mtimeMs: st.mtimeMs, etag: `"b-${st.size}"` };
};
const MiB = 1048576;
const images: ImageArtifacts = {
  kernel: async () => artifact(blob),
  image: async () => artifact(blob),
  stage1: async () => artifact(blob),
  // A stock Debian 12 image: 176 MiB gzip, 157 MiB zstd, 627 MiB unpacked, with a stage 1.
  plan: () => ({ gzip: { size: 176 * MiB, sha256: "a".repeat(64) }, zstd: { size: 157 * MiB, sha256: "b".repeat(64) }, unpacked: 627 * MiB, stage1: true }),
};
const overlays: OverlayArtifacts = { archive: async () => artifact(blob) };
const MAC = "52:54:00:aa:00:01";
const HEX = "52-54-00-aa-00-01";

function world(settings: Partial<BootSettings> = {}) {
  const store = openMemoryStore();
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  store.db.run(`INSERT OR IGNORE INTO images (name, created_at, updated_at, info) VALUES ('debian12', 0, 0, '{}')` as never);
  const boot = new BootService(nodes, sqliteBootStateStore(store.db), images, overlays, { discovery: false, ...settings }, () => {});
  const app = createApp({ startedAt: new Date(0), stats: () => nodes.counts(), services: () => ({}), boot });
  const script = async (query = "assetkey=&uuid=x&memsize=3072") =>
    (
      await app.request(
        `http://10.0.0.1:9873/ipxe/${HEX}?${query}`,
        { headers: { host: "10.0.0.1:9873" } },
        { requestIP: () => ({ address: "10.0.0.2", port: 900, family: "IPv4" }) },
      )
    ).text();
  // As the lab write-up adds a node: MAC, address, netmask; the default profile (ipxe template "default").
  const add = (tags: Record<string, string> = {}) =>
    nodes.addNodes(["c1"], {
      set: {
        image: "debian12",
        kernel: { args: ["console=ttyS0,115200"] },
        networkDevices: { default: { hwaddr: MAC, ipaddr: "10.0.0.2", netmask: "255.255.255.0" } },
        tags,
      },
    });
  return { nodes, script, add };
}
const stripDate = (s: string) => s.replace(/rendered \S+/, "rendered DATE");

describe("the boot script follows the boot mode", () => {
  test("a node under the default profile (ipxe template 'default') gets the two-stage script for a large image (golden)", async () => {
    const w = world();
    w.add();
    expect(w.nodes.getNode("c1").conf.ipxe).toBe("default");
    const s = stripDate(await w.script());
    expect(s).toContain("initrd --name stage1");
    expect(s).not.toContain("initrd --name image");
    expect(s).toContain("console=ttyS0,115200");
    expectGolden("ipxe/two-stage-c1.ipxe", s);
  });

  test("bootmode=one-stage gets the one-stage script", async () => {
    const w = world();
    w.add({ bootmode: "one-stage" });
    const s = await w.script();
    expect(s).toContain("initrd --name image");
    expect(s).not.toContain("stage1");
  });

  test("a site's own default.ipxe is used whatever the mode", async () => {
    const dir = join(files.dir, "ipxe");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "default.ipxe"), "#!ipxe\necho site script for <%= it.node %> (<%= it.mode %>)\n");
    const w = world({ ipxeTemplateDir: dir });
    w.add();
    expect(await w.script()).toBe("#!ipxe\necho site script for c1 (two-stage)\n");
  });

  test("the script first asks for ${memsize}; too little RAM gets a message instead of a kernel panic", async () => {
    const w = world();
    w.add();
    expect(await w.script("assetkey=&uuid=x")).toContain("memsize=${memsize}");
    const small = await w.script("assetkey=&uuid=x&memsize=512");
    expect(small).toContain("node c1 has 512 MiB of RAM but image 'debian12' needs at least");
    expect(small).not.toContain("kernel ");
  });

  // iPXE builds without memory-map settings (QEMU's NIC ROMs, Debian's) send memsize= empty; SMBIOS type 16's
  // maximum capacity, as iPXE prints ${smbios/16.7.4:hex} (little-endian KiB), is then the upper bound.
  test("no ${memsize}: SMBIOS's memory array capacity, when it is below the floor, gets the message", async () => {
    const w = world();
    w.add();
    const small = await w.script("assetkey=&uuid=x&memsize=&smbios16=00:00:0a:00"); // 640 MiB, as QEMU -m 640 says
    expect(small).toContain("node c1 has at most 640 MiB of RAM (SMBIOS) but image 'debian12' needs at least");
    expect(small).not.toContain("kernel ");
    // A capacity above the floor (a server's array), "see the extended field", nothing, or junk: no refusal.
    for (const q of ["00:00:60:00", "00:00:00:80", "", "zz", "00:00:0a", "00:00:00:00"]) {
      expect(await w.script(`assetkey=&uuid=x&memsize=&smbios16=${q}`)).toContain("kernel ");
    }
    // ${memsize}, when iPXE has it, is the machine's RAM and wins over the bound.
    expect(await w.script("assetkey=&uuid=x&memsize=3072&smbios16=00:00:0a:00")).toContain("kernel ");
    // The refusal says what to do if the firmware's SMBIOS is wrong.
    expect(small).toContain("drover node set c1 --tagadd ramcheck=off");
  });

  test("ramcheck=off: neither iPXE nor stage 1 checks the RAM (a firmware whose SMBIOS says less than the machine has)", async () => {
    const w = world();
    w.add({ ramcheck: "off" });
    const s = await w.script("assetkey=&uuid=x&memsize=&smbios16=00:00:0a:00");
    expect(s).toContain("kernel ");
    expect(s).toContain("drover.need=0 ");
    const checked = world();
    checked.add();
    expect(await checked.script("assetkey=&uuid=x&memsize=3072")).toMatch(/drover\.need=[1-9]\d* /);
  });
});
