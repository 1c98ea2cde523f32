/**
 * BootFiles implementations: the read-only trees the TFTP server and the HTTP boot routes serve.
 *
 * - embeddedIpxeFiles(): the iPXE binaries compiled into the executable (assets/ipxe, see SOURCES.md).
 * - dirBootFiles(dir): a directory on disk, for `--ipxe-dir DIR` (custom or arm64 iPXE builds).
 *
 * Both re-check names with the shared sanitiser (defence in depth: the interface says callers sanitise, but a
 * file tree should not depend on every caller remembering to). The directory tree also refuses names whose
 * real path leaves the directory through a symlink, and anything that is not a regular file.
 */
import { readdirSync, realpathSync, statSync } from "node:fs";
import { sep } from "node:path";
import { embeddedIpxeSets } from "../../assets/ipxe/embedded";
import type { IpxeSetName } from "../../assets/ipxe/sets";
import type { BootFiles } from "./ports";
import { sanitizeBootPath } from "./sanitize";

export type BootFile = { size: number; data: Uint8Array };

function clean(name: string): string | undefined {
  const r = sanitizeBootPath(name);
  return r.ok && r.name === name ? r.name : undefined;
}

/** A fixed in-memory tree (tests, and the base of the embedded set). */
export function memoryBootFiles(entries: Record<string, Uint8Array>): BootFiles {
  const map = new Map(Object.entries(entries));
  return {
    async open(name) {
      const n = clean(name);
      const data = n === undefined ? undefined : map.get(n);
      return data ? { size: data.length, data } : undefined;
    },
    async list() {
      return [...map.keys()].sort();
    },
  };
}

/**
 * The embedded iPXE binaries of one set (`current`, the default, or `debian-2019` for comparison). Each is
 * read from the executable once, on first request, and kept in memory (about 2.8 MB for all of `current`).
 */
export function embeddedIpxeFiles(set: IpxeSetName = "current"): BootFiles {
  const embeddedIpxe = embeddedIpxeSets[set];
  const cache = new Map<string, Promise<Uint8Array>>();
  return {
    async open(name) {
      const n = clean(name);
      const path = n === undefined ? undefined : embeddedIpxe[n];
      if (n === undefined || path === undefined) return undefined;
      let p = cache.get(n);
      if (!p) {
        p = Bun.file(path).bytes();
        cache.set(n, p);
        p.catch(() => cache.delete(n));
      }
      const data = await p;
      return { size: data.length, data };
    },
    async list() {
      return Object.keys(embeddedIpxe).sort();
    },
  };
}

export class BootDirError extends Error {}

/**
 * Files under `dir`. Contents are cached in memory keyed by (size, mtime), so a boot storm reads each file
 * from disk once while an edited file is picked up on the next request. The cache holds at most
 * `cacheBytes` (default 256 MB); larger files are read per request.
 */
export function dirBootFiles(dir: string, opts: { cacheBytes?: number } = {}): BootFiles {
  let root: string;
  try {
    root = realpathSync(dir);
    if (!statSync(root).isDirectory()) throw new Error("not a directory");
  } catch (e) {
    throw new BootDirError(`boot file directory ${dir} cannot be used (${(e as Error).message}); give an existing directory of iPXE builds`);
  }
  const limit = opts.cacheBytes ?? 256 * 1024 * 1024;
  const cache = new Map<string, { size: number; mtimeMs: number; data: Uint8Array }>();
  let cached = 0;

  function resolve(name: string): string | undefined {
    const n = clean(name);
    if (n === undefined) return undefined;
    let real: string;
    try {
      real = realpathSync(`${root}/${n}`);
    } catch {
      return undefined;
    }
    return real.startsWith(root + sep) ? real : undefined;
  }

  return {
    async open(name) {
      const path = resolve(name);
      if (!path) return undefined;
      let s: ReturnType<typeof statSync>;
      try {
        s = statSync(path);
      } catch {
        return undefined;
      }
      if (!s.isFile()) return undefined;
      const hit = cache.get(path);
      if (hit && hit.size === s.size && hit.mtimeMs === s.mtimeMs) return { size: hit.data.length, data: hit.data };
      const data = await Bun.file(path).bytes();
      if (hit) {
        cache.delete(path);
        cached -= hit.data.length;
      }
      if (data.length === s.size && cached + data.length <= limit) {
        cache.set(path, { size: s.size, mtimeMs: s.mtimeMs, data });
        cached += data.length;
      }
      return { size: data.length, data };
    },
    async list() {
      const out: string[] = [];
      const walk = (rel: string) => {
        for (const e of readdirSync(rel ? `${root}/${rel}` : root, { withFileTypes: true })) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walk(r);
          else if (resolve(r)) out.push(r);
        }
      };
      walk("");
      return out.sort();
    },
  };
}
