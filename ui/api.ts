import type { NodeSummary } from "../src/http/api/nodes";
import type { BootBusEvent } from "../src/services/events";
import { type StreamProgress, parseProgress } from "../src/domain/stream-progress";
/** The page's only door to drover: fetch against /api/v1 with the session's CSRF token on every change. */
let csrf = "";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: string[] = [],
    /** The whole answer, for routes that say more than the message (an overlay save's `problem`). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export function setCsrf(token: string) {
  csrf = token;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = csrf;
  const r = await fetch(`/api/v1${path}`, { method, headers, credentials: "same-origin", ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!r.ok) {
    if (r.status === 401 && path !== "/auth/login") onUnauthenticated();
    throw new ApiError(r.status, data?.error ?? `${r.status} ${r.statusText}`, data?.details ?? [], data);
  }
  return data as T;
}

let onUnauthenticated = () => {};
export function whenLoggedOut(fn: () => void) {
  onUnauthenticated = fn;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => api<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);
export const enc = encodeURIComponent;

/** A row of GET /api/v1/nodes: the server's own type (type-only import, erased from the bundle). */
export type NodeRow = NodeSummary;

export interface StatusRow {
  node: string;
  state: "booted" | "booting" | "overdue" | "error" | "never seen";
  stage?: string;
  detail?: string;
  lastSeen?: number;
  lastError?: string;
  /** When the agent's first heartbeat of this boot arrived. */
  agentUp?: number;
  /** The stage times of this boot (GET /status/nodes); `heartbeat` means the agent has been sending them. */
  stages?: Record<string, number>;
  /** Stage 1 streaming the image (two-stage boot). */
  progress?: StreamProgress;
}

/** What the page shows for a node, derived again on every clock tick (no new event needed). */
export interface LiveState {
  state: StatusRow["state"];
  /** The colour class: the state, or "agent" for a booted node whose agent is up. */
  cls: "booted" | "agent" | "booting" | "overdue" | "error" | "never";
  /** Booting but no new event for longer than the stage takes: how long, in seconds. */
  stuck?: number;
  progress?: StreamProgress;
}

/** A booting node with no new event for this long (s) is flagged: image pieces come every few seconds, whole stages within minutes. */
export const STUCK_SECONDS: Record<string, number> = { image: 60, dhcp: 120, ipxe: 120, kernel: 180, system: 180, runtime: 300 };
const STUCK_DEFAULT = 300;

/** The server's rule (services/boot-status.ts) on the page's clock: overdue after three missed heartbeats. */
export function live(s: StatusRow | undefined, now: number, heartbeatSeconds: number): LiveState {
  if (!s || s.state === "never seen") return { state: "never seen", cls: "never" };
  const age = s.lastSeen ? (now - s.lastSeen) / 1000 : 0;
  const progress = s.stage === "image" ? (s.progress ?? parseProgress(s.detail)) : undefined;
  if (s.state === "error") return { state: "error", cls: "error" };
  if (s.state === "booted" || s.state === "overdue") {
    if (s.stages?.heartbeat && age > 3 * heartbeatSeconds) return { state: "overdue", cls: "overdue" };
    return { state: "booted", cls: s.agentUp ? "agent" : "booted" };
  }
  const limit = STUCK_SECONDS[s.stage ?? ""] ?? STUCK_DEFAULT;
  return { state: "booting", cls: "booting", ...(age > limit ? { stuck: Math.round(age) } : {}), ...(progress ? { progress } : {}) };
}

/** "image 41% · 5.0 MiB/s" */
export function progressText(p: StreamProgress): string {
  const pct = p.total ? Math.floor((p.bytes / p.total) * 100) : 0;
  return `image ${pct}% · ${(p.rate / 1048576).toFixed(1)} MiB/s`;
}

/** A boot event as the server's event stream sends it. */
export type BootEvent = BootBusEvent;

/** A node's state after a boot event, the way the server computes it (services/boot-status.ts). */
export function stateAfter(prev: StatusRow | undefined, e: BootEvent): StatusRow {
  const stage = e.stage === "heartbeat" && prev?.stage === "booted" ? "booted" : e.stage;
  const state = stage === "error" ? "error" : stage === "booted" || stage === "heartbeat" ? "booted" : "booting";
  // The first heartbeat after booted is the agent coming up; a new boot stage starts over.
  const agentUp = state !== "booted" ? undefined : (prev?.agentUp ?? (e.stage === "heartbeat" ? e.at : undefined));
  // Heartbeats keep counting for overdue until a new boot starts (the server's `stages` are per boot).
  const beat = state === "booted" && (e.stage === "heartbeat" || !!prev?.stages?.heartbeat);
  return {
    node: e.node!,
    state,
    stage,
    lastSeen: e.at,
    ...(beat ? { stages: { ...(prev?.stages ?? {}), heartbeat: e.stage === "heartbeat" ? e.at : prev!.stages!.heartbeat! } } : {}),
    ...(agentUp ? { agentUp } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
    ...(stage === "error" ? { lastError: e.detail ?? "error" } : prev?.lastError ? { lastError: prev.lastError } : {}),
  };
}

export function ago(ms?: number, now = Date.now()): string {
  if (!ms) return "";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return clock(ms, true).slice(0, 10);
}

const two = (n: number) => String(n).padStart(2, "0");
/**
 * A time of day on the 24-hour clock, in the browser's time zone, whatever its locale: "14:05:09", or with
 * `date` "2025-03-01 14:05:09" (what journalctl and Grafana show). Every time the page prints goes through it.
 */
export function clock(ms?: number, date = false): string {
  if (!ms) return "";
  const d = new Date(ms);
  const t = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return date ? `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${t}` : t;
}
