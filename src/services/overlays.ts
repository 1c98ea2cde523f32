import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, closeSync, existsSync, lchownSync, lstatSync, mkdirSync, openSync, writeSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { dirname, join, resolve as resolvePath } from "node:path";
import type { ArtifactPart, BootArtifact, BootRefusal, BootRequest, OverlayArtifacts } from "../boot/ports";
import { resolve } from "../domain/cascade";
import type { Conf } from "../domain/conf";
import { conflict, inUse, invalid, notFound } from "../domain/errors";
import { cleanRel, resolveIn } from "../image/fspath";
import { matchNames } from "../domain/hostlist";
import { type ArchiveNote, type BuiltArchive, type Dep, type HostEnv, type NodeInput, OverlayBuildError, type Snapshot, depsCurrent, hashOf } from "../overlay/build";
import { type PeerView, type ServerSettings, nodeView, peerView, serverView } from "../overlay/data";
import { type ReadEntry, readCpio } from "../overlay/cpio";
import { type LintWarning, lintOverlays } from "../overlay/lint";
import { type BuildJob, BuildPool, type JobResult, type PoolInit, type SnapPatch } from "../overlay/pool";
import { OVERLAY_NAME, OverlayRepo, type OverlayTree } from "../overlay/repo";
import { type RuntimeSecurity, runtimeAllowed } from "../overlay/security";
import { MissingValue, type RenderedFile, TEMPLATE_SUFFIX, TemplateError, etaSyntaxProblem } from "../overlay/template";
import { wwSyntaxError } from "../overlay/warewulf";
import { COMMIT, VERSION } from "../version";
import type { NodeStore, StoreRevision } from "./ports";

/** One entry of a Warewulf overlay directory being imported. */
export type WarewulfEntry =
  | { type: "file"; path: string; mode: number; uid: number; gid: number; data: Uint8Array }
  | { type: "dir"; path: string; mode: number; uid: number; gid: number }
  | { type: "symlink"; path: string; target: string; mode: number; uid: number; gid: number };

export type OverlayKind = "system" | "runtime";

/** A template problem found before saving (OverlayService.checkFile): where it is, for the node it was rendered for. */
export interface TemplateProblem {
  kind: "syntax" | "render";
  /** The template's path inside the overlay. */
  template: string;
  message: string;
  /** 1-based, in the template. */
  line?: number;
  column?: number;
  /** The node a render problem happened for. */
  node?: string;
}

/** What a save's check did: nothing (not a template), the syntax, or the syntax and a render for `node`. */
export interface FileCheck {
  checked: "none" | "syntax" | "render";
  node?: string;
  problem?: TemplateProblem;
}

/** A problem as one line: `etc/motd.eta line 3, column 14: Unexpected token ';'` (a render's message names its node). */
export function problemText(p: TemplateProblem): string {
  if (p.kind === "render") return p.message;
  return `${p.template}${p.line ? ` line ${p.line}${p.column ? `, column ${p.column}` : ""}` : ""}: ${p.message}`;
}

/** A `.ww` template's parse error with its line ("template: motd.ww:3: unclosed action"). */
function wwSyntaxProblem(path: string, text: string): { message: string; line?: number } | undefined {
  const err = wwSyntaxError(path, text);
  if (err === undefined) return undefined;
  const line = /\.ww:(\d+)/.exec(err)?.[1];
  return { message: err, ...(line ? { line: Number(line) } : {}) };
}

/** Order-independent sums of per-node hashes: O(N) additions, no re-hashing of unchanged nodes. */
function sumHashes(hashes: Map<string, [bigint, bigint]>): [bigint, bigint] {
  let h1 = 0n;
  let h2 = 0n;
  for (const [a, b] of hashes.values()) {
    h1 += a;
    h2 += b;
  }
  return [h1, h2];
}

/** The all-nodes hash from the sums (mod 2^64) and the node count. */
function peersHashOf(sum: [bigint, bigint], count: number): string {
  return `${count}:${BigInt.asUintN(64, sum[0]).toString(16)}:${BigInt.asUintN(64, sum[1]).toString(16)}`;
}

/**
 * A new snapshot's memo: the shared renders of the previous one that did not read `allNodes` (static
 * files, root's keys, the agent) stay valid when only nodes changed; their outside files are still checked.
 */
function keepNodeIndependent(memo: Snapshot["memo"]): Snapshot["memo"] {
  return new Map([...memo].filter(([, v]) => !v.usesAll));
}

export interface OverlayServiceOptions {
  dataDir: string;
  /** Raw node and profile documents; the service resolves them itself, incrementally. */
  nodeStore: NodeStore;
  /**
   * A cheap value that changes whenever anything may have been written (the composition root derives it
   * from SQLite). Without it every request asks the store for its change counters (one small read).
   */
  nodesVersion?: () => string;
  /** An image's root directory when the image exists. */
  imageRoot: (image: string) => string | undefined;
  /** The head node as nodes see it. `drover serve` passes its own; the CLI a guess from the host. */
  server: ServerSettings;
  /** Root for it.include() (default "/"). */
  headRoot?: string;
  security?: RuntimeSecurity;
  log?: (line: string) => void;
  /**
   * Where built archives go (default `<dataDir>/overlay-cache`). It is a cache, rebuilt from the inputs
   * at will, so a tmpfs (e.g. /run/drover/overlay-cache) is a good place on a slow disk.
   */
  cacheDir?: string;
  /** Build threads for `overlay build` (default: one per core, at most 8; 1 builds on the calling thread). */
  buildThreads?: number;
  /** Batches with fewer archives to build than this are built on the kept single render thread (default 64). */
  poolMinJobs?: number;
  /** How long one template may render before it is stopped (default 5 s; see overlay/sandbox.ts). */
  templateTimeoutMs?: number;
  /** How much the process may grow while templates render before the render threads are stopped (default 1 GiB). */
  templateMemoryBytes?: number;
}

