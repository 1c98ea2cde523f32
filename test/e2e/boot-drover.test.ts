/**
 * End to end: diskless QEMU VMs (legacy BIOS with QEMU's iPXE ROM; UEFI with OVMF's own PXE, so
 * DHCP → TFTP snponly.efi → iPXE → HTTP is real) boot from `drover serve` alone, inside network namespaces:
 * DHCP → iPXE → HTTP script → kernel + image from a drover image → the node's /init calls back → `node
 * status` shows it booted. Also: an arm64 UEFI VM (AAVMF's own PXE) gets drover's arm64 iPXE and its boot
 * script; ProxyDHCP next to dnsmasq; discovery of an unregistered VM.
 * Needs root, QEMU, OVMF and the Debian kernel (test/run.sh installs them).
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
const arm64Why = why ?? qemuAvailable("uefi-arm64");
const dnsmasqMissing = Bun.spawnSync(["which", "dnsmasq"]).exitCode !== 0;

const BOOT_TIMEOUT = 240_000;

/** A lab, a data dir with the busybox image imported, and helpers to run drover commands against it. */
async function setup(t: { dir: string }) {
  const lab = await Lab.create();
  const data = join(t.dir, "data");
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([droverBinary(), "-d", data, ...args]);
    if (r.exitCode !== 0) throw new Error(`drover ${args.join(" ")}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  // A drover image made from a busybox root filesystem with Debian's kernel in /boot.
  const kernel = await testKernel();
  const initrd = await buildBusyboxInitrd({ kernel });
  const root = join(t.dir, "rootfs");
  mkdirSync(join(root, "boot"), { recursive: true });
  const x = Bun.spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -idm --quiet', "sh", initrd], { cwd: root });
  if (x.exitCode !== 0) throw new Error(`unpacking the test initrd: ${x.stderr.toString()}`);
  copyFileSync(kernel.vmlinuz, join(root, "boot", `vmlinuz-${kernel.version}`));
  run("image", "import", root, "busybox");
  // No overlays: the image's own /init brings the network up and calls back.
  run("profile", "add", "bare", "--image", "busybox", "--kernelargs", `console=ttyS0 drover.callback=http://${lab.serverIp}:9873/callback`);
  return { lab, data, run };
}

async function bootOnce(lab: Lab, server: DroverProcess, dir: string, fw: Firmware, mac: string): Promise<string> {
  const vm = startVm({ lab, firmware: fw, mac, memoryMb: 512, serialLog: join(dir, `${fw}-${mac.replaceAll(":", "")}.log`) });
  try {
    const m = await vm.waitFor(new RegExp(`${DEFAULT_MARKER} mac=${mac} ip=(\\S+)`), BOOT_TIMEOUT - 10_000);
    return m[1]!;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- drover log ---\n${server.log().slice(-3000)}`);
  } finally {
    await vm.stop();
  }
}

describe.skipIf(!!why)("diskless VMs boot from drover alone (authoritative DHCP)", () => {
  const t = tempDir("drover-e2e-");
  let env: Awaited<ReturnType<typeof setup>>;
  let server: DroverProcess;
  const macs: Record<Exclude<Firmware, "uefi-arm64">, string> = { bios: "52:54:00:e2:e0:01", uefi: "52:54:00:e2:e0:02" };

  beforeAll(async () => {
    env = await setup(t);
    for (const [fw, mac] of Object.entries(macs)) {
      env.run("node", "add", `vm-${fw}`, "--profile", "bare", "--hwaddr", mac, "--ipaddr", `${env.lab.subnet}.${fw === "bios" ? 51 : 52}/24`);
    }
    server = await startDroverIn(env.lab, env.data, ["-i", "br0", "--port", "9873"]);
  }, BOOT_TIMEOUT);
  afterAll(async () => {
    await server?.stop();
    await env?.lab.destroy();
    t.cleanup();
  });

  for (const fw of ["bios", "uefi"] as const) {
    test(
      `${fw.toUpperCase()} VM: DHCP → ${fw === "uefi" ? "TFTP snponly.efi → " : ""}iPXE → kernel + image → booted`,
      async () => {
        const ip = await bootOnce(env.lab, server, t.dir, fw, macs[fw]);
        const want = `${env.lab.subnet}.${fw === "bios" ? 51 : 52}`;
        expect(ip).toBe(want);
        const status = JSON.parse(env.run("node", "status", `vm-${fw}`, "--json"))[0];
        expect(status).toMatchObject({ node: `vm-${fw}`, state: "booted", stage: "booted", address: want });
        const stages = Object.keys(status.stages);
        for (const s of ["dhcp", "ipxe", "kernel", "image", "booted"]) expect(stages).toContain(s);
        // The PXE ROM phase and the iPXE phase got one lease, not two.
        const leases = Bun.spawnSync(["sqlite3", "-readonly", join(env.data, "drover.db"), `select ip from leases where mac='${macs[fw]}'`]);
        if (leases.exitCode === 0) expect(leases.stdout.toString().trim()).toBe(want);
      },
      BOOT_TIMEOUT,
    );
  }

  // Option 93 = 11 out of the box: AAVMF's PXE → TFTP ipxe-arm64.efi → iPXE (arm64) → DHCP again → the
  // node's boot script over HTTP. The node's image is x86, so the boot goes no further: the test is that an
  // arm64 machine reaches drover's script with nothing configured for it.
  test.skipIf(!!arm64Why)(
    `arm64 UEFI VM: DHCP (arch 11) → TFTP ipxe-arm64.efi → arm64 iPXE asks for its boot script${arm64Why ? ` (skipped: ${arm64Why})` : ""}`,
    async () => {
      const mac = "52:54:00:e2:e0:03";
      env.run("node", "add", "vm-arm64", "--profile", "bare", "--hwaddr", mac, "--ipaddr", `${env.lab.subnet}.53/24`);
      const vm = startVm({ lab: env.lab, firmware: "uefi-arm64", mac, memoryMb: 512, serialLog: join(t.dir, "arm64.log") });
      try {
        const deadline = Date.now() + BOOT_TIMEOUT - 20_000;
        let events: { stage: string; detail?: string }[] = [];
        while (Date.now() < deadline) {
          events = JSON.parse(env.run("node", "status", "vm-arm64", "--events", "50", "--json"))[0].events ?? [];
          if (events.some((e) => e.stage === "ipxe")) break;
          await Bun.sleep(2000);
        }
        expect(server.log()).toMatch(/ipxe-arm64\.efi/);
        expect(events.map((e) => e.stage)).toContain("ipxe");
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- serial ---\n${vm.log().slice(-2000)}\n--- drover log ---\n${server.log().slice(-3000)}`);
      } finally {
        await vm.stop();
      }
    },
    BOOT_TIMEOUT,
  );
});

