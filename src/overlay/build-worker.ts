// An overlay build thread (see pool.ts): renders, packs and compresses the archives it is sent, and
// writes nothing. It is also the only place templates run (sandbox.ts): its realm is locked below, once its
// own imports have run. A build entrypoint of the executable (build.ts), so it must stay importable on its own.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Conf } from "../domain/conf";
import { DeferToCaller, type HostEnv, OverlayBuildError, type Snapshot, buildArchive, renderOne } from "./build";
import { type PeerView, nodeView } from "./data";
import type { FromWorker, JobResult, ToWorker } from "./pool";
import type { OverlayTree } from "./repo";
import { lockRealm } from "./sandbox";
import { MissingValue, TemplateError, setRenderTimeLimit } from "./template";

declare const self: Worker;

/** The job needs something only the calling thread has (another image's root, a host key to create). */
class NeedsCaller extends DeferToCaller {
  constructor(readonly need: { image: string } | { hostKey: string }) {
    super("image" in need ? `image ${need.image}` : need.hostKey);
  }
}

let snap: Snapshot | undefined;
/** The peers of `snap` by name, for the next snapshot's patch. */
let byName = new Map<string, PeerView>();
const trees = new Map<string, OverlayTree>();
let env: HostEnv;
let progress: Int32Array;
/** Templates that ran out of time on a thread of this pool: refused without running again. */
let poisoned = new Map<string, string>();
/** The batch, for buildArchive's once-per-batch checks of shared renders' outside files. */
let batch = {};
/** Shared members whose bytes this thread has sent already. */
const sent = new Set<string>();

/** A node's jobs (system, runtime) come one after the other with the same document: parsed once. */
let lastJson = "";
let lastConf: Conf = {};
const confOf = (json: string): Conf => {
  if (json !== lastJson) [lastJson, lastConf] = [json, JSON.parse(json) as Conf];
  return lastConf;
};

/** Before each template: where this thread is (pool.ts reports it when the thread dies or stalls). */
const at = (o: number, e: number) => {
  progress[1] = o;
  progress[2] = e;
  Atomics.add(progress, 3, 1);
};

const poisonKey = (t: OverlayTree, path: string) => `${t.name}\0${t.fingerprint}\0${path}`;

function refusePoisoned(node: string, overlays: readonly string[], o: number, e: number) {
  const t = trees.get(overlays[o]!);
  const path = t?.entries[e]?.path;
  if (!t || path === undefined) return;
  const why = poisoned.get(poisonKey(t, path));
  if (why) throw new TemplateError(`overlay ${t.name}, template ${path}, node ${node}: ${why}`, { overlay: t.name, template: path, node });
}

/** Templates that ran out of time here since the last answer, for the pool to keep (see pool.ts). */
let newPoisons: [string, string][] = [];
/** Time-outs per template: the second (another node) makes it poisoned, so a loop costs two limits, not one per node. */
const timeouts = new Map<string, string[]>();
const onTimeout = (overlay: string, path: string, node: string, message: string) => {
  const t = trees.get(overlay);
  if (!t) return;
  const seen = timeouts.get(poisonKey(t, path)) ?? [];
  timeouts.set(poisonKey(t, path), [...seen, node]);
  if (seen.length < 1) return;
  const why = `not run again until it changes: it ${message} for nodes ${seen[0]} and ${node}`;
  poisoned.set(poisonKey(t, path), why);
  newPoisons.push([poisonKey(t, path), why]);
};

// A template can leave a rejected promise behind (an async function that throws): never the end of the thread.
process.on("unhandledRejection", () => {});
self.addEventListener("unhandledrejection", (e) => e.preventDefault());

