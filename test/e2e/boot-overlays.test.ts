/**
 * End to end with drover's own node side: a diskless VM boots a busybox image whose /init and agent come
 * from drover's built-in `wwinit` and `wwclient` overlays (not from the image). The node gets its hostname
 * and static address from the overlays, its agent's heartbeats reach drover, a change to a runtime overlay
 * template reaches the running node within one poll interval, and an unchanged poll is a 304.
 * Needs root, QEMU and the Debian kernel (test/run.sh installs them).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { droverBinary } from "../helpers/binary";
import { tempDir } from "../helpers/cli";
import { type DroverProcess, startDroverIn } from "../helpers/drover-server";
import { NIC_MODULES, buildBusyboxInitrd, testKernel } from "../helpers/initrd";
import { Lab } from "../helpers/netns";
import { qemuAvailable, startVm } from "../helpers/vm";

const why =
  Lab.unavailable() ?? qemuAvailable("bios") ?? (Bun.spawnSync(["which", "depmod"]).exitCode !== 0 ? "needs depmod (apt-get install kmod)" : undefined);
if (why) console.log(`skipping the overlay boot test: ${why}`);
const TIMEOUT = 300_000;
const POLL = 3;

/** Copies a dynamically linked program and the libraries it needs into a root filesystem. */
function copyWithLibs(root: string, bin: string) {
  const ldd = Bun.spawnSync(["ldd", bin]).stdout.toString();
  const paths = [bin, ...[...ldd.matchAll(/(\/\S+\.so[^\s]*)/g)].map((m) => m[1]!)];
  for (const p of new Set(paths)) {
    mkdirSync(join(root, dirname(p)), { recursive: true });
    copyFileSync(p, join(root, p));
    chmodSync(join(root, p), 0o755);
  }
}

