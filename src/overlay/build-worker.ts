// An overlay build thread (see pool.ts): renders, packs and compresses the archives it is sent, and
// writes nothing. A build entrypoint of the executable (build.ts), so it must stay importable on its own.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Conf } from "../domain/conf";
import { DeferToCaller, type HostEnv, OverlayBuildError, type Snapshot, buildArchive } from "./build";
import type { FromWorker, JobResult, ToWorker } from "./pool";
import type { OverlayTree } from "./repo";
import { MissingValue, TemplateError } from "./template";

declare const self: Worker;

/** The job needs something only the calling thread has (another image's root, a host key to create). */
class NeedsCaller extends DeferToCaller {}

let snap: Snapshot;
let trees: Map<string, OverlayTree>;
let env: HostEnv;
let progress: Int32Array;
/** The batch, for buildArchive's once-per-batch checks of shared renders' outside files. */
const batch = {};
/** Shared members whose bytes this thread has sent already. */
const sent = new Set<string>();

/** A node's jobs (system, runtime) come one after the other with the same document: parsed once. */
let lastJson = "";
let lastConf: Conf = {};
const confOf = (json: string): Conf => {
  if (json !== lastJson) [lastJson, lastConf] = [json, JSON.parse(json) as Conf];
  return lastConf;
};

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.t === "init") {
    const { init } = m;
    progress = new Int32Array(m.progress);
    snap = { ...init.snap, memo: new Map() };
    trees = new Map(init.trees.map((t) => [t.name, t]));
    env = {
      headRoot: init.env.headRoot,
      imageRoot: (image) => {
        const root = init.env.images[image];
        if (root === undefined) throw new NeedsCaller(image);
        return root ?? undefined;
      },
      nodeSecretsDir: (node) => join(init.env.secretsRoot, node),
      ensureHostKey: (path) => {
        if (!existsSync(path) || !existsSync(`${path}.pub`)) throw new NeedsCaller(path);
      },
      version: init.env.version,
      host: init.env.host,
    };
    return;
  }
  const results = m.jobs.map((j, i): JobResult => {
    progress[0] = m.first + i;
    progress[1] = -1;
    progress[2] = -1;
    try {
      const b = buildArchive({ name: j.name, conf: confOf(j.confJson), profiles: j.profiles }, j.overlays, (n) => trees.get(n), snap, env, batch, (o, e) => {
        progress[1] = o;
        progress[2] = e;
      }, { isolate: j.kind === "runtime" });
      const shared = b.shared.map((s) => {
        if (sent.has(s.digest)) return { digest: s.digest };
        sent.add(s.digest);
        return { digest: s.digest, gz: s.gz };
      });
      return { ok: true, shared, own: b.own, size: b.size, etag: b.etag, deps: b.deps, usesAll: b.usesAll, files: b.files, notes: b.notes };
    } catch (e) {
      if (e instanceof NeedsCaller || (e instanceof TemplateError && e.cause instanceof NeedsCaller)) return { ok: false, local: true };
      const user = e instanceof TemplateError || e instanceof OverlayBuildError || e instanceof MissingValue;
      return { ok: false, user, message: user ? (e as Error).message : `${(e as Error).stack ?? e}` };
    }
  });
  postMessage({ t: "done", first: m.first, results } satisfies FromWorker);
};
