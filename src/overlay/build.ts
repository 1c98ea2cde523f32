import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Conf } from "../domain/conf";
import { resolveIn } from "../image/fspath";
import { type CpioEntry, packCpio } from "./cpio";
import { type NodeView, type PeerView, type ServerView, maskedData, nodeView } from "./data";
import { type OverlayEntry, type OverlayTree, isMetaFile } from "./repo";
import { mergeAccounts } from "./syncuser";
import { type NativeRender, nativeFor } from "./native";
import { RenderTimeout, fmtMs, runLimited } from "./sandbox";
import {
  MissingValue,
  RenderContext,
  type RenderResult,
  type RenderedFile,
  TEMPLATE_SUFFIX,
  TemplateError,
  WAREWULF_SUFFIX,
  renderTimeLimit,
  renderTimedOut,
} from "./template";
import { gzipSync } from "node:zlib";
import { WwError, defaultSettings, renderWarewulf } from "./warewulf";

/**
 * Renders and packs one node's overlays into a gzip'd newc archive.
 *
 * Cost grows with what changed, not with N²: a template whose render read nothing node-specific (it used
 * only `allNodes`, `server`, `build` and head-node files — the hosts file, root's authorized keys) is
 * rendered once per snapshot and its files packed and compressed once; every node's archive then starts
 * with that shared gzip member, followed by a member holding the node's own files and the trailer.
 * Concatenated gzip members decompress to one cpio stream, which the kernel and `cpio -i` both read.
 */

/** An input read from outside the node document: a head-node file, an image file, a host key. */
export interface Dep {
  path: string;
  /** inode, size, mtime and ctime (ns), or "missing". ctime cannot be set back by a user. */
  sig: string;
}

export function depSig(path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return "missing";
  }
}

export function depsCurrent(deps: readonly Dep[]): boolean {
  for (const d of deps) if (depSig(d.path) !== d.sig) return false;
  return true;
}

/** The world outside the node store that templates may read. */
export interface HostEnv {
  /** Root of the head node's files for it.include() ("/" in production, a fixture in tests). */
  headRoot: string;
  /** An image's root directory, or undefined when the image does not exist. */
  imageRoot(image: string): string | undefined;
  /** Directory of the node's generated secrets (`<dataDir>/nodes/NAME`). */
  nodeSecretsDir(node: string): string;
  /** Creates a host key pair (private key at `path`, public at `path.pub`) when missing. */
  ensureHostKey(path: string, type: string, node: string): void;
  /** drover's data directory, which it.include() refuses to read (its database, other nodes' keys). */
  dataDir?: string;
  /** drover's version and the head node's name, for `it.build`. */
  version: string;
  host: string;
}

export interface NodeInput {
  name: string;
  conf: Conf;
  profiles: readonly string[];
}

/** What every node of one build batch shares: all nodes' peer views and the server, hashed. */
export interface Snapshot {
  peers: PeerView[];
  peersHash: string;
  server: ServerView;
  serverHash: string;
  /** Node-independent template outputs of this snapshot, by overlay fingerprint + template path. */
  memo: Map<string, Shared>;
}

interface Shared {
  files: RenderedFile[];
  deps: Dep[];
  usesAll: boolean;
  /** The files packed (no trailer) and gzip'd, once. */
  gz?: Uint8Array;
  /** The batch whose first use checked `deps`. */
  checked?: object;
  /** sha256 of `gz`: its name in the archive cache and its part of the ETag. */
  digest?: string;
}

export class OverlayBuildError extends Error {}

/**
 * Thrown (or given as a TemplateError's cause) when a build thread cannot do a job alone (build-worker.ts):
 * never a problem of the overlay, so never isolated to it.
 */
export class DeferToCaller extends Error {}

/**
 * What a build left out and why, kept with the archive and shown by `overlay build`, `overlay lint`,
 * `node list -l` and `node status`:
 * - `skipped`: the overlay is for something the node's image does not have (its `.drover-requires`);
 * - `error`: a runtime overlay that could not be built (a template's failure); the rest of the archive was;
 * - `note`: a template built but left something out (syncuser: an account it could not align).
 */
export interface ArchiveNote {
  overlay: string;
  level: "skipped" | "error" | "note";
  message: string;
}

/** Keys a template may read and still be shared by every node. */
const SHARED_KEYS = new Set(["allNodes", "server", "build", "include", "file", "softlink", "abort", "nobackup", "opt", "sh", "fail"]);