describe.skipIf(!!why)("a VM boots with drover's own wwinit and wwclient overlays", () => {
  let lab: Lab;
  let server: DroverProcess;
  const t = tempDir("drover-e2e-ovl-");
  const data = join(t.dir, "data");
  const mac = "52:54:00:e2:e3:01";
  let ip = "";
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([droverBinary(), "-d", data, ...args]);
    if (r.exitCode !== 0) throw new Error(`drover ${args.join(" ")}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };

  beforeAll(async () => {
    lab = await Lab.create();
    ip = `${lab.subnet}.61`;
    const kernel = await testKernel();
    // The image: busybox, curl (so the agent can fetch from a privileged port), the NIC modules with
    // depmod's index (the wwinit /init loads drivers by modalias), and a node init that reports what the
    // node looks like and, every second, the content of a file the runtime overlay provides.
    const root = join(t.dir, "rootfs");
    mkdirSync(root, { recursive: true });
    const x = Bun.spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -idm --quiet', "sh", await buildBusyboxInitrd({ kernel })], { cwd: root });
    if (x.exitCode !== 0) throw new Error(x.stderr.toString());
    rmSync(join(root, "init"), { force: true }); // the image's own /init: drover's wwinit must do the work
    const modSrc = kernel.modulesDir;
    const modDst = join(root, "lib/modules", kernel.version);
    for (const m of NIC_MODULES) {
      const found = Bun.spawnSync(["find", modSrc, "-name", `${m}.ko*`])
        .stdout.toString()
        .split("\n")
        .filter(Boolean)[0];
      if (!found) continue;
      const rel = found.slice(modSrc.length + 1);
      mkdirSync(dirname(join(modDst, rel)), { recursive: true });
      copyFileSync(found, join(modDst, rel));
    }
    const dep = Bun.spawnSync(["depmod", "-b", root, kernel.version]);
    if (dep.exitCode !== 0) throw new Error(`depmod: ${dep.stderr.toString()}`);
    mkdirSync(join(root, "boot"), { recursive: true });
    copyFileSync(kernel.vmlinuz, join(root, "boot", `vmlinuz-${kernel.version}`));
    copyWithLibs(root, "/usr/bin/curl");
    rmSync(join(root, "sbin/init"), { force: true });
    writeFileSync(
      join(root, "sbin/init"),
      `#!/bin/sh
echo "NODE-UP hostname=$(hostname) addr=$(ip -4 -o addr show scope global | awk '{print $4}')"
while :; do echo "NODE-MOTD $(cat /etc/drover-e2e 2>/dev/null)"; sleep 1; done
`,
      { mode: 0o755 },
    );
    run("image", "import", root, "node-ovl");
    // A site runtime overlay with one template.
    const tpl = join(t.dir, "drover-e2e.eta");
    writeFileSync(tpl, "version 1 for <%= it.node.name %>\n");
    run("overlay", "import", "site", tpl, "/etc/drover-e2e.eta");
    run(
      "profile",
      "add",
      "ovl",
      "--image",
      "node-ovl",
      "--kernelargs",
      "console=ttyS0",
      "--system-overlays",
      "wwinit,wwclient,hostname,hosts",
      "--runtime-overlays",
      "site",
      "--root",
      "initramfs",
    );
    run("node", "add", "e2e-node", "--profile", "ovl", "--hwaddr", mac, "--ipaddr", `${ip}/24`, "--onboot", "true");
    server = await startDroverIn(lab, data, ["-i", "br0", "--port", "9873", "--poll-interval", String(POLL)]);
  }, TIMEOUT);

  afterAll(async () => {
    await server?.stop();
    await lab?.destroy();
    t.cleanup();
  });

  test(
    "hostname and address from the overlays, heartbeats, a template change reaches the node, unchanged polls are 304",
    async () => {
      const vm = startVm({ lab, firmware: "bios", mac, memoryMb: 512, serialLog: join(t.dir, "vm.log") });
      try {
        const up = await vm.waitFor(/NODE-UP hostname=(\S+) addr=(\S+)/, TIMEOUT - 60_000);
        expect(up[1]).toBe("e2e-node");
        expect(up[2]).toBe(`${ip}/24`);
        await vm.waitFor(/NODE-MOTD version 1 for e2e-node/, 60_000);
        // Change the template on the head node; no build command.
        const tpl = join(t.dir, "drover-e2e.eta");
        writeFileSync(tpl, "version 2 for <%= it.node.name %>\n");
        run("overlay", "import", "site", tpl, "/etc/drover-e2e.eta");
        const changedAt = Date.now();
        await vm.waitFor(/NODE-MOTD version 2 for e2e-node/, (POLL + 20) * 1000);
        console.log(`template change reached the node after ${((Date.now() - changedAt) / 1000).toFixed(1)} s (poll interval ${POLL} s)`);
        // Two more polls with nothing changed: those must be answered 304.
        await Bun.sleep((2 * POLL + 1) * 1000);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- drover log ---\n${server.log().slice(-2000)}`);
      } finally {
        await vm.stop();
      }
      const [s] = JSON.parse(run("node", "status", "e2e-node", "--json", "--events", "200"));
      expect(s).toMatchObject({ state: "booted" });
      expect(Object.keys(s.stages)).toEqual(expect.arrayContaining(["dhcp", "ipxe", "kernel", "image", "system", "booted", "heartbeat"]));
      const details: string[] = s.events.map((e: { detail?: string }) => e.detail ?? "");
      expect(details).toContain("runtime unchanged (304)");
      expect(details.some((d) => /^runtime \d+ bytes$/.test(d))).toBe(true);
      // The agent fetched from the node's own address.
      expect(s.events.filter((e: { stage: string }) => e.stage === "heartbeat").every((e: { address?: string }) => e.address === ip)).toBe(true);
      expect(readFileSync(join(t.dir, "vm.log"), "utf8")).toMatch(/drover-init: network default: eth0 .*\/24|drover-init: network default: \S+ [\d.]+\/24/);
    },
    TIMEOUT,
  );
});
