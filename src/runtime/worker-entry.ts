import { readdirSync } from "node:fs";

/**
 * A Worker's entrypoint: `source` (e.g. "./dataplane.ts") resolved against the caller's module when drover
 * runs from source; in a compiled executable, the bundle of it that build.ts added as an extra entrypoint,
 * found by file name (`dataplane.js`) in the executable's embedded file system, in whatever directory the
 * build's root put it. A missing one is a clear error naming what to add to build.ts.
 */
export function workerEntry(callerUrl: string, source: string, what: string): string {
  if (!callerUrl.includes("/$bunfs/")) return new URL(source, callerUrl).href;
  const name = `${source.replace(/^.*\//, "").replace(/\.ts$/, "")}.js`;
  const find = (dir: string, depth: number): string | undefined => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isFile() && e.name === name) return p;
      if (e.isDirectory() && depth < 8) {
        const hit = find(p, depth + 1);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  const hit = find("/$bunfs/root", 0);
  if (!hit) throw new Error(`this executable was built without ${what} (${source.replace(/^\.\//, "")} must be a build entrypoint; see build.ts)`);
  return hit;
}
