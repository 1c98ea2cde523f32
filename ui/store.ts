import { useEffect, useState } from "preact/hooks";
import { type BootEvent, type NodeRow, type StatusRow, get, stateAfter } from "./api";

/**
 * The page's shared state: every node's summary row and boot status, kept live by one EventSource on
 * /api/v1/events. Views subscribe and re-render at most once per animation frame, however many events arrive.
 */
type Listener = () => void;

class Store {
  nodes: NodeRow[] = [];
  /**
   * The account's role (from login or /auth/session). A viewer is never shown, and the page never asks for,
   * overlay file contents or rendered overlays: the API refuses them (they hold the nodes' secrets).
   */
  role = "admin";
  status = new Map<string, StatusRow>();
  /** Bumped on every change; views use it as a memo key. */
  version = 0;
  unknownSeen = 0;
  /** A message for the nodes page to show once (e.g. "Deleted n001." after deleting from the node page). */
  flash?: { ok: boolean; text: string };
  connected = false;
  /** When the event stream was lost (after having been up), until it is back. */
  lostSince?: number;
  /** The agents' heartbeat interval as the server reports it (the stream's hello). */
  heartbeatSeconds = 60;
  /** The server's clock minus ours, from the hello: lastSeen is the server's time. */
  private skew = 0;
  private everConnected = false;
  private tick?: ReturnType<typeof setInterval>;
  private retry?: ReturnType<typeof setTimeout>;
  private listeners = new Set<Listener>();
  private eventListeners = new Set<(e: BootEvent) => void>();
  private frame = 0;
  private source?: EventSource;

  async loadNodes() {
    const [nodes, status] = await Promise.all([get<NodeRow[]>("/nodes"), get<StatusRow[]>("/status/nodes")]);
    this.nodes = nodes;
    this.status = new Map(status.map((s) => [s.node, s]));
    this.changed();
  }

  /** Now on the server's clock; views derive overdue, stuck and "last seen" from it every second. */
  now(): number {
    return Date.now() + this.skew;
  }

  connect() {
    if (this.source) return;
    // Overdue and "last seen" change with time alone: re-derive every second without waiting for an event.
    this.tick ??= setInterval(() => this.changed(), 1000);
    const es = new EventSource("/api/v1/events");
    this.source = es;
    es.addEventListener("hello", (m) => {
      const hello = JSON.parse((m as MessageEvent).data) as { at?: number; heartbeatSeconds?: number };
      if (hello.at) this.skew = hello.at - Date.now();
      if (hello.heartbeatSeconds) this.heartbeatSeconds = hello.heartbeatSeconds;
      const back = this.everConnected && !this.connected;
      this.connected = true;
      this.everConnected = true;
      // Back after a loss: events of the gap were never seen, so catch up with the whole list.
      if (back)
        this.loadNodes().then(
          () => this.recovered(),
          () => this.recovered(),
        );
      else this.changed();
    });
    es.addEventListener("boot", (m) => {
      const e = JSON.parse((m as MessageEvent).data) as BootEvent;
      if (e.known && e.node) this.status.set(e.node, stateAfter(this.status.get(e.node), e));
      else this.unknownSeen++;
      for (const fn of this.eventListeners) fn(e);
      this.changed();
    });
    es.onerror = () => {
      if (this.everConnected) this.lostSince ??= Date.now();
      this.connected = false;
      // EventSource retries by itself after a network error, but gives up (CLOSED) after a bad answer
      // (a proxy's 502, a restart in progress): then try again ourselves.
      if (es.readyState === EventSource.CLOSED && this.source === es) {
        this.source = undefined;
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.connect(), 3000);
      }
      this.changed();
    };
  }

  private recovered() {
    if (this.connected) this.lostSince = undefined;
    this.changed();
  }

  disconnect() {
    this.source?.close();
    this.source = undefined;
    this.connected = false;
    this.everConnected = false;
    this.lostSince = undefined;
    clearTimeout(this.retry);
    clearInterval(this.tick);
    this.tick = undefined;
  }

  changed() {
    this.version++;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      for (const l of this.listeners) l();
    });
  }

  subscribe(l: Listener) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  onEvent(fn: (e: BootEvent) => void) {
    this.eventListeners.add(fn);
    return () => void this.eventListeners.delete(fn);
  }
}

export const store = new Store();

/** Re-renders the calling component when the store changes; returns the store's version. */
export function useStore(): number {
  const [v, setV] = useState(store.version);
  useEffect(() => store.subscribe(() => setV(store.version)), []);
  return v;
}
