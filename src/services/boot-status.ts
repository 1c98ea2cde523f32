import { parseProgress, type StreamProgress } from "../domain/stream-progress";
import type { NodeService } from "./nodes";
import type { BootEventRecord, BootStateStore, NodeBootState, UnknownMac } from "./ports";

export type NodeState = "booted" | "booting" | "overdue" | "error" | "never seen";

export interface NodeStatusRow {
  node: string;
  state: NodeState;
  stage?: string;
  detail?: string;
  address?: string;
  lastSeen?: number;
  /** Seconds from the first stage of this boot to `booted`, when it finished. */
  bootSeconds?: number;
  stages?: Record<string, number>;
  lastError?: string;
  /** When the agent's first heartbeat of this boot arrived (the node's init is up and it reaches us). */
  agentUp?: number;
  /** While stage 1 streams the image (two-stage boot): bytes, total and rate of its last report. */
  progress?: StreamProgress;
}

/**
 * What `node status`, the API and the web page show about boots. A node is overdue when it has been sending
 * heartbeats and missed three in a row.
 */
export class BootStatusService {
  constructor(
    private readonly nodes: NodeService,
    private readonly state: BootStateStore,
    /** The agents' heartbeat interval; a node is overdue after three missed. The page gets it with the event stream's hello. */
    public heartbeatSeconds = 60,
  ) {}

  list(patterns: readonly string[] = [], now = Date.now()): NodeStatusRow[] {
    const names = this.nodes.listNodes(patterns).map((n) => n.name);
    const byNode = new Map(this.state.statuses().map((s) => [s.node, s]));
    return names.map((node) => {
      const s = byNode.get(node);
      return s ? this.row(s, now) : { node, state: "never seen" as const };
    });
  }

  /** Rows of the nodes seen at least once, without resolving any node (cheap at 10,000 nodes). */
  seen(now = Date.now()): NodeStatusRow[] {
    return this.state.statuses().map((s) => this.row(s, now));
  }

  private row(s: NodeBootState, now: number): NodeStatusRow {
    let state: NodeState = "booting";
    if (s.stage === "error") state = "error";
    else if (s.stage === "booted" || s.stage === "heartbeat") {
      state = "booted";
      if (s.stages.heartbeat && now - s.lastSeen > 3 * this.heartbeatSeconds * 1000) state = "overdue";
    }
    const booted = s.stages.booted;
    return {
      node: s.node,
      state,
      stage: s.stage,
      lastSeen: s.lastSeen,
      stages: s.stages,
      ...(s.detail ? { detail: s.detail } : {}),
      ...(s.address ? { address: s.address } : {}),
      ...(s.lastError ? { lastError: s.lastError } : {}),
      ...(s.stage === "image" && parseProgress(s.detail) ? { progress: parseProgress(s.detail) } : {}),
      ...(s.stages.agent && (state === "booted" || state === "overdue") ? { agentUp: s.stages.agent } : {}),
      ...(booted && s.bootStartedAt && booted >= s.bootStartedAt ? { bootSeconds: Math.round((booted - s.bootStartedAt) / 100) / 10 } : {}),
    };
  }

  events(node: string, limit = 50): BootEventRecord[] {
    this.nodes.getNode(node);
    return this.state.events(node, limit);
  }

  unknown(): UnknownMac[] {
    return this.state.unknown();
  }
}
