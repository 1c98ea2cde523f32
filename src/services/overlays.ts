import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import type { BootArtifact, BootRefusal, OverlayArtifacts } from "../boot/ports";
import type { Conf } from "../domain/conf";
import { inUse, invalid, notFound } from "../domain/errors";
import { cleanRel } from "../image/fspath";
import { matchNames } from "../domain/hostlist";
import { type ArchiveKind, ArchiveCache, type Built, type CacheMeta } from "../overlay/archive-cache";
import { type ArchiveNote, type NodeInput, OverlayBuildError, type Snapshot, hashOf } from "../overlay/build";
import { type PeerView, type ServerSettings, peerView, serverView } from "../overlay/data";
import { type ReadEntry, readCpio } from "../overlay/cpio";
import { generateHostKey, prepareHostKeys } from "../overlay/host-keys";
import { type LintWarning, lintOverlays } from "../overlay/lint";
import { type BuildJob, BuildPool, type JobResult, type PoolInit, type SnapPatch } from "../overlay/pool";
import { OverlayRepo, type OverlayTree } from "../overlay/repo";
import { MissingValue, type RenderedFile, TEMPLATE_SUFFIX, TemplateError, etaSyntaxProblem } from "../overlay/template";
import { wwSyntaxError } from "../overlay/warewulf";
import { COMMIT, VERSION } from "../version";
import { NodeSnapshot, type NodeView } from "./node-snapshot";
import type { NodeStore } from "./ports";

export type OverlayKind = ArchiveKind;

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

/** Where the service's nodes come from: the app's shared snapshot, or one of its own over a store. */
export type OverlayNodes = { snapshot: NodeSnapshot } | { nodeStore: NodeStore; nodesVersion?: () => string };

export type OverlayServiceOptions = OverlayNodes & {
  dataDir: string;
  /** An image's root directory when the image exists. */
  imageRoot: (image: string) => string | undefined;
  /** The head node as nodes see it. `drover serve` passes its own; the CLI a guess from the host. */
  server: ServerSettings;
  /** Root for it.include() (default "/"). */
  headRoot?: string;
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
};

export interface BuildOutcome {
  node: string;
  kind: OverlayKind;
  status: "built" | "fresh" | "error";
  size?: number;
  files?: number;
  message?: string;
  notes?: ArchiveNote[];
}

/** What the overlays derive from a node view: every node's peer view, their hashes, the batch snapshot. */
interface Peers {
  view: NodeView;
  peerJson: Map<string, string>;
  /** Each node's peer view, reused while the node is unchanged. */
  peerViews: Map<string, PeerView>;
  /** Two 64-bit hashes of each node's peer view; their sums (mod 2^64) make the all-nodes hash. */
  peerHashes: Map<string, [bigint, bigint]>;
  /** Their sums, kept up to date as nodes change (a change costs its own hashes, not 10,000 additions). */
  peerSum: [bigint, bigint];
  snap: Snapshot;
  /** What snapshot() returns for this view. */
  out: OverlaySnapshot;
}

