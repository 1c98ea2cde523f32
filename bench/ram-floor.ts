/**
 * The smallest VM memory that boots the real Debian 12 image (test/helpers/debian-image.ts), per boot path:
 *   one-stage initramfs   iPXE loads the gzip image; the kernel inflates it and the node runs in the initramfs
 *   one-stage tmpfs       the same, then /init copies the tree into a tmpfs and switch_roots
 *   two-stage             iPXE loads stage 1; stage 1 streams the image into a tmpfs
 * A boot counts as good when the node reaches its login prompt; bad on a kernel panic, an OOM kill, a
 * drover memory message or no prompt within the time limit. Bisection in --step MiB between --lo and --hi.
 * Prints each floor next to what `drover image show` says the image needs. BIOS (one-stage cannot load
 * this image under UEFI with Debian's iPXE), TCG, one VM at a time.
 *
 *   bun bench/ram-floor.ts [--modes initramfs,tmpfs,two-stage] [--lo 768] [--hi 3072] [--step 128]
 */
import { join } from "node:path";
import { droverIn } from "../test/helpers/binary";
import { tempDir } from "../test/helpers/cli";
import { debianRootfs } from "../test/helpers/debian-image";
import { startDroverIn } from "../test/helpers/drover-server";
import { Lab } from "../test/helpers/netns";
import { startVm } from "../test/helpers/vm";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const modes = arg("modes", "initramfs,tmpfs,two-stage").split(",");
const lo0 = Number(arg("lo", "512"));
const hi0 = Number(arg("hi", "3072"));
const step = Number(arg("step", "128"));
const LIMIT_MS = 8 * 60_000;
const MAC = "52:54:00:aa:0f:01";

const t = tempDir("drover-ramfloor-");
const data = join(t.dir, "data");
const drover = droverIn(data);

const img = await debianRootfs();
const lab = await Lab.create();
try {
  drover("image", "import", img.dir, "debian12");
  drover(
    "node",
    "add",
    "r1",
    `--ipaddr=${lab.subnet}.2`,
    "--netmask=255.255.255.0",
    `--hwaddr=${MAC}`,
    "--image=debian12",
    "--kernelargs",
    "console=ttyS0,115200",
  );
  const show = drover("image", "show", "debian12");
  console.log(show.trim());
  const server = await startDroverIn(lab, data, ["-i", "br0", "--port", "9873"]);
  const results: string[] = [];
  try {
    for (const mode of modes) {
      // drover.need=0 (first on the kernel line, so it wins) turns stage 1's RAM check off: the floor is measured,
      // not what drover would allow.
      if (mode === "two-stage")
        drover("node", "set", "r1", "--root", "tmpfs", "--tagadd", "bootmode=two-stage", "--kernelargs", "console=ttyS0,115200 drover.need=0");
      else drover("node", "set", "r1", "--root", mode, "--tagadd", "bootmode=one-stage", "--kernelargs", "console=ttyS0,115200");
      const boots = async (mb: number): Promise<{ ok: boolean; why: string; ms: number }> => {
        const vm = startVm({ lab, firmware: "bios", mac: MAC, memoryMb: mb, serialLog: join(t.dir, `${mode}-${mb}.log`) });
        try {
          await vm.waitFor(/on an x86_64 \(ttyS0\)|Out of memory|drover-stage1: .*memory|not enough memory|oom-kill/i, LIMIT_MS);
          const log = vm.log();
          const ok = /on an x86_64 \(ttyS0\)/.test(log) && !/Out of memory|oom-kill/i.test(log);
          const why = ok ? "login prompt" : (log.match(/.*(Out of memory|memory|oom-kill).*/i)?.[0] ?? "?").trim().slice(0, 160);
          return { ok, why, ms: Date.now() - vm.startedAt };
        } catch (e) {
          return { ok: false, why: ((e as Error).message.split("\n")[0] ?? "").slice(0, 160), ms: Date.now() - vm.startedAt };
        } finally {
          await vm.stop();
        }
      };
      let lo = lo0; // assumed bad until shown good
      let hi = hi0;
      const top = await boots(hi);
      console.log(`${mode}: ${hi} MiB → ${top.ok ? "boots" : `fails (${top.why})`} in ${(top.ms / 1000).toFixed(0)} s`);
      if (!top.ok) {
        results.push(`| ${mode} | > ${hi} MiB | ${top.why} |`);
        continue;
      }
      while (hi - lo > step) {
        const mid = Math.round((lo + hi) / 2 / step) * step;
        const r = await boots(mid);
        console.log(`${mode}: ${mid} MiB → ${r.ok ? "boots" : `fails (${r.why})`} in ${(r.ms / 1000).toFixed(0)} s`);
        if (r.ok) hi = mid;
        else lo = mid;
      }
      results.push(`| ${mode} | ${hi} MiB (fails at ${lo}) | |`);
    }
  } finally {
    await server.stop();
  }
  console.log(`\n| boot path | smallest VM memory that boots | note |\n|---|---|---|\n${results.join("\n")}`);
} finally {
  await lab.destroy();
  t.cleanup();
}
