import { z } from "zod";
import { invalid, notFound } from "../../domain/errors";
import { expandHostlists } from "../../domain/hostlist";
import { POWER_ACTIONS, type PowerAction } from "../../power/types";
import type { PowerResult } from "../../services/power";
import type { ApiDeps } from "./context";
import { type ApiRouter, names, param } from "./router";

/**
 * Power from the API: one call that answers when every node is done (the CLI's shape), and jobs for the page,
 * which answer 202 at once and report each node's result as it arrives (GET /power-jobs/:id), so the page
 * shows "12 of 40 done" while a staggered cycle runs. What BMCs last said about power is kept per node with
 * its time, so the nodes table can show it with its age instead of pretending it is current.
 * Jobs and states live in memory for the server's lifetime (the newest 50 jobs are kept).
 */
export interface PowerJob {
  id: string;
  action: PowerAction;
  pxe: boolean;
  staggerMs: number;
  /** The nodes selected, in the order they are driven. */
  nodes: string[];
  total: number;
  done: number;
  state: "running" | "done";
  /** As they finish while running; in node order once done. */
  results: PowerResult[];
  /** How many of `results` failed (in GET answers). */
  failed?: number;
  startedAt: number;
  endedAt?: number;
  user?: string;
}

/** The last thing known about a node's power: what `status` read (and when), and any action sent since. */
export interface PowerState {
  /** "on"/"off" as the BMC said; absent when the last status failed. */
  state?: string;
  /** When the status was read (server clock, ms). */
  at?: number;
  ok?: boolean;
  message?: string;
  /** An action sent after that status (the state may have changed since). */
  lastAction?: { action: PowerAction; at: number; ok: boolean };
}

const list = (v: string | string[]) => expandHostlists(Array.isArray(v) ? v : v.split(/[\s,]+(?![^[]*\])/).filter(Boolean));
const actionOf = (a: string): PowerAction => {
  if (!(POWER_ACTIONS as readonly string[]).includes(a)) throw invalid(`path.action: use on, off, cycle, reset, soft or status, not '${a}'`);
  return a as PowerAction;
};

const runBody = z.object({
  nodes: names,
  pxe: z.boolean().optional(),
  fanout: z.number().int().min(1).max(1000).optional(),
  staggerMs: z.number().int().min(0).max(60_000).optional(),
});

export class PowerJobs {
  private readonly jobs = new Map<string, PowerJob>();
  readonly states = new Map<string, PowerState>();
  private seq = 0;
  constructor(private readonly now: () => number = Date.now) {}

  /** Remembers what a result says about the node's power. */
  record(action: PowerAction, r: PowerResult) {
    const at = this.now();
    const prev = this.states.get(r.node) ?? {};
    if (action === "status") this.states.set(r.node, { ...(r.ok && r.state ? { state: r.state } : {}), at, ok: r.ok, message: r.message });
    else this.states.set(r.node, { ...prev, lastAction: { action, at, ok: r.ok } });
  }

  add(job: PowerJob) {
    this.jobs.set(job.id, job);
    if (this.jobs.size > 50) this.jobs.delete(this.jobs.keys().next().value!);
  }

  nextId() {
    return `p${this.now().toString(36)}-${++this.seq}`;
  }

  get(id: string): PowerJob {
    const j = this.jobs.get(id);
    if (!j) throw notFound(`no power job ${id} (jobs are kept in memory until drover serve restarts)`);
    return j;
  }
}

export function powerRoutes(r: ApiRouter, deps: ApiDeps, jobs = new PowerJobs()) {
  const options = (body: z.infer<typeof runBody>) => ({
    ...(body.pxe ? { pxe: true } : {}),
    ...(body.fanout ? { fanout: body.fanout } : {}),
    ...(body.staggerMs ? { staggerMs: body.staggerMs } : {}),
  });
  r.add(
    {
      method: "post",
      path: "/power/:action",
      tag: "power",
      summary: "power action on nodes (on, off, cycle, reset, soft, status); answers when every node is done, one result per node",
      body: runBody,
    },
    async (c, { body }) => {
      const action = actionOf(param(c, "action"));
      const results = await deps.power.run(list(body.nodes), action, { ...options(body), onResult: (x) => jobs.record(action, x) });
      return c.json(results);
    },
  );
  r.add(
    {
      method: "post",
      path: "/power-jobs",
      tag: "power",
      status: 202,
      summary: "start a power action as a job (answers at once with the nodes it will drive); follow it with GET /power-jobs/{id}",
      body: runBody.extend({ action: z.enum(POWER_ACTIONS as [PowerAction, ...PowerAction[]]) }),
    },
    (c, { body }) => {
      const patterns = list(body.nodes);
      // The selection and the --pxe rule are checked now (a 400/404 here), not as a failed job later.
      const nodes = deps.power.plan(patterns, body.action, { pxe: body.pxe }).map((p) => p.node);
      const job: PowerJob = {
        id: jobs.nextId(),
        action: body.action,
        pxe: !!body.pxe,
        staggerMs: body.staggerMs ?? 0,
        nodes,
        total: nodes.length,
        done: 0,
        state: "running",
        results: [],
        startedAt: Date.now(),
        user: c.get("user"),
      };
      jobs.add(job);
      deps.power
        .run(nodes, body.action, {
          ...options(body),
          onResult: (x) => {
            jobs.record(body.action, x);
            job.results.push(x);
            job.done++;
          },
        })
        .then(
          (all) => Object.assign(job, { results: all, done: all.length, state: "done", endedAt: Date.now() }),
          (e: unknown) => {
            // Only a fault in drover itself gets here (a BMC's failure is that node's result): fail what is left.
            const seen = new Set(job.results.map((x) => x.node));
            for (const n of nodes)
              if (!seen.has(n)) job.results.push({ node: n, bmc: "none", ok: false, message: `internal error: ${(e as Error)?.message ?? String(e)}` });
            Object.assign(job, { done: job.total, state: "done", endedAt: Date.now() });
          },
        );
      return c.json(job, 202);
    },
  );
  r.add(
    {
      method: "get",
      path: "/power-jobs/:id",
      tag: "power",
      summary:
        "a power job: nodes, how many are done and failed, each node's result (node, ok, state, message); results=false leaves the nodes and results " +
        "out (a cheap poll of thousands of nodes)",
      query: z.object({ results: z.stringbool().default(true) }),
    },
    (c, { query }) => {
      const job = jobs.get(param(c, "id"));
      const failed = job.results.reduce((n, x) => n + (x.ok ? 0 : 1), 0);
      if (query.results) return c.json({ ...job, failed });
      const { nodes: _n, results: _r, ...rest } = job;
      return c.json({ ...rest, failed });
    },
  );
  r.add(
    {
      method: "get",
      path: "/power/states",
      tag: "power",
      summary: "what each node's BMC last said about power, with when (`at`, server clock ms) and any action sent since; nodes never asked are absent",
    },
    (c) => c.json({ now: Date.now(), states: Object.fromEntries(jobs.states) }),
  );
}