interface CacheMeta {
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

export interface BuildOutcome {
  node: string;
  kind: OverlayKind;
  status: "built" | "fresh" | "error";
  size?: number;
  files?: number;
  message?: string;
  notes?: ArchiveNote[];
}

interface State {
  version?: string;
  /** The store's change counters when this state was read. */
  rev?: StoreRevision;
  /** Nodes' own documents, as read. */
  own: Map<string, Conf>;
  nodeJson: Map<string, string>;
  profilesJson: string;
  profiles: Map<string, Conf>;
  resolved: Map<string, NodeInput>;
  peerJson: Map<string, string>;
  /** Each node's peer view, reused while the node is unchanged. */
  peerViews: Map<string, PeerView>;
  /** Two 64-bit hashes of each node's peer view; their sums (mod 2^64) make the all-nodes hash. */
  peerHashes: Map<string, [bigint, bigint]>;
  /** Their sums, kept up to date as nodes change (a change costs its own hashes, not 10,000 additions). */
  peerSum: [bigint, bigint];
  snap: Snapshot;
}

const MAX_MEMO = 2000;
/** How long a shared member or pack no current archive uses is kept (downloads of older archives may still read it). */
const GARBAGE_GRACE_MS = 10 * 60_000;

/** A built archive as `store` takes it, from this thread (BuiltArchive) or a build thread (JobResult). */
type Built = Pick<BuiltArchive, "own" | "size" | "etag" | "deps" | "usesAll" | "files" | "notes"> & { shared: { digest: string; gz?: Uint8Array }[] };

/** One `overlay build`: the metadata it wrote, its pack, the shared members it has stored, the per-node metadata files. */
interface Batch {
  metas: Map<string, CacheMeta>;
  /** Metadata of members still in the pack's buffer: made known once they are written. */
  pending: [string, CacheMeta][];
  pack: Pack;
  shared: Set<string>;
  metaFiles: ReadonlySet<string>;
}

/** A batch writes its pack in pieces of about this size. */
const PACK_FLUSH = 1 << 20;

/**
 * The nodes' own members of one batch, appended to one file (creating 20,000 small files costs more than
 * building them on a busy disk) through a buffer. Bytes once written are never rewritten; the caller makes
 * a member's metadata known only after flush() (OverlayService.flush).
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

/**
 * Overlays: the per-node archives the boot routes serve, always current with their inputs, and the use
 * cases behind `drover overlay …`.
 *
 * Never stale: a node's archive is keyed by a hash of everything that goes into it (its overlays' content
 * fingerprints, the node after the cascade, the server settings, drover's version), plus the all-nodes hash
 * when a template read `allNodes`, plus the stat signatures of every outside file a template read (head-node
 * files, image files, host keys). A request whose key and signatures match is served from
 * `<dataDir>/overlay-cache/`; anything else is rebuilt on the spot. No build command is needed.
 *
 * Stored in parts: gzip members every node shares (the hosts file, static files) once under `shared/`,
 * and each node's own member; the boot route sends them one after the other (boot/artifact.ts), the same
 * bytes as the archive built whole.
 *
 * Never half-written: each member is named by its content hash and complete before its name is recorded
 * anywhere; a node's previous member is kept, so a download that started before a rebuild finishes intact.
 */
export class OverlayService implements OverlayArtifacts {
  readonly repo: OverlayRepo;
  private readonly cacheRoot: string;
  private readonly env: HostEnv;
  private server: ServerSettings;
  private state?: State;
  private readonly metas = new Map<string, CacheMeta>();
  /** The last `overlay build`'s metadata (index.json), loaded on first use. */
  private index?: Map<string, CacheMeta>;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: OverlayServiceOptions) {
    this.repo = new OverlayRepo(join(opts.dataDir, "overlays"));
    this.cacheRoot = opts.cacheDir ?? join(opts.dataDir, "overlay-cache");
    this.server = opts.server;
    this.log = opts.log ?? (() => {});
    this.env = {
      headRoot: opts.headRoot ?? "/",
      imageRoot: opts.imageRoot,
      nodeSecretsDir: (node) => join(opts.dataDir, "nodes", node),
      ensureHostKey: (path, type, node) => ensureHostKey(path, type, node),
      version: `${VERSION} (${COMMIT})`,
      host: opts.server.hostname ?? hostname(),
    };
  }

  /** Replaces the server settings (`drover serve` calls this with its resolved configuration). */
  setServer(server: ServerSettings) {
    this.server = server;
    this.env.host = server.hostname ?? hostname();
    this.state = undefined;
  }

  get serverSettings(): Readonly<ServerSettings> {
    return this.server;
  }

  // ---- the node snapshot ----

  /**
   * All nodes resolved, re-resolving only those whose document changed (all of them when a profile
   * changed). The all-nodes data templates see is built here once per change, not once per node.
   */
  snapshot(): State {
    const version = this.opts.nodesVersion?.();
    const prev = this.state;
    if (prev && version !== undefined && prev.version === version) return prev;
    // What changed since the last look, by the store's change counters: only the nodes written since then
    // are read. A profile change or a deletion reads everything again (and re-resolves what differs).
    const seen = this.opts.nodeStore.read((tx) => {
      const rev = tx.revision();
      if (!prev?.rev || rev.profiles !== prev.rev.profiles || rev.nodeDeletes !== prev.rev.nodeDeletes) return { rev, all: { nodes: tx.nodes(), profiles: tx.profiles() } };
      return { rev, docs: rev.nodes === prev.rev.nodes ? new Map<string, Conf>() : tx.nodes(tx.nodesWrittenSince(prev.rev.nodes)) };
    });
    let all = seen.all;
    let rev = seen.rev;
    if (!all) {
      const quick = this.applyChanges(prev!, seen.docs!, rev, version);
      if (quick) return quick;
      // A node was added: the general path, on one consistent reading.
      ({ rev, all } = this.opts.nodeStore.read((tx) => ({ rev: tx.revision(), all: { nodes: tx.nodes(), profiles: tx.profiles() } })));
    }
    const { nodes, profiles } = all;
    const profilesJson = JSON.stringify([...profiles.entries()]);
    const profilesSame = prev?.profilesJson === profilesJson;
    const nodeJson = new Map<string, string>();
    const resolved = new Map<string, NodeInput>();
    const peerJson = new Map<string, string>();
    const peerViews = new Map<string, PeerView>();
    const peerHashes = new Map<string, [bigint, bigint]>();
    let changed = !prev || nodes.size !== prev.resolved.size;
    for (const [name, own] of nodes) {
      const old = prev?.resolved.get(name);
      const json = JSON.stringify(own);
      if (old && profilesSame && prev!.nodeJson.get(name) === json) {
        nodeJson.set(name, prev!.nodeJson.get(name)!);
        resolved.set(name, old);
        peerJson.set(name, prev!.peerJson.get(name)!);
        peerViews.set(name, prev!.peerViews.get(name)!);
        peerHashes.set(name, prev!.peerHashes.get(name)!);
        continue;
      }
      nodeJson.set(name, json);
      changed = true;
      const r = resolve(own, (p) => profiles.get(p));
      resolved.set(name, { name, conf: r.conf, profiles: r.profiles });
      const pv = peerView(name, r.conf);
      peerViews.set(name, pv);
      const pj = JSON.stringify(pv);
      peerJson.set(name, pj);
      peerHashes.set(name, [BigInt(Bun.hash(pj, 1)), BigInt(Bun.hash(pj, 2))]);
    }
    const server = serverView({ ...this.server, hostname: this.env.host });
    const serverHash = hashOf(JSON.stringify(server), this.env.host);
    if (prev && !changed && prev.snap.serverHash === serverHash) {
      prev.version = version;
      prev.rev = rev;
      return prev;
    }
    const peerSum = sumHashes(peerHashes);
    const peersHash = peersHashOf(peerSum, peerHashes.size);
    const snap: Snapshot =
      prev && prev.snap.peersHash === peersHash && prev.snap.serverHash === serverHash
        ? prev.snap
        : { peers: [...peerViews.values()], peersHash, server, serverHash, memo: prev && prev.snap.serverHash === serverHash ? keepNodeIndependent(prev.snap.memo) : new Map() };
    this.state = { version, rev, own: nodes, nodeJson, profilesJson, profiles, resolved, peerJson, peerViews, peerHashes, peerSum, snap };
    return this.state;
  }

