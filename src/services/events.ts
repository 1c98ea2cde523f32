import type { BootEventRecord, BootStateStore } from "./ports";

/**
 * An in-process publish/subscribe bus: the boot-state recording path publishes, the API's Server-Sent
 * Events stream subscribes. A subscriber that throws is dropped, never the publisher's problem.
 */
export class EventBus<T> {
  private readonly subs = new Set<(e: T) => void>();

  subscribe(fn: (e: T) => void): () => void {
    this.subs.add(fn);
    return () => void this.subs.delete(fn);
  }

  publish(e: T): void {
    for (const fn of this.subs) {
      try {
        fn(e);
      } catch {
        this.subs.delete(fn);
      }
    }
  }

  get size(): number {
    return this.subs.size;
  }
}

/** What the bus carries: a recorded boot event, and whether it concerned a known node or the inbox. */
export type BootBusEvent = BootEventRecord & { known: boolean };

/** Wraps a boot-state store so every recorded event is also published, after it was stored. */
export function publishingBootState(store: BootStateStore, bus: EventBus<BootBusEvent>): BootStateStore {
  return {
    ...store,
    record(e) {
      store.record(e);
      bus.publish({ ...e, known: e.node !== undefined });
    },
    recordMany(es) {
      if (store.recordMany) store.recordMany(es);
      else for (const e of es) store.record(e);
      for (const e of es) bus.publish({ ...e, known: e.node !== undefined });
    },
  };
}
