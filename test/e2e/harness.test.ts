/**
 * Proves the VM netboot harness (test/helpers/{initrd,vm,reference-boot}.ts) that drover's own end-to-end
 * tests and the boot benchmarks stand on: diskless QEMU VMs PXE-boot inside a network namespace from the
 * reference stack (dnsmasq DHCP + TFTP, a static HTTP server) to the node's HTTP callback.
 * - BIOS: QEMU's iPXE ROM → script chains undionly.kpxe over TFTP → iPXE again → kernel + initrd over HTTP.
 * - UEFI: OVMF's own PXE (NIC ROM removed) → TFTP snponly.efi → iPXE → kernel + initrd over HTTP.
 * Needs root, /dev/net/tun, QEMU, OVMF, dnsmasq and the Debian kernel (test/run.sh installs the packages).
 *
 * The server sits behind the BootServer seam: to boot the same VMs from drover, change makeServer().
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { join } from "node:path";
import { tempDir } from "../helpers/cli";
import { DEFAULT_MARKER, NIC_MODULES, type TestKernel, buildBusyboxInitrd, testKernel } from "../helpers/initrd";
import { KernelUnavailable } from "../helpers/kernel";
import { Lab } from "../helpers/netns";
import { type BootServer, ReferenceBootServer, referenceAvailable } from "../helpers/reference-boot";
import { type Firmware, qemuAvailable, startVm } from "../helpers/vm";

const BOOT_TIMEOUT = 240_000;

const makeServer = (): BootServer => new ReferenceBootServer({ tuned: true, routerAdvertisements: true });

async function kernelOrReason(): Promise<TestKernel | string> {
  try {
    return await testKernel();
  } catch (e) {
    if (e instanceof KernelUnavailable) return `needs the Debian kernel: ${e.message}`;
    throw e;
  }
}

const missing = (bin: string, pkg: string) => (spawnSync(["which", bin]).exitCode !== 0 ? `needs ${bin}: apt-get install ${pkg}` : undefined);
const kernelWhy = missing("modinfo", "kmod") ?? missing("cpio", "cpio") ?? missing("busybox", "busybox-static");
const kernel = kernelWhy ?? (await kernelOrReason());
const imageWhy = typeof kernel === "string" ? kernel : undefined;
if (imageWhy) console.warn(`harness: initrd tests skipped: ${imageWhy}`);

describe.skipIf(!!imageWhy)("busybox initrd", () => {
  let t: ReturnType<typeof tempDir>;
  beforeAll(() => {
    t = tempDir("drover-initrd-");
  });
  afterAll(() => t?.cleanup());
  const list = (path: string) => {
    const r = spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -it --quiet', "sh", path]);
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return r.stdout.toString().split("\n").filter(Boolean);
  };
  const extract = (path: string, dir: string) => {
    const r = spawnSync([
      "sh",
      "-c",
      'mkdir -p "$2" && cd "$2" && gzip -dc "$1" | cpio -id --quiet --no-absolute-filenames 2>/dev/null; true',
      "sh",
      path,
      dir,
    ]);
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  };

  test("holds busybox with applet links, the NIC modules in load order, and an /init using them", async () => {
    const k = kernel as TestKernel;
    const path = await buildBusyboxInitrd({ kernel: k, out: join(t.dir, "a.cpio.gz") });
    const names = list(path);
    for (const n of ["init", "bin/busybox", "bin/sh", "sbin/udhcpc", "usr/bin/wget", "dev/console", "etc/udhcpc.script"]) expect(names).toContain(n);
    for (const m of NIC_MODULES) expect(names).toContain(`lib/modules/${m}.ko`);
    const dir = join(t.dir, "a");
    extract(path, dir);
    const init = await Bun.file(join(dir, "init")).text();
    const order = /for m in ([^;]+); do insmod/.exec(init)?.[1]?.split(" ") ?? [];
    expect(order).toEqual(NIC_MODULES);
    expect(init).toContain(`MARKER='${DEFAULT_MARKER}'`);
    // The modules are the kernel's own, uncompressed.
    const vermagic = spawnSync(["modinfo", "-F", "vermagic", join(dir, "lib/modules/virtio_net.ko")]).stdout.toString();
    expect(vermagic.startsWith(`${k.version} `)).toBe(true);
  });

  test("callback URL, marker, extra files and an /init override are honoured; same inputs give the same file", async () => {
    const k = kernel as TestKernel;
    const a = await buildBusyboxInitrd({ kernel: k, callbackUrl: "http://10.9.9.1:1/cb", marker: "HELLO-NODE" });
    const b = await buildBusyboxInitrd({ kernel: k, callbackUrl: "http://10.9.9.1:1/cb", marker: "HELLO-NODE" });
    expect(b).toBe(a);
    extract(a, join(t.dir, "b"));
    const init = await Bun.file(join(t.dir, "b", "init")).text();
    expect(init).toContain("CB='http://10.9.9.1:1/cb'");
    expect(init).toContain("MARKER='HELLO-NODE'");

    const c = await buildBusyboxInitrd({
      kernel: k,
      modules: ["e1000"],
      init: "#!/bin/sh\necho custom\n",
      extraFiles: { "/etc/drover/node.conf": "x=1\n", "sbin/tool": { data: "#!/bin/sh\n", mode: 0o755 } },
    });
    const names = list(c);
    expect(names).toContain("etc/drover/node.conf");
    expect(names).toContain("lib/modules/e1000.ko");
    expect(names).not.toContain("lib/modules/virtio_net.ko");
    extract(c, join(t.dir, "c"));
    expect(await Bun.file(join(t.dir, "c", "init")).text()).toBe("#!/bin/sh\necho custom\n");
  });
});

const vmWhy = imageWhy ?? Lab.unavailable() ?? qemuAvailable() ?? referenceAvailable();
if (vmWhy) console.warn(`harness: VM boot tests skipped: ${vmWhy}`);

describe.skipIf(!!vmWhy)("VMs netboot from the reference server to the node's callback", () => {
  let lab: Lab;
  let server: BootServer;
  let t: ReturnType<typeof tempDir>;
  const macs: Record<Exclude<Firmware, "uefi-arm64">, string> = { bios: "52:54:00:4a:00:01", uefi: "52:54:00:4a:00:02" };

  beforeAll(async () => {
    t = tempDir("drover-harness-");
    lab = await Lab.create();
    const k = kernel as TestKernel;
    server = makeServer();
    await server.start(lab, { kernel: k.vmlinuz, initrd: await buildBusyboxInitrd({ kernel: k }) });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await lab?.destroy();
    t?.cleanup();
  });

  for (const fw of ["bios", "uefi"] as const) {
    test(
      `${fw.toUpperCase()}: DHCP → TFTP ${fw === "bios" ? "undionly.kpxe" : "snponly.efi"} → iPXE → HTTP kernel + initrd → callback`,
      async () => {
        const mac = macs[fw];
        const vm = startVm({ lab, firmware: fw, mac, memoryMb: 512, serialLog: join(t.dir, `${fw}.log`) });
        let m: RegExpMatchArray;
        try {
          m = await vm.waitFor(new RegExp(`${DEFAULT_MARKER} mac=(\\S+) ip=(\\S+)`), BOOT_TIMEOUT - 10_000);
        } finally {
          await vm.stop();
        }
        const ip = m[2] ?? "";
        expect(m[1]).toBe(mac);
        expect(ip.startsWith(`${lab.subnet}.`)).toBe(true);
        // The server saw the same node call back, from the address the node says it has.
        const cb = await server.callbackSeen(mac);
        expect(cb).toMatchObject({ mac, ip, remote: ip });
        if (server instanceof ReferenceBootServer) {
          // Each leg really happened: the firmware's TFTP fetch, then kernel and initrd over HTTP from that node.
          const nbp = fw === "bios" ? "undionly.kpxe" : "snponly.efi";
          expect(server.dnsmasqLog()).toMatch(new RegExp(`sent \\S*/${nbp.replace(".", "\\.")} to ${ip.replaceAll(".", "\\.")}`));
          const paths = server
            .requests()
            .filter((r) => r.remote === ip && r.status === 200)
            .map((r) => r.path);
          expect(paths).toEqual(expect.arrayContaining(["/boot.ipxe", "/vmlinuz", "/initrd.img", "/callback"]));
          // BIOS: iPXE ran twice (QEMU's ROM, then undionly.kpxe), each fetching the script.
          if (fw === "bios") expect(paths.filter((p) => p === "/boot.ipxe").length).toBe(2);
        }
      },
      BOOT_TIMEOUT,
    );
  }

  test(
    "a boot that cannot load its kernel fails fast with the reason, not a timeout",
    async () => {
      // A second server on its own lab whose kernel file does not exist: iPXE's `kernel` gets a 404.
      const lab2 = await Lab.create();
      const broken = new ReferenceBootServer({ tuned: true, routerAdvertisements: true, biosViaTftp: false });
      try {
        await broken.start(lab2, { kernel: join(t.dir, "no-such-vmlinuz"), initrd: join(t.dir, "no-such-initrd") });
        const vm = startVm({ lab: lab2, firmware: "bios", mac: "52:54:00:4a:00:0f", serialLog: join(t.dir, "broken.log") });
        try {
          const err = await vm.waitFor(/DROVER-NODE-UP/, BOOT_TIMEOUT - 30_000).then(
            () => undefined,
            (e: Error) => e,
          );
          expect(err?.message).toMatch(/failed to boot: "DROVER-NODE-FAIL ipxe could not load the node image"/);
          expect(await broken.callbackSeen("52:54:00:4a:00:0f")).toBeUndefined();
        } finally {
          await vm.stop();
        }
      } finally {
        await broken.stop();
        await lab2.destroy();
      }
    },
    BOOT_TIMEOUT,
  );
});