describe.skipIf(!!why || dnsmasqMissing)("ProxyDHCP: an existing DHCP server gives the address, drover the boot", () => {
  const t = tempDir("drover-e2e-proxy-");
  let env: Awaited<ReturnType<typeof setup>>;
  let server: DroverProcess;
  const mac = "52:54:00:e2:e1:01";

  beforeAll(async () => {
    env = await setup(t);
    // The site's DHCP server: dnsmasq on its own host on the same segment, addresses only, no boot options.
    const site = env.lab.addClient("site");
    env.lab.sh(site.ns, `ip addr add ${env.lab.subnet}.2/24 dev eth0`);
    env.lab.spawn(
      site.ns,
      [
        "dnsmasq",
        "--no-daemon",
        "--port=0",
        "--interface=eth0",
        "--bind-interfaces",
        `--dhcp-range=${env.lab.subnet}.100,${env.lab.subnet}.150,255.255.255.0,1h`,
        "--dhcp-leasefile=/dev/null",
        "--log-dhcp",
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
    env.run("node", "add", "vm-proxy", "--profile", "bare", "--hwaddr", mac);
    server = await startDroverIn(env.lab, env.data, ["-i", "br0", "--dhcp", "proxy", "--port", "9873"]);
  }, BOOT_TIMEOUT);
  afterAll(async () => {
    await server?.stop();
    await env?.lab.destroy();
    t.cleanup();
  });

  test(
    "BIOS VM boots through drover in proxy mode with an address from dnsmasq",
    async () => {
      const ip = await bootOnce(env.lab, server, t.dir, "bios", mac);
      const last = Number(ip.split(".")[3]);
      expect(ip.startsWith(`${env.lab.subnet}.`) && last >= 100 && last <= 150).toBe(true);
      expect(JSON.parse(env.run("node", "status", "vm-proxy", "--json"))[0]).toMatchObject({ state: "booted" });
      // drover never handed out an address in proxy mode.
      expect(server.log()).not.toMatch(/\bACK \d+\.\d+\.\d+\.\d+ to/);
    },
    BOOT_TIMEOUT,
  );
});

describe.skipIf(!!why)("discovery: an unregistered VM boots and becomes a node", () => {
  const t = tempDir("drover-e2e-disc-");
  let env: Awaited<ReturnType<typeof setup>>;
  let server: DroverProcess;
  const mac = "52:54:00:e2:e2:01";

  beforeAll(async () => {
    env = await setup(t);
    server = await startDroverIn(env.lab, env.data, [
      "-i",
      "br0",
      "--port",
      "9873",
      "--discovery",
      "--register-pattern",
      "d[01-09]",
      "--register-range",
      `${env.lab.subnet}.60-${env.lab.subnet}.69`,
      "--register-profile",
      "bare",
    ]);
  }, BOOT_TIMEOUT);
  afterAll(async () => {
    await server?.stop();
    await env?.lab.destroy();
    t.cleanup();
  });

  test(
    "the unknown MAC is registered as d01 with the first free address, boots, and shows booted",
    async () => {
      expect(JSON.parse(env.run("node", "list", "--json"))).toEqual([]);
      const ip = await bootOnce(env.lab, server, t.dir, "bios", mac);
      expect(ip).toBe(`${env.lab.subnet}.60`);
      const nodes = JSON.parse(env.run("node", "list", "--json"));
      expect(nodes.map((n: { name: string }) => n.name)).toEqual(["d01"]);
      expect(nodes[0].conf.networkDevices.default).toMatchObject({ hwaddr: mac, ipaddr: `${env.lab.subnet}.60` });
      expect(JSON.parse(env.run("node", "status", "d01", "--json"))[0]).toMatchObject({ state: "booted" });
    },
    BOOT_TIMEOUT,
  );
});