  /**
   * The common case at scale: a few nodes changed, none was added or removed, profiles did not change.
   * Updates the previous state in place (only build() holds parts of it across an await, and it holds
   * `resolved` and `snap`, which are replaced here, never changed) so that the cost is the changed nodes
   * plus O(N) cheap additions. Returns undefined when the general path must run (a node was added).
   */
  private applyChanges(prev: State, docs: Map<string, Conf>, rev: StoreRevision, version: string | undefined): State | undefined {
    for (const name of docs.keys()) if (!prev.resolved.has(name)) return undefined;
    prev.version = version;
    prev.rev = rev;
    let peersChanged = false;
    let fresh = false;
    for (const [name, own] of docs) {
      const j = JSON.stringify(own);
      if (prev.nodeJson.get(name) === j) continue;
      // Readers cache what they derive from `resolved` by its identity (the API's node table): a changed
      // snapshot gets a new map (O(N) pointer copies), never an old map changed under them.
      if (!fresh) {
        prev.resolved = new Map(prev.resolved);
        fresh = true;
      }
      prev.nodeJson.set(name, j);
      prev.own.set(name, own);
      const r = resolve(own, (p) => prev.profiles.get(p));
      prev.resolved.set(name, { name, conf: r.conf, profiles: r.profiles });
      const pv = peerView(name, r.conf);
      const pj = JSON.stringify(pv);
      if (prev.peerJson.get(name) === pj) continue;
      peersChanged = true;
      prev.peerJson.set(name, pj);
      prev.peerViews.set(name, pv);
      const was = prev.peerHashes.get(name)!;
      const now: [bigint, bigint] = [BigInt(Bun.hash(pj, 1)), BigInt(Bun.hash(pj, 2))];
      prev.peerHashes.set(name, now);
      prev.peerSum = [prev.peerSum[0] - was[0] + now[0], prev.peerSum[1] - was[1] + now[1]];
    }
    if (peersChanged) {
      const snap = prev.snap;
      prev.snap = { peers: [...prev.peerViews.values()], peersHash: peersHashOf(prev.peerSum, prev.peerHashes.size), server: snap.server, serverHash: snap.serverHash, memo: keepNodeIndependent(snap.memo) };
    }
    return prev;
  }

  private node(name: string): NodeInput {
    const n = this.snapshot().resolved.get(name);
    if (!n) throw notFound(`node '${name}' does not exist; 'drover node list' shows the nodes there are`);
    return n;
  }

  // ---- archives ----

  /** The OverlayArtifacts port: the node's current archive, rebuilt first when any input changed. */
  async archive(kind: OverlayKind, name: string): Promise<BootArtifact | BootRefusal> {
    const st = this.snapshot();
    const input = st.resolved.get(name);
    if (!input) return { refused: true, status: 404, message: `node ${name} does not exist` };
    try {
      return await this.ensure(kind, input, st.snap, (n) => this.repo.get(n));
    } catch (e) {
      const msg = userMessage(e);
      if (msg === undefined) throw e;
      this.log(`drover: ${kind} overlay of ${name}: ${msg}`);
      return { refused: true, status: 500, message: `${kind} overlay of ${name} cannot be built: ${msg}` };
    }
  }

  /** The runtime-overlay access check for the boot routes (see overlay/security.ts). */
  runtimeAllowed(node: { name: string; conf: Conf }, req: BootRequest, leased?: string): BootRefusal | undefined {
    return runtimeAllowed(node, req, this.opts.security ?? { enforce: true }, leased);
  }

  private metaPath(name: string, kind: OverlayKind) {
    return join(this.cacheRoot, `${name}.${kind}.json`);
  }

