import { z } from "zod";
import { DroverError, notFound } from "../../domain/errors";
import type { Progress } from "../../image/importer";
import type { ApiDeps } from "./context";
import { type ApiRouter, param } from "./router";

/**
 * Long image operations (import, build) run as jobs: the request answers 202 with a job id at once, and
 * GET /jobs/:id reports the progress (bytes of the current step) until the job ends. Jobs live in memory
 * for the server's lifetime (the newest 100 are kept).
 */
export interface Job {
  id: string;
  kind: "import" | "build";
  image: string;
  state: "running" | "done" | "failed";
  step?: { label: string; total: number; done: number };
  notes: string[];
  startedAt: number;
  endedAt?: number;
  error?: string;
  result?: unknown;
}

export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private seq = 0;

  start(kind: Job["kind"], image: string, run: (p: Progress) => Promise<unknown>): Job {
    const job: Job = { id: `${Date.now().toString(36)}-${++this.seq}`, kind, image, state: "running", notes: [], startedAt: Date.now() };
    this.jobs.set(job.id, job);
    if (this.jobs.size > 100) this.jobs.delete(this.jobs.keys().next().value!);
    const progress: Progress = {
      start: (label, total) => void (job.step = { label, total, done: 0 }),
      advance: (n) => void (job.step && (job.step.done += n)),
      done: () => void (job.step && (job.step.done = job.step.total)),
      note: (line) => void (job.notes.length < 200 && job.notes.push(line)),
    };
    run(progress).then(
      (result) => Object.assign(job, { state: "done", result, endedAt: Date.now() }),
      (e: unknown) =>
        Object.assign(job, { state: "failed", error: e instanceof DroverError ? e.message : `internal error: ${(e as Error).message}`, endedAt: Date.now() }),
    );
    return job;
  }

  get(id: string): Job {
    const j = this.jobs.get(id);
    if (!j) throw notFound(`no job ${id} (jobs are kept in memory until drover serve restarts)`);
    return j;
  }

  list(): Job[] {
    return [...this.jobs.values()].reverse();
  }
}

export function imageRoutes(r: ApiRouter, deps: ApiDeps) {
  const jobs = new Jobs();
  r.add({ method: "get", path: "/images", tag: "images", summary: "every image: source, built, size, default kernel, nodes using it" }, (c) =>
    c.json(deps.images.list()),
  );
  r.add({ method: "get", path: "/images/:name", tag: "images", summary: "one image with kernels, the RAM a node needs, and warnings" }, (c) =>
    c.json(deps.images.show(param(c, "name"))),
  );
  r.add({ method: "get", path: "/images/:name/kernels", tag: "images", summary: "the kernels found in an image" }, (c) =>
    c.json(deps.images.kernels(param(c, "name"))),
  );
  r.add(
    {
      method: "post",
      path: "/images",
      tag: "images",
      status: 202,
      summary: "import an image from a registry reference (docker://…), an archive or a directory; answers with a job to follow",
      body: z.object({
        source: z.string().min(1),
        name: z.string().min(1),
        force: z.boolean().optional(),
        build: z.boolean().optional(),
        platform: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        nohttps: z.boolean().optional(),
      }),
    },
    (c, { body }) => {
      const { source, name, ...opts } = body;
      return c.json(
        jobs.start("import", name, (progress) => deps.images.import(source, name, { ...opts, progress })),
        202,
      );
    },
  );
  r.add(
    { method: "post", path: "/images/:name/build", tag: "images", status: 202, summary: "build an image's bootable archive; answers with a job to follow" },
    (c) => {
      const name = param(c, "name");
      deps.images.show(name); // a missing image is a 404 now, not a failed job later
      return c.json(
        jobs.start("build", name, () => deps.images.build(name)),
        202,
      );
    },
  );
  r.add(
    {
      method: "delete",
      path: "/images/:name",
      tag: "images",
      summary: "delete an image (refused while nodes use it unless force=true)",
      query: z.object({ force: z.stringbool().optional() }),
    },
    async (c, { query }) => {
      await deps.images.delete(param(c, "name"), !!query.force);
      return c.json({ deleted: param(c, "name") });
    },
  );
  r.add({ method: "get", path: "/jobs", tag: "images", summary: "recent image jobs, newest first" }, (c) => c.json(jobs.list()));
  r.add({ method: "get", path: "/jobs/:id", tag: "images", summary: "one job: state, current step with bytes done of total, notes, result or error" }, (c) =>
    c.json(jobs.get(param(c, "id"))),
  );
}
