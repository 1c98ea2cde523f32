import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");

/** Path of the compiled executable; builds it when missing (npm test builds it first anyway). */
export function droverBinary(): string {
  const bin = join(root, "dist/drover");
  if (!existsSync(bin)) {
    const r = Bun.spawnSync([process.execPath, join(root, "build.ts")], { cwd: root });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  }
  return bin;
}
