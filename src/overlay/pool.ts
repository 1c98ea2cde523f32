import { workerEntry } from "../runtime/worker-entry";
import type { BuiltArchive } from "./build";
import type { ServerView, PeerView } from "./data";
import type { OverlayTree } from "./repo";

/**
 * Build threads for `overlay build`: renders, packs and compresses archives on several cores.
 *
 * The threads only compute. The calling thread keeps everything with an owner: the node store (a thread
 * never opens the database), the freshness checks, and every write to the archive cache (shared members,
 * the batch's pack, the index), so the cache has one writer and its index is merged in one place.
 * A thread gets the batch's snapshot once (all nodes' peer views, the server, the overlay trees, the
 * node images' roots) and then lists of jobs; it answers with each archive's members, or with the error
 * a template raised (the same message as on the calling thread). A job a thread cannot do alone (a
 * template reads another image, a host key is missing) comes back marked `local` and is built by the
 * caller. A thread that dies fails the batch with the node and the template it was rendering.
 */

/** One archive to build: a node (after the cascade) and one kind of its overlays. */
export interface BuildJob {
  name: string;
  /** The node's document after the cascade, as JSON (a string crosses to a thread far faster than objects). */
  confJson: string;
  profiles: readonly string[];
  kind: string;
  overlays: readonly string[];
}

export type JobResult =
  /** A built archive without its manifest; `gz` of a shared member comes with a thread's first use of it. */
  | ({ ok: true; shared: { digest: string; gz?: Uint8Array }[] } & Omit<BuiltArchive, "shared" | "manifest">)
  /** `user`: a template's or an overlay's error (the caller reports it); otherwise a bug (the caller throws). */
  | { ok: false; message: string; user: boolean }
  /** The thread cannot build this one alone: the caller builds it. */
  | { ok: false; local: true };

/** What every thread of a batch gets once. */
export interface PoolInit {
  snap: { peers: PeerView[]; peersHash: string; server: ServerView; serverHash: string };
  trees: OverlayTree[];
  env: {
    headRoot: string;
    version: string;
    host: string;
    /** `<dataDir>/nodes`: each node's secrets (host keys) are in a directory named after it. */
    secretsRoot: string;
    /** The root directory of each image the batch's nodes use (null: the image does not exist). */
    images: Record<string, string | null>;
  };
}

export type ToWorker = { t: "init"; init: PoolInit; progress: SharedArrayBuffer } | { t: "jobs"; first: number; jobs: BuildJob[] };
export type FromWorker = { t: "done"; first: number; results: JobResult[] };

/** The build thread's Worker entrypoint (see runtime/worker-entry.ts). */
export function buildWorkerEntry(): string {
  return workerEntry(import.meta.url, "./build-worker.ts", "the overlay build thread");
}

interface Slot {
  w: Worker;
  /** Written by the thread before each template: [job index, overlay index, entry index]. */
  progress: Int32Array;
  /** Chunks sent and not yet answered, oldest first. */
  inflight: number;
}

export class BuildPool {
  private readonly slots: Slot[] = [];
  private closed = false;

  /** Starts `threads` threads and hands each the batch's snapshot. */
  constructor(
    threads: number,
    private readonly init: PoolInit,
    entry: string = buildWorkerEntry(),
  ) {
    for (let i = 0; i < threads; i++) {
      const progress = new Int32Array(new SharedArrayBuffer(12)).fill(-1);
      const w = new Worker(entry);
      w.postMessage({ t: "init", init, progress: progress.buffer as SharedArrayBuffer } satisfies ToWorker);
      this.slots.push({ w, progress, inflight: 0 });
    }
  }

  get threads(): number {
    return this.slots.length;
  }

  /**
   * Builds the jobs, handing each result to `onResult` (by the job's index) as it arrives. Resolves when
   * every job has answered; rejects when a thread dies or `onResult` throws.
   */
  run(jobs: readonly BuildJob[], onResult: (index: number, r: JobResult) => void): Promise<void> {
    if (jobs.length === 0) return Promise.resolve();
    // Small chunks keep both threads busy to the end; two in flight per thread hide the round trip.
    const chunk = Math.max(1, Math.min(100, Math.ceil(jobs.length / (this.slots.length * 8))));
    return new Promise<void>((resolve, reject) => {
      let next = 0;
      let answered = 0;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        this.close();
        reject(e);
      };
      const send = (s: Slot) => {
        if (failed || next >= jobs.length) return;
        const first = next;
        next = Math.min(jobs.length, next + chunk);
        s.inflight++;
        s.w.postMessage({ t: "jobs", first, jobs: jobs.slice(first, next) } satisfies ToWorker);
      };
      for (const s of this.slots) {
        s.w.onmessage = (ev: MessageEvent<FromWorker>) => {
          if (failed) return;
          const m = ev.data;
          s.inflight--;
          try {
            m.results.forEach((r, i) => onResult(m.first + i, r));
          } catch (e) {
            return fail(e instanceof Error ? e : new Error(String(e)));
          }
          answered += m.results.length;
          if (answered === jobs.length) return resolve();
          send(s);
        };
        s.w.onerror = (ev) => fail(new Error(this.died(s, jobs, ev.message)));
        s.w.addEventListener("close", (ev) => {
          if (!this.closed) fail(new Error(this.died(s, jobs, `exit code ${(ev as unknown as { code?: number }).code ?? "?"}`)));
        });
        send(s);
        send(s);
      }
    });
  }

  /** What a thread was doing when it died, from what it last wrote to its progress slots. */
  private died(s: Slot, jobs: readonly BuildJob[], why: string): string {
    const [j, o, e] = [s.progress[0]!, s.progress[1]!, s.progress[2]!];
    const job = jobs[j];
    if (!job) return `an overlay build thread stopped (${why}) before it started a node`;
    const overlay = job.overlays[o];
    const template = overlay === undefined ? undefined : this.init.trees.find((t) => t.name === overlay)?.entries[e]?.path;
    return `an overlay build thread stopped (${why}) while building the ${job.kind} overlay of node ${job.name}${template ? `, in template ${template} of overlay ${overlay}` : ""}`;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) s.w.terminate();
  }
}