/** The nodes and what every node's render shares, at one moment. */
export interface OverlaySnapshot {
  resolved: ReadonlyMap<string, NodeInput>;
  profiles: ReadonlyMap<string, Conf>;
  snap: Snapshot;
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
  private readonly cache: ArchiveCache;
  private readonly nodes: NodeSnapshot;
  private readonly env: { headRoot: string; version: string; host: string; secretsRoot: string };
  private server: ServerSettings;
  private serverPart: { server: Snapshot["server"]; serverHash: string };
  private peers?: Peers;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: OverlayServiceOptions) {
    this.repo = new OverlayRepo(join(opts.dataDir, "overlays"));
    this.cache = new ArchiveCache(opts.cacheDir ?? join(opts.dataDir, "overlay-cache"));
    this.nodes =
      "snapshot" in opts ? opts.snapshot : new NodeSnapshot({ nodeStore: opts.nodeStore, ...(opts.nodesVersion ? { version: opts.nodesVersion } : {}) });
    this.server = opts.server;
    this.log = opts.log ?? (() => {});
    this.env = {
      headRoot: opts.headRoot ?? "/",
      version: `${VERSION} (${COMMIT})`,
      host: opts.server.hostname ?? hostname(),
      secretsRoot: join(opts.dataDir, "nodes"),
    };
    this.serverPart = this.serverOf();
  }

  private serverOf() {
    const server = serverView({ ...this.server, hostname: this.env.host });
    return { server, serverHash: hashOf(JSON.stringify(server), this.env.host) };
  }

  /** Replaces the server settings (`drover serve` calls this with its resolved configuration). */
  setServer(server: ServerSettings) {
    this.server = server;
    this.env.host = server.hostname ?? hostname();
    this.serverPart = this.serverOf();
    this.peers = undefined;
  }

  get serverSettings(): Readonly<ServerSettings> {
    return this.server;
  }

  // ---- the peers: what every node's templates see of all nodes ----

  /**
   * All nodes resolved (the node snapshot) and the all-nodes data templates see, built here once per change,
   * not once per node: only changed nodes' peer views are made again.
   */
  snapshot(): OverlaySnapshot {
    const view = this.nodes.current();
    const prev = this.peers;
    if (prev && prev.view === view) return prev.out;
    if (prev && view.changedFrom?.base === prev.view) return this.applyChanges(prev, view, view.changedFrom.names);
    const prevResolved = prev?.view.resolved;
    const peerJson = new Map<string, string>();
    const peerViews = new Map<string, PeerView>();
    const peerHashes = new Map<string, [bigint, bigint]>();
    for (const [name, input] of view.resolved) {
      if (prevResolved?.get(name) === input) {
        peerJson.set(name, prev!.peerJson.get(name)!);
        peerViews.set(name, prev!.peerViews.get(name)!);
        peerHashes.set(name, prev!.peerHashes.get(name)!);
        continue;
      }
      const pv = peerView(name, input.conf);
      peerViews.set(name, pv);
      const pj = JSON.stringify(pv);
      peerJson.set(name, pj);
      peerHashes.set(name, [BigInt(Bun.hash(pj, 1)), BigInt(Bun.hash(pj, 2))]);
    }
    const peerSum = sumHashes(peerHashes);
    const peersHash = peersHashOf(peerSum, peerHashes.size);
    const snap: Snapshot =
      prev && prev.snap.peersHash === peersHash
        ? prev.snap
        : { peers: [...peerViews.values()], peersHash, ...this.serverPart, memo: prev ? keepNodeIndependent(prev.snap.memo) : new Map() };
    this.peers = { view, peerJson, peerViews, peerHashes, peerSum, snap, out: { resolved: view.resolved, profiles: view.profiles, snap } };
    return this.peers.out;
  }

  /**
   * A few nodes changed (none added or removed, no profile changed): their peer views are made again and the
   * sums updated in place (only build() holds parts of a snapshot across an await, and it holds `resolved`
   * and `snap`, which are replaced here, never changed), so the cost is the changed nodes plus O(N) cheap
   * additions.
   */
  private applyChanges(prev: Peers, view: NodeView, names: readonly string[]): OverlaySnapshot {
    let peersChanged = false;
    for (const name of names) {
      const pv = peerView(name, view.resolved.get(name)!.conf);
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
      prev.snap = {
        peers: [...prev.peerViews.values()],
        peersHash: peersHashOf(prev.peerSum, prev.peerHashes.size),
        server: snap.server,
        serverHash: snap.serverHash,
        memo: keepNodeIndependent(snap.memo),
      };
    }
    prev.view = view;
    prev.out = { resolved: view.resolved, profiles: view.profiles, snap: prev.snap };
    return prev.out;
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
  private check(
    kind: OverlayKind,
    input: NodeInput,
    snap: Snapshot,
    trees: (n: string) => OverlayTree | undefined,
    metaFiles?: ReadonlySet<string>,
  ): { artifact: BootArtifact; meta: CacheMeta } | { key: string; overlays: string[] } {
    const { key, overlays } = this.key(kind, input, snap, trees);
    return this.cache.current(input.name, kind, key, snap.peersHash, metaFiles) ?? { key, overlays };
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
        const meta = this.cache.store(kind, input.name, c.key, snap.peersHash, builtOf(r!, kind, input.name));
        for (const n of meta.notes ?? [])
          if (n.level === "error") this.log(`drover: ${kind} overlay of ${input.name}: overlay ${n.overlay} left out: ${n.message}`);
        const artifact = this.cache.artifactOf(meta);
        if (!artifact) throw new Error(`the ${kind} archive of ${input.name} vanished from ${this.cache.root} right after it was written`);
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
        const pool = this.sandboxFor(
          snap,
          todo.map((i) => jobs[i]!),
          tree,
        );
        const sent = new Set(Object.keys(this.sandboxHas.images));
        const wire: BuildJob[] = todo.map((i) => {
          const j = jobs[i]!;
          return {
            name: j.input.name,
            confJson: this.jsonOf(j.input).json,
            profiles: j.input.profiles,
            kind: j.kind,
            overlays: j.overlays,
            allShared: true,
            ...(j.preview ? { preview: true } : {}),
            ...(j.render ? { render: j.render } : {}),
          };
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
    const env = this.workerEnv({ ...has.images });
    const snapPart = { peers: snap.peers, peersHash: snap.peersHash, server: snap.server, serverHash: snap.serverHash };
    if (!this.sandbox || this.sandbox.isClosed) {
      this.sandbox = new BuildPool(
        1,
        { snap: snapPart, trees, env },
        { timeLimitMs: this.opts.templateTimeoutMs ?? 5000, memoryLimitBytes: this.opts.templateMemoryBytes ?? 1024 ** 3 },
      );
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
      if (fresh.length <= snap.peers.length / 4)
        patch = { order: snap.peers.map((p) => p.name), changed: fresh, peersHash: snap.peersHash, server: snap.server, serverHash: snap.serverHash };
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
    await this.prepareHostKeys(
      names.map((n) => resolved.get(n)!),
      tree,
    );
    const out: BuildOutcome[] = [];
    const batch = this.cache.startBatch();
    type Job = { input: NodeInput; kind: OverlayKind; key: string; overlays: string[]; at: number };
    const jobs: Job[] = [];
    for (const name of names) {
      const input = resolved.get(name)!;
      for (const kind of kinds) {
        const c = this.check(kind, input, snap, tree, batch.metaFiles);
        if ("artifact" in c)
          out.push({ node: name, kind, status: "fresh", size: c.meta.size, files: c.meta.files, ...(c.meta.notes ? { notes: c.meta.notes } : {}) });
        else jobs.push({ input, kind, ...c, at: out.push({ node: name, kind, status: "built" }) - 1 });
      }
    }
    const done = (j: Job, built: Built) => {
      const m = this.cache.store(j.kind, j.input.name, j.key, snap.peersHash, built, batch);
      out[j.at] = { node: j.input.name, kind: j.kind, status: "built", size: m.size, files: m.files, ...(m.notes ? { notes: m.notes } : {}) };
    };
    const failed = (j: Job, message: string) => {
      out[j.at] = { node: j.input.name, kind: j.kind, status: "error", message };
    };
    const take = (j: Job, r: JobResult) => {
      if (r.ok) done(j, builtOf(r, j.kind, j.input.name));
      else if ("local" in r)
        failed(
          j,
          `the ${j.kind} overlay of ${j.input.name} needs ${r.need && "image" in r.need ? `image ${r.need.image}` : "a host key"}, which could not be provided`,
        );
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
        const pool = new BuildPool(threads, init, {
          timeLimitMs: this.opts.templateTimeoutMs ?? 5000,
          memoryLimitBytes: this.opts.templateMemoryBytes ?? 1024 ** 3,
        });
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
      this.cache.endBatch(batch);
    }
    this.cache.collectGarbage(true);
    return out;
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
      env: this.workerEnv(images),
    };
  }

  /** What a render thread knows of this host (see overlay/pool.ts). */
  private workerEnv(images: Record<string, string | null>): PoolInit["env"] {
    return {
      headRoot: this.env.headRoot,
      dataDir: resolvePath(this.opts.dataDir),
      version: this.env.version,
      host: this.env.host,
      secretsRoot: this.env.secretsRoot,
      images,
    };
  }

  /** Generates missing SSH host keys for nodes whose overlays call it.hostKey() (overlay/host-keys.ts). */
  prepareHostKeys(nodes: readonly NodeInput[], trees: (n: string) => OverlayTree | undefined = (n) => this.repo.get(n)): Promise<number> {
    return prepareHostKeys(nodes, trees, this.env.secretsRoot);
  }

  /**
   * Renders and packs the given overlays for a node without touching the cache, and reads the archive
   * back: exactly the files a node would get (golden tests, `overlay show --render` of a whole overlay).
   * A template that cannot render for this node is the admin's to fix: an `invalid` DroverError saying why.
   */
  async preview(nodeName: string, overlays: readonly string[]): Promise<ReadEntry[]> {
    const input = this.node(nodeName);
    const snap = this.snapshot().snap;
    const tree = (n: string) => this.repo.get(n);
    const [r] = await this.inSandbox(snap, [{ input, kind: "system", overlays: [...overlays], preview: true }], tree);
    let built: Built;
    try {
      built = builtOf(r!, "preview", nodeName);
    } catch (e) {
      const msg = userMessage(e);
      throw msg === undefined ? e : invalid(msg);
    }
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
  private async renderOn(
    overlay: string,
    rel: string,
    nodeName: string,
    tree: (n: string) => OverlayTree | undefined,
  ): Promise<{ rendered: RenderedFile[] } | { error: string }> {
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

  // ---- site overlays (OverlayRepo edits them) ----

  create(name: string): string {
    return this.repo.create(name);
  }

  /**
   * Deletes a site overlay (a built-in of the same name shows through again), or one file/directory of it.
   * Nodes that list a deleted overlay are refused by lint and by their next build, never given a partial one.
   */
  delete(name: string, file?: string, opts: { force?: boolean } = {}): void {
    if (file) return this.repo.deletePath(name, file, !!opts.force);
    if (!this.repo.hasSite(name))
      throw this.repo.isBuiltin(name)
        ? invalid(`overlay ${name} is built in and cannot be deleted; nodes stop using it when you remove it from their overlay lists`)
        : notFound(`overlay '${name}' does not exist`);
    const users = this.usersOf(name);
    if (users.length && !this.repo.isBuiltin(name) && !opts.force)
      throw inUse(`overlay ${name} is used by ${users.slice(0, 10).join(", ")}${users.length > 10 ? " …" : ""}; remove it from them first, or pass --force`);
    this.repo.deleteSite(name);
  }

  writeFile(name: string, file: string, data: Uint8Array | string, opts: { mode?: number; uid?: number; gid?: number } = {}): string {
    return this.repo.writeFile(name, file, data, opts);
  }

  mkdir(name: string, dir: string, mode = 0o755): void {
    this.repo.mkdir(name, dir, mode);
  }

  chmod(name: string, file: string, mode: number): void {
    this.repo.chmod(name, file, mode);
  }

  chown(name: string, file: string, uid: number, gid: number): void {
    this.repo.chown(name, file, uid, gid);
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
  importData(
    name: string,
    source: string,
    bytes: Uint8Array,
    dest?: string,
    meta: { mode?: number; uid?: number; gid?: number } = {},
  ): { path: string; converted: boolean } {
    // A Warewulf `.ww` template is kept as it is: drover renders it with Go's template semantics.
    return { path: this.repo.writeFile(name, dest ?? source, bytes, meta), converted: false };
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
  if ("local" in r)
    throw new OverlayBuildError(
      `the ${kind} overlay of ${node} needs ${r.need && "image" in r.need ? `image ${r.need.image}` : "a host key"}, which could not be provided`,
    );
  if (r.user) throw new OverlayBuildError(r.message);
  throw new Error(`the ${kind} overlay of ${node} could not be built: ${r.message}`);
}

/** The message for errors a user can act on; undefined for bugs (which propagate). */
function userMessage(e: unknown): string | undefined {
  if (e instanceof TemplateError || e instanceof OverlayBuildError || e instanceof MissingValue) return e.message;
  return undefined;
}
