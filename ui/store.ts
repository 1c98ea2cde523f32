import { useEffect, useState } from "preact/hooks";
import { type BootEvent, type NodeRow, type StatusRow, get, stateAfter } from "./api";

/**
 * The page's shared state: every node's summary row and boot status, kept live by one EventSource on
 * /api/v1/events. Views subscribe and re-render at most once per animation frame, however many events arrive.
 */
type Listener = () => void;

class Store {
  nodes: NodeRow[] = [];
  status = new Map<string, StatusRow>();
  /** Bumped on every change; views use it as a memo key. */
  version = 0;
  unknownSeen = 0;
  connected = false;
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

  connect() {
    if (this.source) return;
    const es = new EventSource("/api/v1/events");
    this.source = es;
    es.addEventListener("hello", () => {
      this.connected = true;
      this.changed();
    });
    es.addEventListener("boot", (m) => {
      const e = JSON.parse((m as MessageEvent).data) as BootEvent;
      if (e.known && e.node) this.status.set(e.node, stateAfter(this.status.get(e.node), e));
      else this.unknownSeen++;
      for (const fn of this.eventListeners) fn(e);
      this.changed();
    });
    es.onerror = () => {
      this.connected = false;
      this.changed();
    };
  }

  disconnect() {
    this.source?.close();
    this.source = undefined;
    this.connected = false;
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