/** A gzip member that many nodes' archives share, named by the sha256 (hex) of its bytes. */
export interface SharedMember {
  digest: string;
  gz: Uint8Array;
}

export interface BuiltArchive {
  /** The shared members, in order; the archive is these followed by `own`. */
  shared: SharedMember[];
  /** The node's own files and the trailer, one gzip member. */
  own: Uint8Array;
  size: number;
  /** Changes whenever the bytes do. */
  etag: string;
  deps: Dep[];
  /** Some template read `allNodes`: the archive is stale when any node changes. */
  usesAll: boolean;
  files: number;
  /** What went in, by path: the overlay that won. */
  manifest: { path: string; overlay: string; type: string; mode?: number }[];
  /** Overlays skipped or dropped, and what templates left out. */
  notes: ArchiveNote[];
}

export interface BuildOptions {
  /**
   * A template's failure drops only its overlay (recorded as an `error` note) instead of failing the whole
   * archive. Runtime archives: the agent keeps polling, and one broken overlay (syncuser on an odd image)
   * must not withhold root's keys and the hosts file. System archives fail whole: a node without its init
   * or network configuration would boot wrong rather than not at all.
   */
  isolate?: boolean;
}

/** The image paths in `requires` that exist (the first), or undefined; every path looked at becomes a dependency. */
function imageHasAny(root: string, requires: readonly string[], deps: Dep[]): string | undefined {
  for (const r of requires) {
    let p: string;
    try {
      p = resolveIn(root, r, true);
    } catch {
      continue;
    }
    deps.push({ path: p, sig: depSig(p) });
    if (p.startsWith(root) && existsSync(p)) return r;
  }
  return undefined;
}

