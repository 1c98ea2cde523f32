/**
 * End to end: diskless QEMU VMs (legacy BIOS with QEMU's iPXE ROM; UEFI with OVMF's own PXE, so
 * DHCP → TFTP snponly.efi → iPXE → HTTP is real) boot from `drover serve` alone, inside network namespaces:
 * DHCP → iPXE → HTTP script → kernel + image from a drover image → the node's /init calls back → `node
 * status` shows it booted. Needs root, QEMU, OVMF and the Debian kernel (test/run.sh installs them).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { droverBinary } from "../helpers/binary";
import { tempDir } from "../helpers/cli";
import { type DroverProcess, startDroverIn } from "../helpers/drover-server";
import { DEFAULT_MARKER, buildBusyboxInitrd, testKernel } from "../helpers/initrd";
import { Lab } from "../helpers/netns";
import { type Firmware, qemuAvailable, startVm } from "../helpers/vm";

const why = Lab.unavailable() ?? qemuAvailable();
if (why) console.log(`skipping the VM boot tests: ${why}`);

const BOOT_TIMEOUT = 240_000;

describe.skipIf(!!why)("diskless VMs boot from drover alone", () => {
  let lab: Lab;
  let server: DroverProcess;
  const t = tempDir("drover-e2e-");
  const data = join(t.dir, "data");
  const bin = () => droverBinary();
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([bin(), "-d", data, ...args]);
    if (r.exitCode !== 0) throw new Error(`drover ${args.join(" ")}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  const macs: Record<Firmware, string> = { bios: "52:54:00:e2:e0:01", uefi: "52:54:00:e2:e0:02" };

  beforeAll(async () => {
    lab = await Lab.create();
    // A drover image made from a busybox root filesystem with Debian's kernel in /boot.
    const kernel = await testKernel();
    const initrd = await buildBusyboxInitrd({ kernel });
    const root = join(t.dir, "rootfs");
    mkdirSync(join(root, "boot"), { recursive: true });
    const x = Bun.spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -idm --quiet', "sh", initrd], { cwd: root });
    if (x.exitCode !== 0) throw new Error(`unpacking the test initrd: ${x.stderr.toString()}`);
    copyFileSync(kernel.vmlinuz, join(root, "boot", `vmlinuz-${kernel.version}`));
    run("image", "import", root, "busybox");
    run("profile", "add", "bare", "--image", "busybox");
    const base = `http://${lab.serverIp}:9873`;
    for (const [fw, mac] of Object.entries(macs)) {
      const ip = `${lab.subnet}.${fw === "bios" ? 51 : 52}`;
      run("node", "add", `vm-${fw}`, "--profile", "bare", "--hwaddr", mac, "--ipaddr", `${ip}/24`, "--kernelargs", `console=ttyS0,drover.callback=${base}/callback/${mac.replaceAll(":", "-")}`);
    }
    server = await startDroverIn(lab, data, ["-i", "br0", "--port", "9873"]);
  }, BOOT_TIMEOUT);

  afterAll(async () => {
    await server?.stop();
    await lab?.destroy();
    t.cleanup();
  });

  for (const fw of ["bios", "uefi"] as Firmware[]) {
    test(
      `${fw.toUpperCase()} VM: DHCP → ${fw === "uefi" ? "TFTP snponly.efi → " : ""}iPXE → kernel + image → booted`,
      async () => {
        const mac = macs[fw];
        const vm = startVm({ lab, firmware: fw, mac, memoryMb: 512, serialLog: join(t.dir, `${fw}.log`) });
        try {
          const m = await vm.waitFor(new RegExp(`${DEFAULT_MARKER} mac=${mac} ip=(\\S+)`), BOOT_TIMEOUT - 10_000);
          expect(m[1]).toBe(`${lab.subnet}.${fw === "bios" ? 51 : 52}`);
        } catch (e) {
          throw new Error(`${(e as Error).message}\n--- drover log ---\n${server.log().slice(-3000)}`);
        } finally {
          await vm.stop();
        }
        const status = JSON.parse(run("node", "status", `vm-${fw}`, "--json"))[0];
        expect(status).toMatchObject({ node: `vm-${fw}`, state: "booted", stage: "booted", address: `${lab.subnet}.${fw === "bios" ? 51 : 52}` });
        const stages = Object.keys(status.stages);
        for (const s of ["dhcp", "ipxe", "kernel", "image", "booted"]) expect(stages).toContain(s);
        if (fw === "uefi") expect(server.log()).not.toMatch(/TFTP.*error/i);
      },
      BOOT_TIMEOUT,
    );
  }
});
