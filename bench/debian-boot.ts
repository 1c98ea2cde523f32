/**
 * One real Debian 12 node (test/helpers/debian-image.ts), booted through `drover serve` as the lab write-up
 * adds it, timed from QEMU's start: where the time goes on the serial console, and when drover recorded the
 * node as booted. For before/after figures of a change: run it with two builds (DROVER_BINARY=… for the
 * other one) in the same session.
 *
 *   bun bench/debian-boot.ts [--firmware bios|uefi] [--mode auto|one-stage|two-stage] [--root initramfs|tmpfs]
 *                            [--rounds 1] [--memory 3072] [--netdev eth0] [--runtime-overlays LIST]
 * --netdev and --runtime-overlays exist for builds from before issue 11 (which needed a device name, and
 * refused syncuser on a Debian head node). TCG, one VM at a time; the 1-minute load is printed per boot.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { droverBinary, droverIn } from "../test/helpers/binary";
import { tempDir } from "../test/helpers/cli";
import { debianRootfs } from "../test/helpers/debian-image";
import { startDroverIn } from "../test/helpers/drover-server";
import { Lab } from "../test/helpers/netns";
import { type Firmware, startVm } from "../test/helpers/vm";
import { median } from "./_util";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}
const firmware = arg("firmware", "bios") as Firmware;
const mode = arg("mode", "auto");
const root = arg("root", "");
const rounds = Number(arg("rounds", "1"));
const memory = Number(arg("memory", "3072"));
const netdev = arg("netdev", "");
const runtime = arg("runtime-overlays", "");
const MAC = "52:54:00:aa:0e:01";

const MARKS: [string, RegExp][] = [
  ["script", /drover: booting c1/],
  ["linux", /Linux version/],
  ["stage1", /drover-stage1: node /],
  ["initrd freed", /Freeing initrd memory/],
  ["image in place", /drover-stage1: image in place/],
  ["init", /drover-init: node c1/],
  ["systemd", /Welcome to .*Debian/],
  ["login", /on an x86_64 \(ttyS0\)/],
];

const t = tempDir("drover-debboot-");
const data = join(t.dir, "data");
const drover = droverIn(data);
const img = await debianRootfs();
const lab = await Lab.create();
const totals: number[] = [];
try {
  const b0 = Date.now();
  drover("image", "import", img.dir, "debian12");
  console.log(`binary ${droverBinary()} (${drover("version").trim().split("\n")[0]}); import + build ${((Date.now() - b0) / 1000).toFixed(1)} s`);
  drover("node", "add", "c1", `--ipaddr=${lab.subnet}.2`, "--netmask=255.255.255.0", `--hwaddr=${MAC}`, ...(netdev ? [`--netdev=${netdev}`] : []));
  drover("node", "set", "c1", "--image=debian12", ...(root ? ["--root", root] : []), ...(mode !== "auto" ? ["--tagadd", `bootmode=${mode}`] : []));
  drover("profile", "set", "default", "--kernelargs", "console=ttyS0,115200", ...(runtime ? [`--runtime-overlays=${runtime}`] : []));
  const server = await startDroverIn(lab, data, ["-i", "br0", "--port", "9873"]);
  try {
    for (let r = 0; r < rounds; r++) {
      const load = loadavg()[0]!.toFixed(1);
      const vm = startVm({ lab, firmware, mac: MAC, memoryMb: memory, serialLog: join(t.dir, `boot-${r}.log`) });
      try {
        await vm.waitFor(/on an x86_64 \(ttyS0\)/, 10 * 60_000);
        let booted = 0;
        for (const end = Date.now() + 120_000; Date.now() < end && !booted; await Bun.sleep(250)) {
          const s = JSON.parse(drover("node", "status", "c1", "--json"))[0];
          if (s?.state === "booted") booted = Date.now();
        }
        const lines = vm.lines();
        const at = (re: RegExp) => lines.find((l) => re.test(l.text))?.at;
        const parts = MARKS.map(([name, re]) => [name, at(re)] as const)
          .filter(([, a]) => a !== undefined)
          .map(([name, a]) => `${name} ${((a! - vm.startedAt) / 1000).toFixed(1)}`);
        const login = at(/on an x86_64 \(ttyS0\)/)! - vm.startedAt;
        totals.push(login);
        const inPlace = lines.find((l) => /image in place/.test(l.text))?.text;
        console.log(
          `round ${r + 1} (load ${load}): ${parts.join(" → ")} s; drover: booted at ${booted ? ((booted - vm.startedAt) / 1000).toFixed(1) : "never"} s${inPlace ? `\n  ${inPlace}` : ""}`,
        );
      } finally {
        await vm.stop();
      }
    }
  } finally {
    await server.stop();
  }
  console.log(
    `${firmware} ${mode}${root ? ` root=${root}` : ""}: power-on → login prompt, median of ${totals.length}: ${(median(totals) / 1000).toFixed(1)} s`,
  );
} finally {
  await lab.destroy();
  t.cleanup();
}
