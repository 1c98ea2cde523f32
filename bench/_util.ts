import { join } from "node:path";

export const root = join(import.meta.dir, "..");
export const drover = join(root, "dist/drover");

/** Runs a command to completion; returns wall time and the child's peak RSS. */
export function timed(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const t0 = performance.now();
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().slice(0, 500)}`);
  return { ms, maxRssMb: (r.resourceUsage?.maxRSS ?? 0) / 1024 / 1024, stdout: r.stdout };
}

export function median(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