const sq = (v: unknown): string => {
  if (v === undefined || v === null) throw new MissingValue("it.sh() was given an unset value");
  return `'${String(v).replace(/'/g, `'\\''`)}'`;
};

/**
 * Head-node files a template may not read, even though drover runs as root: password hashes, the head's
 * private SSH host keys, drover's own data (its database holds the web accounts; other nodes' keys), and
 * the kernel's pseudo file systems. Relative to the head root, after symlinks are resolved.
 */
const HEAD_REFUSED = [/^etc\/g?shadow-?$/, /^etc\/ssh\/ssh_host_[^/]*_key$/, /^(proc|sys|dev|run)(\/|$)/, /^var\/lib\/drover(\/|$)/];

/** The most a template may read of one outside file. */
const MAX_INCLUDE = 16 * 1024 * 1024;

/** Reads a regular file of at most MAX_INCLUDE bytes (never a device, a FIFO, or /dev/zero's endless data). */
function readRegular(p: string, what: string): string {
  const st = statSync(p);
  if (!st.isFile()) throw new MissingValue(`${what} is not a regular file`);
  if (st.size > MAX_INCLUDE) throw new MissingValue(`${what} is ${st.size} bytes, more than the ${MAX_INCLUDE / 1024 / 1024} MiB a template may read`);
  return readFileSync(p, "utf8");
}

/** Refuses a resolved head-node path (resolveIn's answer) of HEAD_REFUSED or drover's data dir; `what` names the call. */
function refuseHead(env: HostEnv, p: string, what: string): void {
  const root = env.headRoot.endsWith("/") ? env.headRoot : `${env.headRoot}/`;
  const rel = p.startsWith(root) ? p.slice(root.length) : p.replace(/^\/+/, "");
  if (HEAD_REFUSED.some((r) => r.test(rel)) || (env.dataDir && (p === env.dataDir || p.startsWith(`${env.dataDir}/`))))
    throw new MissingValue(`${what}: templates may not read /${rel} (password hashes, private keys, drover's data and /proc, /sys, /dev, /run are refused)`);
}

function readHead(env: HostEnv, path: string, deps: Dep[], optional: boolean, what = `it.include(${JSON.stringify(path)})`): string {
  const p = resolveIn(env.headRoot, path, true);
  refuseHead(env, p, what);
  deps.push({ path: p, sig: depSig(p) });
  if (!existsSync(p)) {
    if (optional) return "";
    throw new MissingValue(`${what}: the head node has no such file; create it, or pass { optional: true }`);
  }
  return readRegular(p, what);
}

function readImage(env: HostEnv, node: NodeView, path: string, deps: Dep[], optional: boolean, image = node.image): string {
  if (!image) throw new MissingValue(`node ${node.name} has no image to read ${path} from; set one: drover node set ${node.name} --image NAME`);
  const root = env.imageRoot(image);
  if (!root) throw new MissingValue(`image ${image} (of node ${node.name}) does not exist; see drover image list`);
  const p = resolveIn(root, path, true);
  deps.push({ path: p, sig: depSig(p) });
  if (!existsSync(p) || !p.startsWith(root)) {
    if (optional) return "";
    throw new MissingValue(`image ${image} has no ${path}`);
  }
  return readRegular(p, `${path} of image ${image}`);
}

function helpersFor(env: HostEnv, node: NodeView, data: Record<string, unknown>, deps: Dep[], note: (message: string) => void) {
  return {
    sh: sq,
    fail: (msg: string) => {
      throw new MissingValue(String(msg));
    },
    include: (path: string, opts: { optional?: boolean } = {}) => readHead(env, path, deps, !!opts.optional),
    includeFrom: (path: string, opts: { optional?: boolean; image?: string } = {}) =>
      readImage(env, node, path, deps, !!opts.optional, opts.image ?? node.image),
    hostKey: (type: string, part: "private" | "public") => {
      if (!/^(ed25519|ecdsa|rsa)$/.test(type)) throw new MissingValue(`it.hostKey(): key type ${JSON.stringify(type)} is not one of ed25519, ecdsa, rsa`);
      const key = join(env.nodeSecretsDir(node.name), `ssh_host_${type}_key`);
      env.ensureHostKey(key, type, node.name);
      const p = part === "public" ? `${key}.pub` : key;
      deps.push({ path: p, sig: depSig(p) });
      return readFileSync(p, "utf8");
    },
    syncuser: (kind: "passwd" | "group") => {
      if (kind !== "passwd" && kind !== "group") throw new MissingValue('it.syncuser() takes "passwd" or "group"');
      const image = readImage(env, node, `/etc/${kind}`, deps, false);
      const head = readHead(env, `/etc/${kind}`, deps, false);
      // A user's primary group follows its group's alignment, so passwd reads the group files too.
      const groups = kind === "passwd" ? { image: readImage(env, node, "/etc/group", deps, true), head: readHead(env, "/etc/group", deps, true) } : undefined;
      const merged = mergeAccounts(kind, image, head, { imageName: node.image, ...(groups ? { groups } : {}) });
      for (const c of merged.conflicts) note(c);
      return merged.text;
    },
    // Unset fields print as null so the dump shows every variable there is.
    dump: () =>
      stringify(JSON.parse(JSON.stringify(maskedData(data as never), (_k, v) => (v === undefined ? null : v))), {
        lineWidth: 0,
        aliasDuplicateObjects: false,
      }).trimEnd(),
    helpers: () => ["include", "includeFrom", "file", "softlink", "abort", "nobackup", "opt", "sh", "fail", "hostKey", "syncuser", "dump", "helpers"],
  };
}

const toCpio = (f: RenderedFile | OverlayEntry): CpioEntry =>
  f.type === "symlink"
    ? { type: "symlink", path: f.path, target: f.target, uid: f.uid, gid: f.gid }
    : f.type === "dir"
      ? { type: "dir", path: f.path, mode: f.mode, uid: f.uid, gid: f.gid }
      : { type: "file", path: f.path, mode: f.mode, uid: f.uid, gid: f.gid, data: f.data };

/** The data a template sees for a node (without helpers). */
export function templateData(node: NodeView, snap: Snapshot, env: HostEnv, overlay: string, template: string): Record<string, unknown> {
  return { node, allNodes: snap.peers, server: snap.server, build: { version: env.version, host: env.host, overlay, template } };
}

/** A node's render context: data and helpers built once, reused for each of its templates. */
export class NodeRenderer {
  /** Outside files read by the current render. */
  deps: Dep[] = [];
  /** Notes of the current render (it.syncuser's accounts left alone). */
  notes: string[] = [];
  private readonly ctx: RenderContext;
  private readonly build: { version: string; host: string; overlay: string; template: string };
  private readonly hostKey: (type: string, part: "private" | "public") => string;

  constructor(
    readonly node: NodeView,
    private readonly snap: Snapshot,
    private readonly env: HostEnv,
    /** The node's document after the cascade, when known: `.ww` templates see what was unset. */
    private readonly conf?: Conf,
  ) {
    this.build = { version: env.version, host: env.host, overlay: "", template: "" };
    const data: Record<string, unknown> = { node, allNodes: snap.peers, server: snap.server, build: this.build };
    const deps = { push: (d: Dep) => this.deps.push(d) } as unknown as Dep[];
    const helpers = helpersFor(env, node, data, deps, (m) => this.notes.push(m));
    this.hostKey = helpers.hostKey;
    this.ctx = new RenderContext(data, helpers, node.name);
  }

  render(tree: OverlayTree, entry: Extract<OverlayEntry, { type: "file" }>): RenderResult {
    this.deps = [];
    this.notes = [];
    this.build.overlay = tree.name;
    this.build.template = entry.path;
    const text = new TextDecoder().decode(entry.data);
    if (entry.path.endsWith(WAREWULF_SUFFIX)) return this.renderWw(tree, entry, text);
    return this.ctx.render({ overlay: tree.name, path: entry.path, text, mode: entry.mode, uid: entry.uid, gid: entry.gid });
  }

  /** A Warewulf `.ww` template, through the Go template engine (warewulf.ts). */
  private renderWw(tree: OverlayTree, entry: Extract<OverlayEntry, { type: "file" }>, text: string): RenderResult {
    const where = (line?: number) => `overlay ${tree.name}, template ${entry.path}${line ? ` line ${line}` : ""}, node ${this.node.name}`;
    const deps = { push: (d: Dep) => this.deps.push(d) } as unknown as Dep[];
    const { env, node } = this;
    const soft = (f: () => string) => {
      try {
        return f();
      } catch (e) {
        if (e instanceof MissingValue && /no such file|has no |does not exist/.test(e.message)) return undefined;
        throw e;
      }
    };
    // The same time limit as an eta render, under the same watchdog (sandbox.ts).
    const ms = renderTimeLimit();
    try {
      return runLimited(
        () =>
          renderWarewulf({
            src: { overlay: tree.name, path: entry.path, text, mode: entry.mode, uid: entry.uid, gid: entry.gid },
            node,
            ...(this.conf ? { conf: this.conf } : {}),
            peers: this.snap.peers,
            settings: defaultSettings(this.snap.server),
            build: { host: env.host, time: new Date(), overlay: tree.name, source: entry.path },
            host: {
              include: (p) => soft(() => readHead(env, p, deps, false, JSON.stringify(p))),
              includeFrom: (image, p) => (env.imageRoot(image) ? soft(() => readImage(env, node, p, deps, false, image)) : undefined),
              readlink: (p) => {
                const r = resolveIn(env.headRoot, p, true);
                // What a path resolves to tells what is there (the data dir's files, /proc's): the same refusals.
                refuseHead(env, r, JSON.stringify(p));
                deps.push({ path: r, sig: depSig(r) });
                if (!existsSync(r)) return undefined;
                const root = env.headRoot.replace(/\/+$/, "");
                return r.startsWith(`${root}/`) ? r.slice(root.length) : r;
              },
              hostKey: (type, part) => this.hostKey(type, part),
              note: (m) => this.notes.push(`${entry.path}: ${m}`),
            },
            deadline: Date.now() + ms,
            rethrow: (e) => e instanceof DeferToCaller,
          }),
        ms,
      );
    } catch (e) {
      // Out of time (the interpreter's deadline, or vm's watchdog inside one long function call such as a
      // runaway regular expression) or out of steps: told to the build thread, which stops running the
      // template after two nodes, as for eta.
      if (e instanceof RenderTimeout || (e instanceof WwError && e.budget === "time"))
        renderTimedOut(tree.name, entry.path, this.node.name, `did not finish within ${fmtMs(ms)} and was stopped (an endless loop?)`);
      else if (e instanceof WwError && e.budget === "steps")
        renderTimedOut(tree.name, entry.path, this.node.name, "ran out of steps (an endless range or recursion?)");
      const line = e instanceof WwError ? e.line : undefined;
      throw new TemplateError(
        `${where(line)}: ${(e as Error).message}`,
        { overlay: tree.name, template: entry.path, node: this.node.name, ...(line ? { line } : {}) },
        { cause: e },
      );
    }
  }
}

/** Each template entry's native rendering (native.ts), looked up once per entry. */
const natives = new WeakMap<OverlayEntry, NativeRender | null>();

/** A template rendered natively (the hosts file, from lines kept per node), when it has such a rendering. */
function renderNative(e: Extract<OverlayEntry, { type: "file" }>, snap: Snapshot): RenderResult | undefined {
  let n = natives.get(e);
  if (n === undefined) natives.set(e, (n = nativeFor(new TextDecoder().decode(e.data)) ?? null));
  const data = n?.render({ server: snap.server, allNodes: snap.peers });
  if (data === undefined) return undefined;
  return {
    files: [{ type: "file", path: e.path.slice(0, -TEMPLATE_SUFFIX.length), mode: e.mode, uid: e.uid, gid: e.gid, data }],
    touched: new Set(n!.touched),
  };
}

/** Renders one template for one node (also `overlay show --render`). */
export function renderOne(tree: OverlayTree, entry: Extract<OverlayEntry, { type: "file" }>, node: NodeView, snap: Snapshot, env: HostEnv, deps: Dep[]) {
  const r = new NodeRenderer(node, snap, env);
  const out = r.render(tree, entry);
  deps.push(...r.deps);
  return out;
}

/**
 * Builds a node's archive from the named overlays, in order (a later overlay's file replaces an earlier
 * one's). `trees` resolves overlay names (the caller memoises per batch). `rendering` is told the index of
 * the overlay (in `overlays`) and of the entry (in its tree) before each template is rendered, so that a
 * build thread that dies can be reported with the template it was in (pool.ts).
 */
export function buildArchive(
  input: NodeInput,
  overlays: readonly string[],
  trees: (name: string) => OverlayTree | undefined,
  snap: Snapshot,
  env: HostEnv,
  batch?: object,
  rendering?: (overlay: number, entry: number) => void,
  options: BuildOptions = {},
): BuiltArchive {
  // The node's view is built only when a template needs it (a runtime archive of shared renders does not).
  let renderer: NodeRenderer | undefined;
  type Item = { kind: "own"; entry: CpioEntry; overlay: string } | { kind: "shared"; shared: Shared; overlay: string };
  const items: Item[] = [];
  const deps: Dep[] = [];
  const notes: ArchiveNote[] = [];
  let usesAll = false;
  for (const [oi, name] of overlays.entries()) {
    const mark: { items: number; deps: number; notes: number; usesAll: boolean } = { items: items.length, deps: deps.length, notes: notes.length, usesAll };
    try {
      addOverlay(oi, name);
    } catch (e) {
      const isolated = e instanceof OverlayBuildError || e instanceof MissingValue || (e instanceof TemplateError && !(e.cause instanceof DeferToCaller));
      if (!options.isolate || !isolated) throw e;
      // Only this overlay is left out: what it added so far goes, the rest of the archive is built.
      items.length = mark.items;
      deps.length = mark.deps;
      notes.length = mark.notes;
      usesAll = mark.usesAll;
      notes.push({ overlay: name, level: "error", message: (e as Error).message });
    }
  }
  function addOverlay(oi: number, name: string): void {
    const tree = trees(name);
    if (!tree)
      throw new OverlayBuildError(
        `overlay '${name}' (listed for node ${input.name}) does not exist; see drover overlay list, or remove it from the node or its profile`,
      );
    // An overlay for a network stack (or anything) the node's image lacks is skipped, not rendered.
    if (tree.requires?.length && input.conf.image) {
      const root = env.imageRoot(input.conf.image);
      if (root && imageHasAny(root, tree.requires, deps) === undefined) {
        notes.push({
          overlay: name,
          level: "skipped",
          message: `skipped: image ${input.conf.image} has none of ${tree.requires.map((r) => `/${r}`).join(", ")}`,
        });
        return;
      }
    }
    // Static files are the same for every node: packed and compressed once per overlay version.
    const staticKey = `${tree.fingerprint}\0static`;
    let statics = snap.memo.get(staticKey);
    if (!statics) {
      const files = tree.entries.filter(
        (e) => e.type !== "dir" && !isMetaFile(e.path) && !(e.type === "file" && (e.path.endsWith(TEMPLATE_SUFFIX) || e.path.endsWith(WAREWULF_SUFFIX))),
      );
      statics = { files: files as RenderedFile[], deps: [], usesAll: false };
      snap.memo.set(staticKey, statics);
    }
    if (statics.files.length) items.push({ kind: "shared", shared: statics, overlay: name });
    for (const [ei, e] of tree.entries.entries()) {
      if (e.type === "dir") {
        items.push({ kind: "own", entry: toCpio(e), overlay: name });
        continue;
      }
      if (!(e.type === "file" && (e.path.endsWith(TEMPLATE_SUFFIX) || e.path.endsWith(WAREWULF_SUFFIX)))) continue;
      const memoKey = `${tree.fingerprint}\0${e.path}`;
      const hit = snap.memo.get(memoKey);
      // Within one batch a shared render's outside files are checked once, not once per node.
      if (hit && ((batch && hit.checked === batch) || depsCurrent(hit.deps))) {
        if (batch) hit.checked = batch;
        items.push({ kind: "shared", shared: hit, overlay: name });
        deps.push(...hit.deps);
        usesAll ||= hit.usesAll;
        continue;
      }
      rendering?.(oi, ei);
      let r = renderNative(e, snap);
      let own: Dep[] = [];
      if (!r) {
        renderer ??= new NodeRenderer(nodeView(input.name, input.conf, input.profiles), snap, env, input.conf);
        r = renderer.render(tree, e);
        own = renderer.deps;
        for (const m of renderer.notes) notes.push({ overlay: name, level: "note", message: `${e.path}: ${m}` });
      }
      deps.push(...own);
      const all = r.touched.has("allNodes");
      usesAll ||= all;
      if ([...r.touched].every((k) => SHARED_KEYS.has(k))) {
        const shared: Shared = { files: r.files, deps: own, usesAll: all, ...(batch ? { checked: batch } : {}) };
        snap.memo.set(memoKey, shared);
        items.push({ kind: "shared", shared, overlay: name });
      } else {
        for (const f of r.files) items.push({ kind: "own", entry: toCpio(f), overlay: name });
      }
    }
  }
  // The last writer of a path wins; an own entry that a later item replaces is dropped. Shared members go
  // first and own entries last, so a later own entry also wins over an earlier shared one.
  const last = new Map<string, number>();
  items.forEach((it, i) => {
    if (it.kind === "own") last.set(it.entry.path, i);
    else for (const f of it.shared.files) last.set(f.path, i);
  });
  const shared: SharedMember[] = [];
  const own: CpioEntry[] = [];
  const manifest: BuiltArchive["manifest"] = [];
  const seenShared = new Set<Shared>();
  items.forEach((it, i) => {
    if (it.kind === "own") {
      if (it.entry.type !== "dir" && last.get(it.entry.path) !== i) return;
      own.push(it.entry);
      manifest.push({ path: it.entry.path, overlay: it.overlay, type: it.entry.type, ...("mode" in it.entry ? { mode: it.entry.mode } : {}) });
    } else if (!seenShared.has(it.shared)) {
      seenShared.add(it.shared);
      if (it.shared.files.length === 0) return;
      if (!it.shared.gz) {
        // Large shared members (a hosts file of 10,000 nodes) compress at level 1: 3× faster, a few % bigger,
        // and they are rebuilt whenever any node changes.
        const raw = packCpio(it.shared.files.map(toCpio), 0, false);
        it.shared.gz = gzipSync(raw, { level: raw.length > 65536 ? 1 : 6 });
        it.shared.digest = createHash("sha256").update(it.shared.gz).digest("hex");
      }
      shared.push({ digest: it.shared.digest!, gz: it.shared.gz });
      for (const f of it.shared.files) manifest.push({ path: f.path, overlay: it.overlay, type: f.type, ...(f.type === "file" ? { mode: f.mode } : {}) });
    }
  });
  const tail = gzipSync(packCpio(own, 0, true), { level: 6 });
  // The ETag: a hash of the members, where a shared member counts by its own hash (computed once), so a
  // 10,000-line hosts member is not re-hashed for every node. Same members, same bytes, same ETag.
  const h = createHash("sha256");
  for (const x of shared) h.update(x.digest);
  h.update(tail);
  const size = shared.reduce((n, p) => n + p.gz.length, tail.length);
  return {
    shared,
    own: tail,
    size,
    etag: h.digest("hex").slice(0, 24),
    deps,
    usesAll,
    files: manifest.filter((m) => m.type !== "dir").length,
    manifest,
    notes,
  };
}

export function hashOf(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
}
