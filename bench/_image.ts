import { spawnSync } from "bun";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { root } from "./_util";

export const WORK = join(root, "bench/.work");

/**
 * A ~500 MB root filesystem for the image benchmarks, copied once from the host's /usr (real binaries,
 * libraries, docs: a realistic mix of sizes) into bench/.work/rootfs-500, plus busybox as /bin/sh.
 */
export function rootfs500(): string {
  const dir = join(WORK, "rootfs-500");
  if (existsSync(join(dir, "bin/sh"))) return dir;
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "usr"), { recursive: true });
  for (const d of ["/usr/bin", "/usr/share"]) spawnSync(["cp", "-a", d, join(tmp, "usr")]);
  mkdirSync(join(tmp, "bin"));
  spawnSync(["cp", "/bin/busybox", join(tmp, "bin/sh")]);
  renameSync(tmp, dir);
  return dir;
}

export function du(dir: string): number {
  return Number(spawnSync(["du", "-sb", dir]).stdout.toString().split("\t")[0]);
}

/** The compiled drover used by the image benchmarks (built privately so dist/ is not disturbed). */
export function droverBin(): string {
  const out = join(WORK, "drover");
  const r = spawnSync(["bun", "build.ts", "--outfile", out], { cwd: root, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  return out;
}

import { readdirSync, readFileSync } from "node:fs";

/** RSS (bytes) of pid and all its descendants, read from /proc. */
function treeRss(pid: number): number {
  const kids = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(f[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
      rss.set(Number(d), Number(f[21]) * 4096);
    } catch {}
  }
  let sum = 0;
  const walk = (p: number) => {
    sum += rss.get(p) ?? 0;
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return sum;
}

/**
 * Runs a command and samples the peak RSS of its whole process tree every 50 ms (a pipeline's cpio and
 * pigz, drover's Workers, skopeo's children all count). Wall time in ms, peak in MB.
 */
export async function timedTree(cmd: string[], cwd?: string): Promise<{ ms: number; peakMb: number }> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { cwd, stdout: "ignore", stderr: "pipe" });
  let peak = 0;
  const iv = setInterval(() => {
    peak = Math.max(peak, treeRss(p.pid));
  }, 50);
  const code = await p.exited;
  clearInterval(iv);
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${(await new Response(p.stderr as ReadableStream).text()).slice(0, 400)}`);
  return { ms, peakMb: peak / 1e6 };
}