  /**
   * Metadata of a node's current archive: memory, else its own file, else the last batch's index.
   * `metaFiles` (a batch) lists the per-node files there are, so that 20,000 missing ones are not opened.
   */
  private readMeta(name: string, kind: OverlayKind, metaFiles?: ReadonlySet<string>): CacheMeta | undefined {
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
        this.index = new Map(Object.entries(JSON.parse(readFileSync(join(this.cacheRoot, "index.json"), "utf8")) as Record<string, CacheMeta>));
      } catch {
        this.index = new Map();
      }
    }
    const fromIndex = this.index.get(k);
    const best = own && fromIndex ? (own.builtAt >= fromIndex.builtAt ? own : fromIndex) : (own ?? fromIndex);
    if (best) this.metas.set(k, best);
    return best;
  }

  /** Each resolved node's document after the cascade as JSON, and its hash with its profiles: computed once. */
  private readonly nodeJson = new WeakMap<NodeInput, { json: string; hash: string }>();

  private jsonOf(input: NodeInput): { json: string; hash: string } {
    let j = this.nodeJson.get(input);
    if (!j) {
      const json = JSON.stringify(input.conf);
      this.nodeJson.set(input, (j = { json, hash: hashOf(json, input.profiles.join(",")) }));
    }
    return j;
  }

  /** The inputs key of a node's archive (everything but outside files, which are checked by signature). */
  private key(kind: OverlayKind, input: NodeInput, snap: Snapshot, trees: (n: string) => OverlayTree | undefined): { key: string; overlays: string[] } {
    const overlays = (kind === "system" ? input.conf.systemOverlay : input.conf.runtimeOverlay) ?? [];
    const fps = overlays.map((o) => `${o}=${trees(o)?.fingerprint ?? "missing"}`);
    return { key: hashOf(kind, fps.join(","), this.jsonOf(input).hash, snap.serverHash, this.env.version, this.env.headRoot), overlays };
  }

  /**
   * The node's current archive when its key, the all-nodes hash it used, its outside files and its parts
   * on disk all still match; otherwise what a rebuild needs. Outside files are re-checked on every request.
   */
  private check(kind: OverlayKind, input: NodeInput, snap: Snapshot, trees: (n: string) => OverlayTree | undefined, metaFiles?: ReadonlySet<string>): { artifact: BootArtifact; meta: CacheMeta } | { key: string; overlays: string[] } {
    const { key, overlays } = this.key(kind, input, snap, trees);
    const meta = this.readMeta(input.name, kind, metaFiles);
    if (meta && meta.key === key && (meta.peersHash === undefined || meta.peersHash === snap.peersHash) && depsCurrent(meta.deps)) {
      const artifact = this.artifactOf(meta);
      if (artifact) return { artifact, meta };
    }
    return { key, overlays };
  }

  /** Builds of a request in progress, by kind, node and key: concurrent requests for one archive share one. */
  private readonly inflight = new Map<string, Promise<BootArtifact>>();

  /** The node's archive for a request: current, or rebuilt now on the render thread. */
  private ensure(kind: OverlayKind, input: NodeInput, snap: Snapshot, trees: (n: string) => OverlayTree | undefined): Promise<BootArtifact> | BootArtifact {
    const c = this.check(kind, input, snap, trees);
    if ("artifact" in c) return c.artifact;
    const k = `${kind}/${input.name}/${c.key}`;
    let p = this.inflight.get(k);
    if (!p) {
      p = (async () => {
        await this.prepareHostKeys([input], trees);
        const [r] = await this.inSandbox(snap, [{ input, kind, overlays: c.overlays }], trees);
        const meta = this.store(kind, input.name, c.key, snap.peersHash, builtOf(r!, kind, input.name));
        for (const n of meta.notes ?? []) if (n.level === "error") this.log(`drover: ${kind} overlay of ${input.name}: overlay ${n.overlay} left out: ${n.message}`);
        const artifact = this.artifactOf(meta);
        if (!artifact) throw new Error(`the ${kind} archive of ${input.name} vanished from ${this.cacheRoot} right after it was written`);
        return artifact;
      })().finally(() => this.inflight.delete(k));
      this.inflight.set(k, p);
    }
    return p;
  }

  // ---- the render thread ----

  /** The kept render thread (one), its queue, and what it has been sent. */
  private sandbox?: BuildPool;
  private sandboxQueue: Promise<unknown> = Promise.resolve();
  private sandboxHas: { snap?: Snapshot; trees: Map<string, string>; images: Record<string, string | null>; env?: string } = { trees: new Map(), images: {} };

  /**
   * Runs jobs on the kept render thread, one batch at a time: templates never run on this thread. What the
   * thread lacks is sent first (a new snapshot, changed overlays, more images); a job that needs an image
   * the thread was not told of is sent again with it.
   */
  private inSandbox(snap: Snapshot, jobs: readonly SandboxJob[], tree: (n: string) => OverlayTree | undefined): Promise<JobResult[]> {
    const run = async (): Promise<JobResult[]> => {
      const out: JobResult[] = new Array(jobs.length);
      let todo = jobs.map((_, i) => i);
      for (let round = 0; round < 4 && todo.length; round++) {
        const pool = this.sandboxFor(snap, todo.map((i) => jobs[i]!), tree);
        const sent = new Set(Object.keys(this.sandboxHas.images));
        const wire: BuildJob[] = todo.map((i) => {
          const j = jobs[i]!;
          return { name: j.input.name, confJson: this.jsonOf(j.input).json, profiles: j.input.profiles, kind: j.kind, overlays: j.overlays, allShared: true, ...(j.preview ? { preview: true } : {}), ...(j.render ? { render: j.render } : {}) };
        });
        const again: number[] = [];
        const keys: [number, string][] = [];
        try {
          await pool.run(wire, (x, r) => {
            const i = todo[x]!;
            out[i] = r;
            if (!r.ok && "local" in r && r.need && "image" in r.need && !sent.has(r.need.image)) {
              if (!(r.need.image in this.sandboxHas.images)) this.sandboxHas.images[r.need.image] = this.opts.imageRoot(r.need.image) ?? null;
              again.push(i);
            }
            if (!r.ok && "local" in r && r.need && "hostKey" in r.need) keys.push([i, r.need.hostKey]);
          });
          // A host key the thread found missing is made here (ssh-keygen), then the job is sent again.
          for (const [i, path] of keys) {
            const type = /ssh_host_(\w+)_key$/.exec(path)?.[1];
            if (!type) continue;
            await generateHostKey(path, type, jobs[i]!.input.name);
            if (!again.includes(i)) again.push(i);
          }
        } finally {
          if (pool.isClosed) this.sandbox = undefined;
        }
        todo = again;
      }
      return out;
    };
    const p = this.sandboxQueue.then(run, run);
    this.sandboxQueue = p.catch(() => undefined);
    return p;
  }

  /** The kept render thread, told what these jobs need. */
  private sandboxFor(snap: Snapshot, jobs: readonly SandboxJob[], tree: (n: string) => OverlayTree | undefined): BuildPool {
    const has = this.sandboxHas;
    const names = new Set(jobs.flatMap((j) => (j.render ? [j.render.overlay] : j.overlays)));
    const trees = [...names].map(tree).filter((t): t is OverlayTree => t !== undefined);
    for (const j of jobs) {
      const image = j.input.conf.image;
      if (image && !(image in has.images)) has.images[image] = this.opts.imageRoot(image) ?? null;
    }
    const env = { headRoot: this.env.headRoot, dataDir: resolvePath(this.opts.dataDir), version: this.env.version, host: this.env.host, secretsRoot: join(this.opts.dataDir, "nodes"), images: { ...has.images } };
    const snapPart = { peers: snap.peers, peersHash: snap.peersHash, server: snap.server, serverHash: snap.serverHash };
    if (!this.sandbox || this.sandbox.isClosed) {
      this.sandbox = new BuildPool(1, { snap: snapPart, trees, env }, { timeLimitMs: this.opts.templateTimeoutMs ?? 5000, memoryLimitBytes: this.opts.templateMemoryBytes ?? 1024 ** 3 });
      this.sandboxHas = { snap, trees: new Map(trees.map((t) => [t.name, t.fingerprint])), images: has.images };
      this.sandboxHas.env = JSON.stringify(env);
      return this.sandbox;
    }
    const changed = trees.filter((t) => has.trees.get(t.name) !== t.fingerprint);
    const envJson = JSON.stringify(env);
    const part: Partial<PoolInit> = {
      ...(has.snap !== snap ? { snap: snapPart } : {}),
      ...(changed.length ? { trees: changed } : {}),
      ...(has.env !== envJson ? { env } : {}),
    };
    // A snapshot after a few node changes goes as those peers' views (their objects are new, the rest kept).
    let patch: SnapPatch | undefined;
    if (part.snap && has.snap) {
      const before = new Set(has.snap.peers);
      const fresh = snap.peers.filter((p) => !before.has(p));
      if (fresh.length <= snap.peers.length / 4) patch = { order: snap.peers.map((p) => p.name), changed: fresh, peersHash: snap.peersHash, server: snap.server, serverHash: snap.serverHash };
    }
    if (Object.keys(part).length) this.sandbox.update(part, patch);
    has.snap = snap;
    has.env = envJson;
    for (const t of changed) has.trees.set(t.name, t.fingerprint);
    return this.sandbox;
  }

  /** Stops the render thread (the CLI's services close; a test's service ends). */
  close(): void {
    this.sandbox?.close();
    this.sandbox = undefined;
  }

  /**
   * Records a built archive. Shared members (the hosts file, the agent, …) are stored once for all nodes,
   * not in every archive; the node's own member goes to a file of its own (a request) or is appended to
   * the batch's pack (overlay build: one file instead of 20,000). Every byte is on disk before the
   * metadata names it. Runs on the calling thread only: the cache has one writer per process.
   */
  private store(kind: OverlayKind, name: string, key: string, peersHash: string, built: Built, batch?: Batch): CacheMeta {
    this.ensureCacheDir();
    for (const m of built.shared) this.putShared(m.digest, m.gz, batch);
    const meta = this.readMeta(name, kind, batch?.metaFiles);
    let own: Pick<CacheMeta, "file" | "offset" | "length">;
    if (batch) own = batch.pack.append(built.own);
    else {
      own = { file: `${name}.${kind}-${built.etag}.own.gz` };
      writeOnce(join(this.cacheRoot, own.file), built.own);
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
    if (meta?.prev && meta.prev !== own.file && meta.prev !== next.prev) rmSync(join(this.cacheRoot, meta.prev), { force: true });
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
    return join(this.cacheRoot, "shared", `${digest}.gz`);
  }

  /** The archive a metadata record describes, when every part of it is on disk with its recorded size. */
  private artifactOf(meta: CacheMeta): BootArtifact | undefined {
    const own = join(this.cacheRoot, meta.file);
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
      atomicWrite(path, gz, 0o600);
    }
    batch?.shared.add(digest);
  }

  private lastCollect = 0;

  /**
   * Removes what no archive this process knows of uses any more, once it is GARBAGE_GRACE_MS old (old
   * enough that no download that used it is still running): shared members (a hosts file from before the
   * last node change) and batch packs whose nodes have all been rebuilt since. Runs at most once a minute
   * unless forced. Another process's archive whose part was removed finds it missing on its next request
   * and is rebuilt (same bytes).
   */
  private collectGarbage(force = false) {
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
        return now - statSync(join(this.cacheRoot, rel)).mtimeMs > GARBAGE_GRACE_MS;
      } catch {
        return false; // removed meanwhile
      }
    };
    const list = (dir: string) => {
      try {
        return readdirSync(join(this.cacheRoot, dir));
      } catch {
        return [];
      }
    };
    const candidates = [...list("shared").map((n) => `shared/${n}`), ...list("").filter((n) => n.startsWith("pack-"))];
    for (const rel of candidates) if (!used.has(rel) && old(rel)) rmSync(join(this.cacheRoot, rel), { force: true });
  }

  private cacheReady = false;
  private ensureCacheDir() {
    if (this.cacheReady) return;
    mkdirSync(this.cacheRoot, { recursive: true, mode: 0o700 });
    this.cacheReady = true;
  }

  /** How many build threads a batch of `jobs` archives gets (1: the calling thread builds them). */
  private threadsFor(jobs: number): number {
    if (jobs < (this.opts.poolMinJobs ?? 64)) return 1;
    return Math.max(1, Math.min(8, this.opts.buildThreads ?? availableParallelism()));
  }

  /**
   * Brings archives up to date for the matching nodes (all when no pattern): what `overlay build` does, and
   * what a boot request does for one node. Missing host keys are generated in parallel first. A large
   * batch is rendered on build threads (overlay/pool.ts), one per core; everything is written here.
   */
  async build(patterns: readonly string[] = [], kinds: readonly OverlayKind[] = ["system", "runtime"]): Promise<BuildOutcome[]> {
    // Held across awaits: a later snapshot() replaces these maps and objects, it never changes them.
    const { resolved, snap } = this.snapshot();
    const names = matchNames([...resolved.keys()], patterns);
    if (patterns.length && names.length === 0) throw notFound(`no node matches ${patterns.join(" ")}; 'drover node list' shows the nodes there are`);
    const trees = new Map<string, OverlayTree | undefined>();
    const tree = (n: string) => {
      if (!trees.has(n)) trees.set(n, this.repo.get(n));
      return trees.get(n);
    };
    await this.prepareHostKeys(names.map((n) => resolved.get(n)!), tree);
    const out: BuildOutcome[] = [];
    const batch: Batch = { metas: new Map(), pending: [], pack: new Pack(this.cacheRoot), shared: new Set(), metaFiles: this.metaFiles() };
    type Job = { input: NodeInput; kind: OverlayKind; key: string; overlays: string[]; at: number };
    const jobs: Job[] = [];
    for (const name of names) {
      const input = resolved.get(name)!;
      for (const kind of kinds) {
        const c = this.check(kind, input, snap, tree, batch.metaFiles);
        if ("artifact" in c) out.push({ node: name, kind, status: "fresh", size: c.meta.size, files: c.meta.files, ...(c.meta.notes ? { notes: c.meta.notes } : {}) });
        else jobs.push({ input, kind, ...c, at: out.push({ node: name, kind, status: "built" }) - 1 });
      }
    }
    const done = (j: Job, built: Built) => {
      const m = this.store(j.kind, j.input.name, j.key, snap.peersHash, built, batch);
      out[j.at] = { node: j.input.name, kind: j.kind, status: "built", size: m.size, files: m.files, ...(m.notes ? { notes: m.notes } : {}) };
    };
    const failed = (j: Job, message: string) => {
      out[j.at] = { node: j.input.name, kind: j.kind, status: "error", message };
    };
    const take = (j: Job, r: JobResult) => {
      if (r.ok) done(j, builtOf(r, j.kind, j.input.name));
      else if ("local" in r) failed(j, `the ${j.kind} overlay of ${j.input.name} needs ${r.need && "image" in r.need ? `image ${r.need.image}` : "a host key"}, which could not be provided`);
      else if (r.user) failed(j, r.message);
      else throw new Error(`the ${j.kind} overlay of ${j.input.name} could not be built: ${r.message}`);
    };
    const onKept = async (list: Job[]) => {
      if (!list.length) return;
      const rs = await this.inSandbox(snap, list, tree);
      list.forEach((j, i) => take(j, rs[i]!));
    };
    try {
      const threads = this.threadsFor(jobs.length);
      if (threads > 1) {
        const init = this.poolInit(snap, jobs, tree);
        const pool = new BuildPool(threads, init, { timeLimitMs: this.opts.templateTimeoutMs ?? 5000, memoryLimitBytes: this.opts.templateMemoryBytes ?? 1024 ** 3 });
        const later: Job[] = [];
        try {
          await pool.run(
            jobs.map((j) => ({ name: j.input.name, confJson: this.jsonOf(j.input).json, profiles: j.input.profiles, kind: j.kind, overlays: j.overlays })),
            (i, r) => {
              const j = jobs[i]!;
              if (!r.ok && "local" in r) later.push(j);
              else take(j, r);
            },
          );
        } finally {
          pool.close();
        }
        // Jobs a batch thread could not do alone (another image): the kept render thread is told and does them.
        await onKept(later);
      } else await onKept(jobs);
    } finally {
      this.flush(batch);
      batch.pack.close();
      if (batch.metas.size) {
        // One index for the batch; per-node files written earlier by single requests stay authoritative
        // when newer (readMeta compares builtAt).
        const index = this.index ?? new Map<string, CacheMeta>();
        for (const [k, m] of batch.metas) index.set(k, m);
        this.index = index;
        atomicWrite(join(this.cacheRoot, "index.json"), JSON.stringify(Object.fromEntries(index)), 0o600);
      }
    }
    this.collectGarbage(true);
    return out;
  }

  /** The per-node metadata files in the cache (written by single requests), listed once for a batch. */
  private metaFiles(): Set<string> {
    try {
      return new Set(readdirSync(this.cacheRoot).filter((n) => n.endsWith(".json")));
    } catch {
      return new Set();
    }
  }

  /** What build threads need to know of this batch (see overlay/pool.ts). */
  private poolInit(snap: Snapshot, jobs: readonly { input: NodeInput; overlays: readonly string[] }[], tree: (n: string) => OverlayTree | undefined): PoolInit {
    const names = new Set(jobs.flatMap((j) => j.overlays));
    const images: Record<string, string | null> = {};
    for (const j of jobs) {
      const image = j.input.conf.image;
      if (image && !(image in images)) images[image] = this.opts.imageRoot(image) ?? null;
    }
    return {
      snap: { peers: snap.peers, peersHash: snap.peersHash, server: snap.server, serverHash: snap.serverHash },
      trees: [...names].map(tree).filter((t): t is OverlayTree => t !== undefined),
      env: { headRoot: this.env.headRoot, dataDir: resolvePath(this.opts.dataDir), version: this.env.version, host: this.env.host, secretsRoot: join(this.opts.dataDir, "nodes"), images },
    };
  }

  /** Generates missing SSH host keys for nodes whose overlays include ssh.host_keys, several at a time. */
  async prepareHostKeys(nodes: readonly NodeInput[], trees: (n: string) => OverlayTree | undefined = (n) => this.repo.get(n)): Promise<number> {
    const byOverlay = new Map<string, boolean>();
    const keyed = (o: string) => {
      let k = byOverlay.get(o);
      if (k === undefined) byOverlay.set(o, (k = !!trees(o)?.entries.some((e) => e.type === "file" && new TextDecoder().decode(e.data).includes("it.hostKey("))));
      return k;
    };
    const uses = (n: NodeInput) => [...(n.conf.systemOverlay ?? []), ...(n.conf.runtimeOverlay ?? [])].some(keyed);
    const jobs: { path: string; type: string; node: string }[] = [];
    for (const n of nodes) {
      if (!uses(n)) continue;
      for (const type of ["ed25519", "ecdsa"]) {
        const path = join(this.env.nodeSecretsDir(n.name), `ssh_host_${type}_key`);
        if (!existsSync(path) || !existsSync(`${path}.pub`)) jobs.push({ path, type, node: n.name });
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const j = jobs[next++]!;
        await generateHostKey(j.path, j.type, j.node);
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs.length, availableParallelism() * 2) }, worker));
    return jobs.length;
  }

  /**
   * Renders and packs the given overlays for a node without touching the cache, and reads the archive
   * back: exactly the files a node would get (golden tests, `overlay show --render` of a whole overlay).
   */
  async preview(nodeName: string, overlays: readonly string[]): Promise<ReadEntry[]> {
    const input = this.node(nodeName);
    const snap = this.snapshot().snap;
    const tree = (n: string) => this.repo.get(n);
    const [r] = await this.inSandbox(snap, [{ input, kind: "system", overlays: [...overlays], preview: true }], tree);
    const built = builtOf(r!, "preview", nodeName);
    return readCpio(Buffer.concat([...built.shared.map((m) => m.gz!), built.own]));
  }

  // ---- overlay CLI use cases ----

  tree(name: string): OverlayTree {
    const t = this.repo.get(name);
    if (!t) throw notFound(`overlay '${name}' does not exist; 'drover overlay list' shows the overlays there are`);
    return t;
  }

  /** Renders one template of an overlay for a node (`overlay show NAME FILE --render NODE`). */
  async renderFile(overlay: string, file: string, nodeName: string): Promise<RenderedFile[]> {
    const t = this.tree(overlay);
    const rel = file.replace(/^\/+/, "");
    const e = t.entries.find((x) => x.path === rel && x.type === "file");
    if (!e || e.type !== "file") throw notFound(`overlay ${overlay} has no file ${rel}; 'drover overlay list -l ${overlay}' lists its files`);
    if (!rel.endsWith(".eta") && !rel.endsWith(".ww")) {
      this.node(nodeName);
      return [{ type: "file", path: rel, mode: e.mode, uid: e.uid, gid: e.gid, data: new TextDecoder().decode(e.data) }];
    }
    const r = await this.renderOn(overlay, rel, nodeName, (n) => this.repo.get(n));
    if ("error" in r) throw invalid(r.error);
    return r.rendered;
  }

  /** Renders one template for a node on the render thread, with the overlay trees `tree` gives. */
  private async renderOn(overlay: string, rel: string, nodeName: string, tree: (n: string) => OverlayTree | undefined): Promise<{ rendered: RenderedFile[] } | { error: string }> {
    const input = this.node(nodeName);
    const snap = this.snapshot().snap;
    const [r] = await this.inSandbox(snap, [{ input, kind: "render", overlays: [], render: { overlay, path: rel } }], tree);
    if (r!.ok && "rendered" in r!) return { rendered: r!.rendered };
    if (!r!.ok && "user" in r! && r!.user) return { error: r!.message };
    builtOf(r!, "render", nodeName);
    throw new Error("unreachable");
  }

  /**
   * The check a template gets before it is saved (`overlay edit`, the page's Save, PUT /overlays/NAME/file):
   * its syntax, then a render of the new text — not yet written — for one node that uses the overlay (`node`
   * when given, else the first node listing it, directly or through a profile). Files that are not templates
   * (`.eta`, `.ww`) pass unchecked. Returns what was checked and the first problem found, with its line and
   * column when known; nothing is written.
   */
  async checkFile(name: string, file: string, text: string, opts: { node?: string } = {}): Promise<FileCheck> {
    let rel: string;
    try {
      rel = cleanRel(file);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    const isEta = rel.endsWith(TEMPLATE_SUFFIX);
    const isWw = rel.endsWith(".ww");
    if (!isEta && !isWw) return { checked: "none" };
    const syntax = isEta ? etaSyntaxProblem(text) : wwSyntaxProblem(rel, text);
    if (syntax) return { checked: "syntax", problem: { kind: "syntax", template: rel, ...syntax } };
    const node = opts.node ?? this.usersOf(name).find((u) => !u.startsWith("profile "));
    if (!node) return { checked: "syntax" };
    const current = this.repo.get(name);
    const data = new TextEncoder().encode(text);
    const old = current?.entries.find((x) => x.path === rel);
    const entry = { type: "file" as const, path: rel, mode: old && old.type !== "symlink" ? old.mode : 0o644, uid: old?.uid ?? 0, gid: old?.gid ?? 0, data };
    const candidate: OverlayTree = {
      name,
      origin: current?.origin ?? "site",
      entries: [...(current?.entries ?? []).filter((x) => x.path !== rel), entry],
      // A fingerprint of its own: the render thread takes this tree for this render, and the real one again after.
      fingerprint: `${current?.fingerprint ?? ""}+check:${createHash("sha256").update(data).digest("hex").slice(0, 32)}`,
      ...(current?.requires ? { requires: current.requires } : {}),
    };
    const r = await this.renderOn(name, rel, node, (n) => (n === name ? candidate : this.repo.get(n)));
    if (!("error" in r)) return { checked: "render", node };
    const line = /\bline (\d+)/.exec(r.error)?.[1] ?? /\.ww:(\d+)/.exec(r.error)?.[1];
    return { checked: "render", node, problem: { kind: "render", template: rel, node, message: r.error, ...(line ? { line: Number(line) } : {}) } };
  }

  // ---- site overlays ----

  /** A path inside a site overlay, refusing `..`, NUL and symlinks that leave it. */
  private sitePath(name: string, file: string): { dir: string; rel: string; path: string } {
    if (!OVERLAY_NAME.test(name)) throw invalid(`overlay name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_', '-', '+'`);
    let rel: string;
    try {
      rel = cleanRel(file);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    if (!rel) throw invalid("give a path inside the overlay, e.g. etc/motd.eta");
    const dir = this.repo.siteDir(name);
    const path = resolveIn(dir, rel);
    if (!path.startsWith(`${dir}/`)) throw invalid(`${file} leaves overlay ${name}`);
    return { dir, rel, path };
  }

  /** Creates an empty site overlay. */
  create(name: string): string {
    if (!OVERLAY_NAME.test(name)) throw invalid(`overlay name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_', '-', '+'`);
    if (this.repo.exists(name)) throw conflict(`overlay ${name} already exists${this.repo.isBuiltin(name) ? " (built in; 'drover overlay edit' copies it to the site)" : ""}`);
    return this.repo.ensureSite(name);
  }

  /**
   * Deletes a site overlay (a built-in of the same name shows through again), or one file/directory of it.
   * Nodes that list a deleted overlay are refused by lint and by their next build, never given a partial one.
   */
  delete(name: string, file?: string, opts: { force?: boolean } = {}): void {
    if (!file) {
      const dir = this.repo.siteDir(name);
      if (!OVERLAY_NAME.test(name) || !existsSync(dir))
        throw this.repo.isBuiltin(name) ? invalid(`overlay ${name} is built in and cannot be deleted; nodes stop using it when you remove it from their overlay lists`) : notFound(`overlay '${name}' does not exist`);
      const users = this.usersOf(name);
      if (users.length && !this.repo.isBuiltin(name) && !opts.force) throw inUse(`overlay ${name} is used by ${users.slice(0, 10).join(", ")}${users.length > 10 ? " …" : ""}; remove it from them first, or pass --force`);
      const trash = `${dir}.deleted-${process.pid}`;
      renameSync(dir, trash);
      rmSync(trash, { recursive: true, force: true });
      return;
    }
    const { path, rel } = this.sitePath(name, file);
    if (!existsSync(path)) throw notFound(`overlay ${name} has no ${rel} in the site copy`);
    if (statSync(path).isDirectory() && readdirSync(path).length && !opts.force) throw invalid(`${rel} in overlay ${name} is a directory with files in it; pass --force to delete them too`);
    rmSync(path, { recursive: true });
  }

  /** Nodes and profiles that list an overlay. */
  usersOf(name: string): string[] {
    const st = this.snapshot();
    const out: string[] = [];
    for (const [p, c] of st.profiles) if ([...(c.systemOverlay ?? []), ...(c.runtimeOverlay ?? [])].includes(name)) out.push(`profile ${p}`);
    for (const [n, c] of st.resolved) if ([...(c.conf.systemOverlay ?? []), ...(c.conf.runtimeOverlay ?? [])].includes(name)) out.push(n);
    return out;
  }

  /** Reads a file of an overlay (site copy or built-in). */
  readFile(name: string, file: string): { data: Uint8Array; mode: number; uid: number; gid: number } {
    const t = this.tree(name);
    const rel = cleanRel(file);
    const e = t.entries.find((x) => x.path === rel);
    if (!e || e.type !== "file") throw notFound(`overlay ${name} has no file ${rel}; 'drover overlay list -a ${name}' lists its files`);
    return e;
  }

  /** Writes a file into the site copy of an overlay (copying a built-in first), atomically. */
  writeFile(name: string, file: string, data: Uint8Array | string, opts: { mode?: number; uid?: number; gid?: number } = {}): string {
    this.repo.ensureSite(name);
    const { path, rel } = this.sitePath(name, file);
    const mode = opts.mode ?? (existsSync(path) ? statSync(path).mode & 0o7777 : 0o644);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, data, { mode });
    chmodSync(tmp, mode);
    if (opts.uid !== undefined || opts.gid !== undefined) chownSync(tmp, opts.uid ?? 0, opts.gid ?? 0);
    renameSync(tmp, path);
    return rel;
  }

  mkdir(name: string, dir: string, mode = 0o755): void {
    this.repo.ensureSite(name);
    const { path } = this.sitePath(name, dir);
    mkdirSync(path, { recursive: true, mode });
    chmodSync(path, mode);
  }

  chmod(name: string, file: string, mode: number): void {
    this.repo.ensureSite(name);
    const { path, rel } = this.sitePath(name, file);
    if (!existsSync(path)) throw notFound(`overlay ${name} has no ${rel}`);
    chmodSync(path, mode);
  }

  chown(name: string, file: string, uid: number, gid: number): void {
    this.repo.ensureSite(name);
    const { path, rel } = this.sitePath(name, file);
    if (!existsSync(path)) throw notFound(`overlay ${name} has no ${rel}`);
    chownSync(path, uid, gid);
  }

  /**
   * Copies a head-node file into an overlay. A Warewulf `.ww` template is kept as it is (warewulf.ts renders
   * it); `converted` is always false now and stays for the API's shape.
   */
  importFile(name: string, source: string, dest?: string): { path: string; converted: boolean } {
    if (!existsSync(source)) throw notFound(`${source} does not exist on this host`);
    const st = statSync(source);
    if (!st.isFile()) throw invalid(`${source} is not a regular file`);
    return this.importData(name, source, new Uint8Array(readFileSync(source)), dest, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  }

  /**
   * importFile with the bytes already read (by the CLI, possibly on a remote client's machine): `source` names
   * them in messages and is the default destination; `meta` is the source's mode and owner where known.
   */
  importData(name: string, source: string, bytes: Uint8Array, dest?: string, meta: { mode?: number; uid?: number; gid?: number } = {}): { path: string; converted: boolean } {
    const target = dest ?? source;
    const data: Uint8Array | string = bytes;
    const converted = false;
    // A Warewulf `.ww` template is kept as it is: drover renders it with Go's template semantics.
    const path = this.writeFile(name, target, data, meta);
    return { path, converted };
  }

  /**
   * Reads a Warewulf overlay directory (`NAME/rootfs/…` since Warewulf 4.5, `NAME/…` before) into memory:
   * files, directories and symlinks with their modes and owners. Throws (invalid) on what cannot be read,
   * before anything is written; other file types (devices, sockets) are left out with a note.
   */
  readWarewulfOverlay(dir: string): { root: string; entries: WarewulfEntry[]; notes: string[] } {
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

  /**
   * Makes a site overlay of entries read by readWarewulfOverlay, replacing a site overlay of that name whole
   * (a Warewulf site overlay shadows the distribution's whole, as drover's do): built in a temporary directory
   * and renamed into place, so a node never sees half an overlay. `.ww` templates are kept: drover renders
   * them with Go's template semantics.
   */
  writeSiteOverlay(name: string, entries: readonly WarewulfEntry[]): { replaced: boolean } {
    if (!OVERLAY_NAME.test(name)) throw invalid(`overlay name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_', '-', '+'`);
    const dir = this.repo.siteDir(name);
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

  /** The variables a template uses (`overlay info`): every `it.…` path it mentions. */
  info(name: string, file: string): { variables: string[]; helpers: string[] } {
    const text = new TextDecoder().decode(this.readFile(name, file).data);
    const helpers = new Set(["include", "includeFrom", "file", "softlink", "abort", "nobackup", "opt", "sh", "fail", "hostKey", "syncuser", "dump", "helpers"]);
    const vars = new Set<string>();
    const used = new Set<string>();
    for (const m of text.matchAll(/\bit\.([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)/g)) {
      const path = m[1]!;
      const head = path.split(".")[0]!;
      if (helpers.has(head)) used.add(head);
      else vars.add(`it.${path}`);
    }
    return { variables: [...vars].sort(), helpers: [...used].sort() };
  }

  /**
   * Lint: problems that make nodes boot wrong, found before they boot — the static checks, and every
   * node's archives built as a boot request would build them (stale ones are built into the cache): an
   * archive that cannot be built, a runtime overlay left out, an overlay skipped for the image (a note).
   */
  async lint(patterns: readonly string[] = []): Promise<LintWarning[]> {
    const outcomes = await this.build(patterns);
    return [...this.staticLint(patterns), ...archiveWarnings(outcomes)];
  }

  /**
   * Each node's archive problems, as lines for `node list -l` and the node page: what would not build, what
   * is left out. Builds stale archives as a boot request would.
   */
  async archiveProblems(names: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!names.length) return out;
    for (const o of await this.build(names)) {
      const l = out.get(o.node) ?? [];
      if (o.status === "error") l.push(`${o.kind} overlay cannot be built: ${o.message}`);
      for (const n of o.notes ?? []) l.push(noteLine(o.kind, n));
      if (l.length) out.set(o.node, l);
    }
    return out;
  }

  /** The checks that need no build: missing overlays, early files in runtime overlays, NFS, netmasks, syntax. */
  staticLint(patterns: readonly string[] = []): LintWarning[] {
    const st = this.snapshot();
    const names = matchNames([...st.resolved.keys()], patterns);
    return lintOverlays({
      nodes: names.map((n) => st.resolved.get(n)!),
      profiles: patterns.length ? new Map() : st.profiles,
      tree: (n) => this.repo.get(n),
      overlayNames: this.repo.names().map((o) => o.name),
      imageRoot: this.opts.imageRoot,
    });
  }
}

/** A note of an archive as one line: `runtime overlay syncuser: …`. */
export function noteLine(kind: OverlayKind, n: ArchiveNote): string {
  return n.level === "error" ? `${kind} overlay ${n.overlay} left out: ${n.message}` : `${kind} overlay ${n.overlay}: ${n.message}`;
}

/**
 * Lint warnings from build outcomes: archives that cannot be built and runtime overlays left out (one per
 * node: their messages name it), accounts syncuser left alone, and overlays skipped for an image (notes,
 * which do not fail lint), each once with its nodes.
 */
export function archiveWarnings(outcomes: readonly BuildOutcome[]): LintWarning[] {
  const by = new Map<string, LintWarning>();
  const add = (message: string, node: string, level?: "note") => {
    const k = `${level ?? ""}\0${message}`;
    let w = by.get(k);
    if (!w) by.set(k, (w = { message, nodes: [], ...(level ? { level } : {}) }));
    if (!w.nodes.includes(node)) w.nodes.push(node);
  };
  for (const o of outcomes) {
    if (o.status === "error") add(`the ${o.kind} archive would not build, so the node would not boot: ${o.message}`, o.node);
    for (const n of o.notes ?? []) add(noteLine(o.kind, n), o.node, n.level === "skipped" ? "note" : undefined);
  }
  return [...by.values()];
}

/** The message for errors a user can act on; undefined for bugs (which propagate). */
/** A job for the kept render thread. */
interface SandboxJob {
  input: NodeInput;
  kind: string;
  overlays: readonly string[];
  preview?: boolean;
  render?: { overlay: string; path: string };
}

/** A render thread's answer as an archive to store, or the error it carries (an OverlayBuildError for a user's). */
function builtOf(r: JobResult, kind: string, node: string): Built {
  if (r.ok && "own" in r) return r;
  if (r.ok) throw new Error(`the ${kind} overlay of ${node}: a render answer where an archive was expected`);
  if ("local" in r) throw new OverlayBuildError(`the ${kind} overlay of ${node} needs ${r.need && "image" in r.need ? `image ${r.need.image}` : "a host key"}, which could not be provided`);
  if (r.user) throw new OverlayBuildError(r.message);
  throw new Error(`the ${kind} overlay of ${node} could not be built: ${r.message}`);
}

function userMessage(e: unknown): string | undefined {
  if (e instanceof TemplateError || e instanceof OverlayBuildError || e instanceof MissingValue) return e.message;
  return undefined;
}

function writeAll(path: string, data: Uint8Array, flag: "w" | "wx") {
  const fd = openSync(path, flag, 0o600);
  try {
    let o = 0;
    while (o < data.length) o += writeSync(fd, data, o, data.length - o);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a file named by its content: a complete file of that name already is this content. A short one
 * (a crash mid-write) is replaced through a temporary file, so no reader ever sees a partial one.
 */
function writeOnce(path: string, data: Uint8Array) {
  try {
    writeAll(path, data, "wx");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    if (statSync(path).size !== data.length) {
      const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
      writeAll(tmp, data, "w");
      renameSync(tmp, path);
    }
  }
}

export function atomicWrite(path: string, data: Uint8Array | string, mode: number) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function keygenArgs(tmp: string, type: string, node: string) {
  return ["-q", "-t", type, "-N", "", "-C", `root@${node}`, "-f", tmp];
}

function placeKey(tmp: string, path: string) {
  renameSync(`${tmp}.pub`, `${path}.pub`);
  renameSync(tmp, path);
}

/** Creates a node's host key pair once (ssh-keygen), 0600, under its secrets directory; kept forever. */
export function ensureHostKey(path: string, type: string, node: string) {
  if (existsSync(path) && existsSync(`${path}.pub`)) return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const r = spawnSync("ssh-keygen", keygenArgs(tmp, type, node), { stdio: ["ignore", "ignore", "pipe"] });
  if (r.error || r.status !== 0)
    throw new MissingValue(`could not create the ${type} host key of node ${node} with ssh-keygen (${r.error?.message ?? r.stderr?.toString().trim()}); install openssh-client on the head node`);
  placeKey(tmp, path);
}

async function generateHostKey(path: string, type: string, node: string) {
  if (existsSync(path) && existsSync(`${path}.pub`)) return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const p = Bun.spawn(["ssh-keygen", ...keygenArgs(tmp, type, node)], { stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new MissingValue(`could not create the ${type} host key of node ${node} with ssh-keygen (${(await new Response(p.stderr).text()).trim()})`);
  placeKey(tmp, path);
}

/**
 * Server settings when no `drover serve` configuration is at hand (the CLI): the host's first IPv4
 * interface and the default port. `drover serve` replaces them with its own through setServer().
 */
export function guessServerSettings(ifaces: Record<string, { address: string; netmask: string; family: string; internal: boolean }[] | undefined>, port = 9873): ServerSettings {
  for (const addrs of Object.values(ifaces)) for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return { address: a.address, netmask: a.netmask, port, hostname: hostname() };
  return { address: "127.0.0.1", netmask: "255.0.0.0", port, hostname: hostname() };
}

/**
 * The server settings `drover serve` should hand to the overlays (OverlayService.setServer): the address
 * of the first DHCP interface (else the listen address when it is specific, else the host's first IPv4
 * address), its netmask and DNS servers, and the HTTP port actually bound. Structural parameter type, so
 * this module does not depend on the config module.
 */
export function serverSettingsFromServe(
  cfg: { http: { listen: string }; dhcp: { interfaces: { serverIp: string; netmask: string; dns?: string[] }[] } },
  httpPort: number,
  fallback: ServerSettings,
): ServerSettings {
  const i = cfg.dhcp.interfaces[0];
  if (i) return { ...fallback, address: i.serverIp, netmask: i.netmask, port: httpPort, ...(i.dns?.length ? { dns: i.dns } : {}) };
  if (cfg.http.listen !== "0.0.0.0" && cfg.http.listen !== "::") return { ...fallback, address: cfg.http.listen, port: httpPort };
  return { ...fallback, port: httpPort };
}
