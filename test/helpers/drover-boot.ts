/**
 * drover as a BootServer (the seam test/helpers/reference-boot.ts defines), so the boot benchmark and tests
 * can run drover and the reference stack side by side. It imports the test's initrd (unpacked, with the
 * kernel in /boot) as a drover image, and registers unknown VMs by discovery, as the reference's dnsmasq
 * serves any MAC from its pool.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { droverBinary } from "./binary";
import { tempDir } from "./cli";
import { type DroverProcess, startDroverIn } from "./drover-server";
import type { Lab } from "./netns";
import type { BootFiles, BootServer, CallbackRecord } from "./reference-boot";

/** Makes a drover image from a gzip'd cpio initrd and a kernel; returns the drover CLI runner for `dataDir`. */
export function importInitrdAsImage(dataDir: string, workDir: string, kernel: string, kernelVersion: string, initrd: string, name = "busybox") {
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([droverBinary(), "-d", dataDir, ...args]);
    if (r.exitCode !== 0) throw new Error(`drover ${args.join(" ")}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  const root = join(workDir, `rootfs-${name}`);
  mkdirSync(join(root, "boot"), { recursive: true });
  const x = Bun.spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -idm --quiet', "sh", initrd], { cwd: root });
  if (x.exitCode !== 0) throw new Error(`unpacking ${initrd}: ${x.stderr.toString()}`);
  copyFileSync(kernel, join(root, "boot", `vmlinuz-${kernelVersion}`));
  run("image", "import", root, name);
  return run;
}

export class DroverBootServer implements BootServer {
  readonly name = "drover";
  private t = tempDir("drover-bootserver-");
  private server?: DroverProcess;
  private run?: (...args: string[]) => string;

  constructor(private readonly kernelVersion: string) {}

  async start(lab: Lab, files: BootFiles): Promise<void> {
    const data = join(this.t.dir, "data");
    this.run = importInitrdAsImage(data, this.t.dir, files.kernel, this.kernelVersion, files.initrd);
    const args = [`console=ttyS0`, `drover.callback=http://${lab.serverIp}:9873/callback`, ...(files.kernelArgs ? files.kernelArgs.split(/\s+/) : [])];
    this.run("profile", "add", "bench", "--image", "busybox", "--kernelargs", args.join(" "));
    this.server = await startDroverIn(lab, data, [
      "-i",
      lab.bridge,
      "--port",
      "9873",
      "--discovery",
      "--register-pattern",
      "vm[001-250]",
      "--register-range",
      `${lab.subnet}.100-${lab.subnet}.250`,
      "--register-profile",
      "bench",
    ]);
  }

  async callbackSeen(mac: string): Promise<CallbackRecord | undefined> {
    if (!this.run) return undefined;
    const nodes = JSON.parse(this.run("node", "list", "--json")) as {
      name: string;
      conf: { networkDevices?: Record<string, { hwaddr?: string; ipaddr?: string }> };
    }[];
    const node = nodes.find((n) => Object.values(n.conf.networkDevices ?? {}).some((d) => d.hwaddr === mac.toLowerCase()));
    if (!node) return undefined;
    const [s] = JSON.parse(this.run("node", "status", node.name, "--json")) as { stages?: Record<string, number>; address?: string }[];
    const at = s?.stages?.booted;
    if (!at) return undefined;
    return { mac: mac.toLowerCase(), ip: Object.values(node.conf.networkDevices ?? {})[0]?.ipaddr ?? "", remote: s?.address ?? "", at };
  }

  log(): string {
    return this.server?.log() ?? "";
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.t.cleanup();
  }
}
