import type { NodeSummary } from "../src/http/api/nodes";
import type { BootBusEvent } from "../src/services/events";
/** The page's only door to drover: fetch against /api/v1 with the session's CSRF token on every change. */
let csrf = "";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: string[] = [],
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
    throw new ApiError(r.status, data?.error ?? `${r.status} ${r.statusText}`, data?.details ?? []);
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
}

/** A boot event as the server's event stream sends it. */
export type BootEvent = BootBusEvent;

/** A node's state after a boot event, the way the server computes it (services/boot-status.ts). */
export function stateAfter(prev: StatusRow | undefined, e: BootEvent): StatusRow {
  const stage = e.stage === "heartbeat" && prev?.stage === "booted" ? "booted" : e.stage;
  const state = stage === "error" ? "error" : stage === "booted" || stage === "heartbeat" ? "booted" : "booting";
  // The first heartbeat after booted is the agent coming up; a new boot stage starts over.
  const agentUp = state !== "booted" ? undefined : (prev?.agentUp ?? (e.stage === "heartbeat" ? e.at : undefined));
  return { node: e.node!, state, stage, lastSeen: e.at, ...(agentUp ? { agentUp } : {}), ...(e.detail ? { detail: e.detail } : {}), ...(stage === "error" ? { lastError: e.detail ?? "error" } : prev?.lastError ? { lastError: prev.lastError } : {}) };
}

export function ago(ms?: number): string {
  if (!ms) return "";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return new Date(ms).toLocaleDateString();
}
