import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ArtifactPart, BootArtifact } from "../boot/ports";
import { atomicWrite, writeOnce } from "./atomic";
import { type ArchiveNote, type BuiltArchive, type Dep, depsCurrent } from "./build";

/**
 * The archive cache: built overlay archives on disk (`<dataDir>/overlay-cache/` by default) and the metadata
 * that says what each was built from. Nothing here renders; OverlayService decides what to build and hands
 * the results to store(). One writer per process: only the calling thread uses it.
 *
 * Layout: shared gzip members (renders every node shares) once under `shared/DIGEST.gz`; each node's own
 * member as `NODE.KIND-ETAG.own.gz` (a request) or inside a batch's `pack-….own` (overlay build); metadata as
 * `NODE.KIND.json` (a request) or in `index.json` (a batch). Every byte is on disk before metadata names it.
 */

export type ArchiveKind = "system" | "runtime";

export interface CacheMeta {
  key: string;
  /** Set when a template read allNodes: the all-nodes hash it was built against. */
  peersHash?: string;
  deps: Dep[];
  /** Shared gzip members (digests, stored once under shared/) that come before `file`, in order. */
  shared?: string[];
  /** The node's own member: a file of its own (the whole archive when nothing is shared), or a batch's pack. */
  file: string;
  /** Where the node's member is in a pack (`overlay build`), and how long. */
  offset?: number;
  length?: number;
  /** The node's previous own file (never a pack), kept while downloads may still read it. */
  prev?: string;
  etag: string;
  size: number;
  files: number;
  /** Overlays skipped or dropped and what templates left out (see ArchiveNote). */
  notes?: ArchiveNote[];
  builtAt: string;
}

/** A built archive as `store` takes it, from this thread (BuiltArchive) or a build thread (JobResult). */
export type Built = Pick<BuiltArchive, "own" | "size" | "etag" | "deps" | "usesAll" | "files" | "notes"> & { shared: { digest: string; gz?: Uint8Array }[] };

/** How long a shared member or pack no current archive uses is kept (downloads of older archives may still read it). */
const GARBAGE_GRACE_MS = 10 * 60_000;

/** A batch writes its pack in pieces of about this size. */
const PACK_FLUSH = 1 << 20;

/**
 * The nodes' own members of one batch, appended to one file (creating 20,000 small files costs more than
 * building them on a busy disk) through a buffer. Bytes once written are never rewritten; the caller makes
 * a member's metadata known only after flush() (ArchiveCache.flush).
 */
class Pack {
  private fd?: number;
  private size = 0;
  private chunks: Uint8Array[] = [];
  buffered = 0;
  readonly file = `pack-${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString("hex")}.own`;

  constructor(private readonly dir: string) {}

  append(data: Uint8Array): { file: string; offset: number; length: number } {
    const offset = this.size + this.buffered;
    this.chunks.push(data);
    this.buffered += data.length;
    return { file: this.file, offset, length: data.length };
  }

  flush() {
    if (this.buffered === 0) return;
    this.fd ??= openSync(join(this.dir, this.file), "wx", 0o600);
    const buf = Buffer.concat(this.chunks, this.buffered);
    let o = 0;
    while (o < buf.length) o += writeSync(this.fd, buf, o, buf.length - o, this.size + o);
    this.size += buf.length;
    this.chunks = [];
    this.buffered = 0;
  }