lockRealm();

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "init") {
    const { init } = m;
    if (m.progress) progress = new Int32Array(m.progress);
    if (init.timeLimitMs) setRenderTimeLimit(init.timeLimitMs, onTimeout);
    if (init.poisoned) poisoned = new Map(init.poisoned);
    // A new snapshot keeps the renders of the last one that read no node (static files, root's keys).
    const kept = (): Snapshot["memo"] => (snap ? new Map([...snap.memo].filter(([, v]) => !v.usesAll)) : new Map());
    if (init.snap) {
      snap = { ...init.snap, memo: kept() };
      byName = new Map(init.snap.peers.map((p) => [p.name, p]));
    } else if (init.snapPatch) {
      const p = init.snapPatch;
      for (const v of p.changed) byName.set(v.name, v);
      const peers = p.order.map((n) => byName.get(n)!);
      byName = new Map(peers.map((v) => [v.name, v]));
      snap = { peers, peersHash: p.peersHash, server: p.server, serverHash: p.serverHash, memo: kept() };
    }
    if (init.trees) {
      for (const t of init.trees) trees.set(t.name, t);
      if (snap) snap.memo = new Map();
    }
    if (init.env) {
      const e = init.env;
      env = {
        headRoot: e.headRoot,
        ...(e.dataDir ? { dataDir: e.dataDir } : {}),
        imageRoot: (image) => {
          const root = e.images[image];
          if (root === undefined) throw new NeedsCaller({ image });
          return root ?? undefined;
        },
        nodeSecretsDir: (node) => join(e.secretsRoot, node),
        ensureHostKey: (path) => {
          if (!existsSync(path) || !existsSync(`${path}.pub`)) throw new NeedsCaller({ hostKey: path });
        },
        version: e.version,
        host: e.host,
      };
    }
    return;
  }
  // Shared renders' outside files are checked once per list of jobs (a kept thread lives across requests).
  batch = {};
  const results = m.jobs.map((j, i): JobResult => {
    progress[0] = m.first + i;
    progress[1] = -1;
    progress[2] = -1;
    Atomics.add(progress, 3, 1);
    try {
      const input = { name: j.name, conf: confOf(j.confJson), profiles: j.profiles };
      if (j.render) {
        const t = trees.get(j.render.overlay);
        const ei = t?.entries.findIndex((x) => x.path === j.render!.path && x.type === "file") ?? -1;
        const e = t?.entries[ei];
        if (!t || !e || e.type !== "file") throw new OverlayBuildError(`overlay ${j.render.overlay} has no file ${j.render.path}`);
        at(0, ei);
        refusePoisoned(j.name, [t.name], 0, ei);
        return { ok: true, rendered: renderOne(t, e, nodeView(input.name, input.conf, input.profiles), snap!, env, []).files };
      }
      const b = buildArchive(
        input,
        j.overlays,
        (n) => trees.get(n),
        snap!,
        env,
        batch,
        (o, e) => {
          at(o, e);
          refusePoisoned(j.name, j.overlays, o, e);
        },
        { isolate: j.kind === "runtime" && !j.preview },
      );
      const shared = b.shared.map((s) => {
        if (sent.has(s.digest) && !j.preview && !j.allShared) return { digest: s.digest };
        sent.add(s.digest);
        return { digest: s.digest, gz: s.gz };
      });
      return { ok: true, shared, own: b.own, size: b.size, etag: b.etag, deps: b.deps, usesAll: b.usesAll, files: b.files, notes: b.notes };
    } catch (e) {
      const need = e instanceof NeedsCaller ? e : e instanceof TemplateError && e.cause instanceof NeedsCaller ? e.cause : undefined;
      if (need) return { ok: false, local: true, need: need.need };
      const user = e instanceof TemplateError || e instanceof OverlayBuildError || e instanceof MissingValue;
      return { ok: false, user, message: user ? (e as Error).message : `${(e as Error).stack ?? e}` };
    }
  });
  const poisons = newPoisons;
  newPoisons = [];
  postMessage({ t: "done", first: m.first, results, ...(poisons.length ? { poisons } : {}) } satisfies FromWorker);
};
