import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { conflict, invalid, notFound } from "../domain/errors";
import { OVERLAY_NAME } from "../domain/names";
import { cleanRel, resolveIn } from "../image/fspath";
import { atomicWrite } from "./atomic";
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

/** One entry of a Warewulf overlay directory being imported. */
export type WarewulfEntry =
  | { type: "file"; path: string; mode: number; uid: number; gid: number; data: Uint8Array }
  | { type: "dir"; path: string; mode: number; uid: number; gid: number }
  | { type: "symlink"; path: string; target: string; mode: number; uid: number; gid: number };

function checkName(name: string) {
  if (!OVERLAY_NAME.test(name)) throw invalid(`overlay name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_', '-', '+'`);
}

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
    const site = existsSync(this.siteRoot)
      ? readdirSync(this.siteRoot, { withFileTypes: true })
          .filter((e) => e.isDirectory() && OVERLAY_NAME.test(e.name))
          .map((e) => e.name)
      : [];
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

  // ---- editing site overlays (OverlayService checks who uses an overlay first where that matters) ----

  /** A path inside a site overlay, refusing `..`, NUL and symlinks that leave it. */
  private sitePath(name: string, file: string): { dir: string; rel: string; path: string } {
    checkName(name);
    let rel: string;
    try {
      rel = cleanRel(file);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    if (!rel) throw invalid("give a path inside the overlay, e.g. etc/motd.eta");
    const dir = this.siteDir(name);
    const path = resolveIn(dir, rel);
    if (!path.startsWith(`${dir}/`)) throw invalid(`${file} leaves overlay ${name}`);
    return { dir, rel, path };
  }

  /** Creates an empty site overlay. */
  create(name: string): string {
    checkName(name);
    if (this.exists(name))
      throw conflict(`overlay ${name} already exists${this.isBuiltin(name) ? " (built in; 'drover overlay edit' copies it to the site)" : ""}`);
    return this.ensureSite(name);
  }

  /** Deletes a site overlay whole (a built-in of the same name shows through again). */
  deleteSite(name: string): void {
    const dir = this.siteDir(name);
    const trash = `${dir}.deleted-${process.pid}`;
    renameSync(dir, trash);
    rmSync(trash, { recursive: true, force: true });
  }

  /** Deletes one file or directory of a site overlay (a directory with files in it only with `force`). */
  deletePath(name: string, file: string, force: boolean): void {
    const { path, rel } = this.sitePath(name, file);
    if (!existsSync(path)) throw notFound(`overlay ${name} has no ${rel} in the site copy`);
    if (statSync(path).isDirectory() && readdirSync(path).length && !force)
      throw invalid(`${rel} in overlay ${name} is a directory with files in it; pass --force to delete them too`);
    rmSync(path, { recursive: true });
  }

  /** Whether a site overlay of this name exists. */
  hasSite(name: string): boolean {
    return OVERLAY_NAME.test(name) && existsSync(this.siteDir(name));
  }

  /** Writes a file into the site copy of an overlay (copying a built-in first), atomically. */
  writeFile(name: string, file: string, data: Uint8Array | string, opts: { mode?: number; uid?: number; gid?: number } = {}): string {
    this.ensureSite(name);
    const { path, rel } = this.sitePath(name, file);
    const mode = opts.mode ?? (existsSync(path) ? statSync(path).mode & 0o7777 : 0o644);
    atomicWrite(path, data, {
      mode,
      dirMode: 0o755,
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
    return rel;
  }

  mkdir(name: string, dir: string, mode = 0o755): void {
    this.ensureSite(name);
    const { path } = this.sitePath(name, dir);
    mkdirSync(path, { recursive: true, mode });
    chmodSync(path, mode);
  }

  chmod(name: string, file: string, mode: number): void {
    this.ensureSite(name);
    const { path, rel } = this.sitePath(name, file);
    if (!existsSync(path)) throw notFound(`overlay ${name} has no ${rel}`);
    chmodSync(path, mode);
  }

  chown(name: string, file: string, uid: number, gid: number): void {
    this.ensureSite(name);
    const { path, rel } = this.sitePath(name, file);
    if (!existsSync(path)) throw notFound(`overlay ${name} has no ${rel}`);
    chownSync(path, uid, gid);
  }

  /**
   * Makes a site overlay of entries read by readWarewulfOverlay, replacing a site overlay of that name whole
   * (a Warewulf site overlay shadows the distribution's whole, as drover's do): built in a temporary directory
   * and renamed into place, so a node never sees half an overlay. `.ww` templates are kept: drover renders
   * them with Go's template semantics.
   */
  writeSiteOverlay(name: string, entries: readonly WarewulfEntry[]): { replaced: boolean } {
    checkName(name);
    const dir = this.siteDir(name);
    const tmp = `${dir}.import-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    try {
      for (const e of entries) {
        const p = resolveIn(tmp, cleanRel(e.path));
        if (!p.startsWith(`${tmp}/`)) throw invalid(`${e.path} leaves overlay ${name}`);
        if (e.type === "dir") mkdirSync(p, { recursive: true, mode: e.mode });
        else if (e.type === "symlink") symlinkSync(e.target, p);
        else writeFileSync(p, e.data, { mode: e.mode });
        if (e.type !== "symlink") chmodSync(p, e.mode);
        lchownSync(p, e.uid, e.gid);
      }
      const replaced = existsSync(dir);
      mkdirSync(dirname(dir), { recursive: true });
      if (replaced) {
        const old = `${dir}.replaced-${process.pid}`;
        renameSync(dir, old);
        renameSync(tmp, dir);
        rmSync(old, { recursive: true, force: true });
      } else renameSync(tmp, dir);
      return { replaced };
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
}

/**
 * Reads a Warewulf overlay directory (`NAME/rootfs/…` since Warewulf 4.5, `NAME/…` before) into memory:
 * files, directories and symlinks with their modes and owners. Throws (invalid) on what cannot be read,
 * before anything is written; other file types (devices, sockets) are left out with a note.
 */
export function readWarewulfOverlay(dir: string): { root: string; entries: WarewulfEntry[]; notes: string[] } {
  const root = existsSync(join(dir, "rootfs")) && statSync(join(dir, "rootfs")).isDirectory() ? join(dir, "rootfs") : dir;
  const entries: WarewulfEntry[] = [];
  const notes: string[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(join(root, rel)).sort();
    } catch (e) {
      throw invalid(`cannot read ${join(root, rel)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const p = join(root, r);
      const st = lstatSync(p);
      const own = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        entries.push({ type: "dir", path: r, ...own });
        walk(r);
      } else if (st.isSymbolicLink()) entries.push({ type: "symlink", path: r, target: readlinkSync(p), ...own });
      else if (st.isFile()) {
        try {
          entries.push({ type: "file", path: r, data: new Uint8Array(readFileSync(p)), ...own });
        } catch (e) {
          throw invalid(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      } else notes.push(`${p} is not a file, directory or symlink: left out`);
    }
  };
  walk("");
  return { root, entries, notes };
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