  close() {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** One `overlay build`: the metadata it wrote, its pack, the shared members it has stored, the per-node metadata files. */
export interface Batch {
  metas: Map<string, CacheMeta>;
  /** Metadata of members still in the pack's buffer: made known once they are written. */
  pending: [string, CacheMeta][];
  pack: Pack;
  shared: Set<string>;
  metaFiles: ReadonlySet<string>;
}

export class ArchiveCache {
  private readonly metas = new Map<string, CacheMeta>();
  /** The last `overlay build`'s metadata (index.json), loaded on first use. */
  private index?: Map<string, CacheMeta>;
  private lastCollect = 0;
  private ready = false;

  constructor(readonly root: string) {}

  /**
   * The node's archive when its metadata's key and all-nodes hash match, its outside files are unchanged
   * and every part is on disk; otherwise undefined (rebuild it). Outside files are re-checked on every call.
   */
  current(
    name: string,
    kind: ArchiveKind,
    key: string,
    peersHash: string,
    metaFiles?: ReadonlySet<string>,
  ): { artifact: BootArtifact; meta: CacheMeta } | undefined {
    const meta = this.readMeta(name, kind, metaFiles);
    if (meta && meta.key === key && (meta.peersHash === undefined || meta.peersHash === peersHash) && depsCurrent(meta.deps)) {
      const artifact = this.artifactOf(meta);
      if (artifact) return { artifact, meta };
    }
    return undefined;
  }

  private metaPath(name: string, kind: ArchiveKind) {
    return join(this.root, `${name}.${kind}.json`);
  }

  /**
   * Metadata of a node's current archive: memory, else its own file, else the last batch's index.
   * `metaFiles` (a batch) lists the per-node files there are, so that 20,000 missing ones are not opened.
   */
  private readMeta(name: string, kind: ArchiveKind, metaFiles?: ReadonlySet<string>): CacheMeta | undefined {
    const k = `${kind}/${name}`;
    const m = this.metas.get(k);
    if (m) return m;
    let own: CacheMeta | undefined;
    if (!metaFiles || metaFiles.has(`${name}.${kind}.json`)) {
      try {
        own = JSON.parse(readFileSync(this.metaPath(name, kind), "utf8")) as CacheMeta;
      } catch {
        // missing or torn (written by another process right now): the index or a rebuild will do
      }
    }
    if (!this.index) {
      try {
        this.index = new Map(Object.entries(JSON.parse(readFileSync(join(this.root, "index.json"), "utf8")) as Record<string, CacheMeta>));
      } catch {
        this.index = new Map();
      }
    }
    const fromIndex = this.index.get(k);
    const best = own && fromIndex ? (own.builtAt >= fromIndex.builtAt ? own : fromIndex) : (own ?? fromIndex);
    if (best) this.metas.set(k, best);
    return best;
  }

  /** Starts an `overlay build`: its pack, and the per-node metadata files there are (listed once). */
  startBatch(): Batch {
    let metaFiles: Set<string>;
    try {
      metaFiles = new Set(readdirSync(this.root).filter((n) => n.endsWith(".json")));
    } catch {
      metaFiles = new Set();
    }
    return { metas: new Map(), pending: [], pack: new Pack(this.root), shared: new Set(), metaFiles };
  }

  /**
   * Ends a batch: its last members written, and one index for it. Per-node files written earlier by single
   * requests stay authoritative when newer (readMeta compares builtAt).
   */
  endBatch(batch: Batch) {
    this.flush(batch);
    batch.pack.close();
    if (batch.metas.size) {
      const index = this.index ?? new Map<string, CacheMeta>();
      for (const [k, m] of batch.metas) index.set(k, m);
      this.index = index;
      atomicWrite(join(this.root, "index.json"), JSON.stringify(Object.fromEntries(index)), { mode: 0o600 });
    }
  }

  /**
   * Records a built archive. Shared members (the hosts file, the agent, …) are stored once for all nodes,
   * not in every archive; the node's own member goes to a file of its own (a request) or is appended to
   * the batch's pack (overlay build: one file instead of 20,000). Every byte is on disk before the
   * metadata names it.
   */
  store(kind: ArchiveKind, name: string, key: string, peersHash: string, built: Built, batch?: Batch): CacheMeta {
    this.ensureDir();
    for (const m of built.shared) this.putShared(m.digest, m.gz, batch);
    const meta = this.readMeta(name, kind, batch?.metaFiles);
    let own: Pick<CacheMeta, "file" | "offset" | "length">;
    if (batch) own = batch.pack.append(built.own);
    else {
      own = { file: `${name}.${kind}-${built.etag}.own.gz` };
      writeOnce(join(this.root, own.file), built.own);
    }
    // Keep the node's previous own file (a download may still be reading it) and remove the one before.
    // Packs are shared by a batch's nodes and removed by collectGarbage, never here.
    const cur = meta && meta.offset === undefined ? meta.file : undefined;
    const keepPrev = cur && cur !== own.file ? cur : meta?.prev;
    const next: CacheMeta = {
      key,
      ...(built.usesAll ? { peersHash } : {}),
      deps: built.deps,
      ...(built.shared.length ? { shared: built.shared.map((m) => m.digest) } : {}),
      ...own,
      ...(keepPrev && keepPrev !== own.file ? { prev: keepPrev } : {}),
      etag: built.etag,
      size: built.size,
      files: built.files,
      ...(built.notes.length ? { notes: built.notes } : {}),
      builtAt: new Date().toISOString(),
    };
    if (meta?.prev && meta.prev !== own.file && meta.prev !== next.prev) rmSync(join(this.root, meta.prev), { force: true });
    if (batch) {
      batch.pending.push([`${kind}/${name}`, next]);
      if (batch.pack.buffered >= PACK_FLUSH) this.flush(batch);
    } else {
      this.metas.set(`${kind}/${name}`, next);
      writeFileSync(this.metaPath(name, kind), JSON.stringify(next), { mode: 0o600 });
      if (built.shared.length) this.collectGarbage();
    }
    return next;
  }

  /** Writes the batch's buffered members to its pack, then makes their metadata known. */
  private flush(batch: Batch) {
    batch.pack.flush();
    for (const [k, m] of batch.pending) {
      this.metas.set(k, m);
      batch.metas.set(k, m);
    }
    batch.pending = [];
  }

  private sharedPath(digest: string) {
    return join(this.root, "shared", `${digest}.gz`);
  }

  /** The archive a metadata record describes, when every part of it is on disk with its recorded size. */
  artifactOf(meta: CacheMeta): BootArtifact | undefined {
    const own = join(this.root, meta.file);
    try {
      const st = statSync(own);
      const etag = `"${meta.etag}"`;
      if (!meta.shared?.length && meta.offset === undefined) return st.size === meta.size ? { path: own, size: st.size, mtimeMs: st.mtimeMs, etag } : undefined;
      const parts: ArtifactPart[] = (meta.shared ?? []).map((d) => {
        const path = this.sharedPath(d);
        return { path, size: statSync(path).size };
      });
      if (meta.offset === undefined) parts.push({ path: own, size: st.size });
      else if (st.size >= meta.offset + meta.length!) parts.push({ path: own, offset: meta.offset, size: meta.length! });
      else return undefined;
      const size = parts.reduce((n, p) => n + p.size, 0);
      return size === meta.size ? { parts, size, mtimeMs: st.mtimeMs, etag } : undefined;
    } catch {
      return undefined; // a part is missing (removed by another process's clean-up): rebuilt
    }
  }

  /** Stores a shared member once (named by its digest); within a batch each is checked once. */
  private putShared(digest: string, gz: Uint8Array | undefined, batch?: Batch) {
    if (batch?.shared.has(digest)) return;
    const path = this.sharedPath(digest);
    let ok = false;
    try {
      ok = statSync(path).size === gz?.length || (gz === undefined && batch !== undefined);
    } catch {
      // not there yet
    }
    if (!ok) {
      if (!gz) throw new Error(`shared member ${digest} came without its bytes`);
      atomicWrite(path, gz, { mode: 0o600 });
    }
    batch?.shared.add(digest);
  }

  /**
   * Removes what no archive this process knows of uses any more, once it is GARBAGE_GRACE_MS old (old
   * enough that no download that used it is still running): shared members (a hosts file from before the
   * last node change) and batch packs whose nodes have all been rebuilt since. Runs at most once a minute
   * unless forced. Another process's archive whose part was removed finds it missing on its next request
   * and is rebuilt (same bytes).
   */
  collectGarbage(force = false) {
    const now = Date.now();
    if (!force && now - this.lastCollect < 60_000) return;
    this.lastCollect = now;
    const used = new Set<string>();
    for (const metas of [this.metas.values(), this.index?.values() ?? []])
      for (const m of metas) {
        for (const d of m.shared ?? []) used.add(`shared/${d}.gz`);
        if (m.offset !== undefined) used.add(m.file);
      }
    const old = (rel: string) => {
      try {
        return now - statSync(join(this.root, rel)).mtimeMs > GARBAGE_GRACE_MS;
      } catch {
        return false; // removed meanwhile
      }
    };
    const list = (dir: string) => {
      try {
        return readdirSync(join(this.root, dir));
      } catch {
        return [];
      }
    };
    const candidates = [...list("shared").map((n) => `shared/${n}`), ...list("").filter((n) => n.startsWith("pack-"))];
    for (const rel of candidates) if (!used.has(rel) && old(rel)) rmSync(join(this.root, rel), { force: true });
  }

  private ensureDir() {
    if (this.ready) return;
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    this.ready = true;
  }
}
