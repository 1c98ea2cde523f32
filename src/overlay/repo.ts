import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { OVERLAY_NAME } from "../domain/names";
import { BUILTIN_DIRS, BUILTIN_FILES } from "./builtin/index";

/**
 * Where overlays come from: the built-ins embedded in the executable, and site overlays under
 * `<dataDir>/overlays/NAME/`. A site overlay shadows the built-in of the same name whole (as Warewulf's
 * site overlays do); editing a built-in first copies it to the site.
 */

export type OverlayEntry =
  | { type: "file"; path: string; mode: number; uid: number; gid: number; data: Uint8Array }
  | { type: "dir"; path: string; mode: number; uid: number; gid: number }
  | { type: "symlink"; path: string; target: string; uid: number; gid: number };

export interface OverlayTree {
  name: string;
  origin: "built-in" | "site";
  /** The site directory (site overlays). */
  dir?: string;
  entries: OverlayEntry[];
  /** Changes whenever any entry's content, mode or owner changes. */
  fingerprint: string;
  /**
   * From the overlay's `.drover-requires` file: the overlay is built for a node only when the node's image
   * has at least one of these paths (e.g. the NetworkManager overlay needs usr/sbin/NetworkManager);
   * otherwise it is skipped with a note. Undefined: no condition.
   */
  requires?: string[];
}

/** The metadata file naming the image paths an overlay needs (one per line, any one of them is enough). */
export const REQUIRES_FILE = ".drover-requires";

/** Files of an overlay that describe it and are not copied to nodes. */
export const isMetaFile = (path: string) => path === REQUIRES_FILE || path === ".drover-modes";

/** The paths of a `.drover-requires` file: one per line, relative to the image root; `#` starts a comment. */
export function parseRequires(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim().replace(/^\/+/, ""))
    .filter(Boolean);
}

function withRequires(t: OverlayTree): OverlayTree {
  const e = t.entries.find((x) => x.type === "file" && x.path === REQUIRES_FILE);
  if (e && e.type === "file") t.requires = parseRequires(new TextDecoder().decode(e.data));
  return t;
}

export { OVERLAY_NAME };

const enc = new TextEncoder();

function builtins(): Map<string, OverlayTree> {
  const map = new Map<string, OverlayTree>();
  const get = (name: string) => {
    let t = map.get(name);
    if (!t) map.set(name, (t = { name, origin: "built-in", entries: [], fingerprint: "" }));
    return t;
  };
  for (const d of BUILTIN_DIRS) get(d.overlay).entries.push({ type: "dir", path: d.path, mode: d.mode, uid: 0, gid: 0 });
  for (const f of BUILTIN_FILES) get(f.overlay).entries.push({ type: "file", path: f.path, mode: f.mode, uid: 0, gid: 0, data: enc.encode(f.text) });
  for (const t of map.values()) {
    const h = createHash("sha256");
    for (const e of t.entries) h.update(`${e.type}\0${e.path}\0${"mode" in e ? e.mode : 0}\0`).update(e.type === "file" ? e.data : "");
    t.fingerprint = `b:${h.digest("hex").slice(0, 32)}`;
    withRequires(t);
  }
  return map;
}

const BUILTINS = builtins();

export function builtinNames(): string[] {
  return [...BUILTINS.keys()].sort();
}

export class OverlayRepo {
  /** Site trees read from disk, reused while their stat fingerprint holds. */
  private readonly siteCache = new Map<string, OverlayTree>();

  constructor(readonly siteRoot: string) {}

  siteDir(name: string): string {
    return join(this.siteRoot, name);
  }

  names(): { name: string; origin: "built-in" | "site"; shadows: boolean }[] {
    const site = existsSync(this.siteRoot) ? readdirSync(this.siteRoot, { withFileTypes: true }).filter((e) => e.isDirectory() && OVERLAY_NAME.test(e.name)).map((e) => e.name) : [];
    const all = new Set([...BUILTINS.keys(), ...site]);
    return [...all].sort().map((name) => ({ name, origin: site.includes(name) ? "site" : "built-in", shadows: site.includes(name) && BUILTINS.has(name) }));
  }

  exists(name: string): boolean {
    return OVERLAY_NAME.test(name) && (existsSync(this.siteDir(name)) || BUILTINS.has(name));
  }

  isBuiltin(name: string): boolean {
    return BUILTINS.has(name);
  }

  /** The overlay as it is now, or undefined. Site trees are re-read only when a stat signature changed. */
  get(name: string): OverlayTree | undefined {
    if (!OVERLAY_NAME.test(name)) return undefined;
    const dir = this.siteDir(name);
    if (existsSync(dir)) {
      const stats = statTree(dir);
      const fp = `s:${createHash("sha256").update(stats.sig).digest("hex").slice(0, 32)}`;
      const hit = this.siteCache.get(name);
      if (hit && hit.fingerprint === fp) return hit;
      const tree = withRequires({ name, origin: "site", dir, entries: readTree(dir, stats.paths), fingerprint: fp });
      this.siteCache.set(name, tree);
      return tree;
    }
    return BUILTINS.get(name);
  }

  /** Makes sure a site copy exists (copying the built-in first) and returns its directory. */
  ensureSite(name: string): string {
    const dir = this.siteDir(name);
    if (existsSync(dir)) return dir;
    const b = BUILTINS.get(name);
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    if (b) {
      for (const e of b.entries) {
        const p = join(tmp, e.path);
        if (e.type === "dir") mkdirSync(p, { recursive: true, mode: e.mode });
        else if (e.type === "file") {
          mkdirSync(dirname(p), { recursive: true });
          writeFileSync(p, e.data, { mode: e.mode });
        }
      }
    }
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(tmp, dir);
    return dir;
  }

  /** Copies a site overlay to a new name (used by tests and `overlay create --from`). */
  copySite(from: string, to: string) {
    cpSync(this.ensureSite(from), this.siteDir(to), { recursive: true, preserveTimestamps: true });
  }
}

/** Stats every entry below dir: a signature (path, type, mode, owner, size, mtime, ctime, inode) and the paths. */
function statTree(dir: string): { sig: string; paths: string[] } {
  const parts: string[] = [];
  const paths: string[] = [];
  const walk = (rel: string) => {
    const names = readdirSync(join(dir, rel)).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(dir, r), { bigint: true });
      parts.push(`${r}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.ino}`);
      paths.push(r);
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return { sig: parts.join("\n"), paths };
}

function readTree(dir: string, paths: string[]): OverlayEntry[] {
  const out: OverlayEntry[] = [];
  for (const r of paths) {
    const p = join(dir, r);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push({ type: "dir", path: r, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    else if (st.isSymbolicLink()) out.push({ type: "symlink", path: r, target: readlinkSync(p), uid: st.uid, gid: st.gid });
    else if (st.isFile()) out.push({ type: "file", path: r, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, data: new Uint8Array(readFileSync(p)) });
  }
  return out;
}
