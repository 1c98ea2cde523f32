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
