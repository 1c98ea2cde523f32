import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");

/**
 * Path of the compiled executable; builds it when missing (npm test builds it first anyway). DROVER_BINARY
 * names another build (one made with `bun build.ts --outfile PATH`, leaving dist/ alone).
 */
export function droverBinary(): string {
  if (process.env.DROVER_BINARY) return process.env.DROVER_BINARY;
  const bin = join(root, "dist/drover");
  if (!existsSync(bin)) {
    const r = Bun.spawnSync([process.execPath, join(root, "build.ts")], { cwd: root });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  }
  return bin;
}

/**
 * `drover -d DATA …` with the compiled executable, synchronously: its stdout, or an Error with its stderr
 * when it exits non-zero. For benchmarks and tests that script a head node step by step.
 */
export function droverIn(dataDir: string): (...args: string[]) => string {
  return (...args) => {
    const r = Bun.spawnSync([droverBinary(), "-d", dataDir, ...args]);
    if (r.exitCode !== 0) throw new Error(`drover ${args.join(" ")}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
}
