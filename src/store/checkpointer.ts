/**
 * WAL checkpoints off the event loop, for `drover serve`.
 *
 * SQLite checkpoints on its own in whichever connection commits once the WAL passes 1,000 pages, inside that
 * commit, and a checkpoint fsyncs: measured here at 6–86 ms in a commit that otherwise takes 0.1 ms. The
 * DHCP server's group commit would hold every ACK of that turn for it. So the server's connection stops
 * checkpointing (`wal_autocheckpoint = 0`) and a thread with a connection of its own runs a PASSIVE
 * checkpoint (it never waits for readers and never blocks writers) every `everyMs`, and a RESTART one (which
 * does pause the writer) only once the WAL passes MAX_FRAMES. CLI processes keep their automatic
 * checkpoints; any connection's checkpoint serves them all.
 *
 *   const cp = startCheckpointer(store.sqlite, store.path); … cp.stop();
 */
import type { Database } from "bun:sqlite";

/** WAL frames (pages; 4 KiB each) past which a checkpoint may pause the writer to start the WAL over. */
const MAX_FRAMES = 8192;

const WORKER_SRC = `
const { Database } = require("bun:sqlite");
const MAX_FRAMES = ${MAX_FRAMES};
let db;
self.onmessage = (ev) => {
  const { path, stop } = ev.data;
  if (stop) { try { db?.close(); } catch {} self.postMessage({ stopped: true }); return; }
  try {
    db ??= new Database(path);
    db.run("PRAGMA busy_timeout = 5000");
    // PASSIVE copies what it can and never waits; the WAL starts over only once a checkpoint caught up with
    // every frame, which a steady stream of commits may not let it do. Past MAX_FRAMES, RESTART waits for the
    // writer and blocks it while it finishes: a rare pause instead of a WAL that grows without end.
    const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
    if (r && r.log > MAX_FRAMES) db.query("PRAGMA wal_checkpoint(RESTART)").get();
    self.postMessage({ ok: true });
  } catch (e) {
    self.postMessage({ error: String(e && e.message || e) });
  }
};
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(sqlite: Database, path: string, opts: { everyMs?: number; log?: (line: string) => void } = {}): Checkpointer {
  if (path === ":memory:") return { stop: async () => {} };
  const url = URL.createObjectURL(new Blob([WORKER_SRC], { type: "application/javascript" }));
  const w = new Worker(url);
  let busy = false;
  let lastError = "";
  w.onmessage = (ev: MessageEvent<{ ok?: boolean; error?: string; stopped?: boolean }>) => {
    busy = false;
    if (ev.data.error && ev.data.error !== lastError) opts.log?.(`drover: WAL checkpoint: ${ev.data.error}`);
    lastError = ev.data.error ?? "";
  };
  sqlite.run("PRAGMA wal_autocheckpoint = 0");
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    w.postMessage({ path });
  }, opts.everyMs ?? 1000);
  timer.unref?.();
  (w as unknown as { unref?: () => void }).unref?.();
  return {
    stop: async () => {
      clearInterval(timer);
      // Back to checkpointing in the connection, and one last checkpoint from it.
      sqlite.run("PRAGMA wal_autocheckpoint = 1000");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        w.onmessage = () => {
          clearTimeout(t);
          resolve();
        };
        w.postMessage({ stop: true });
      });
      w.terminate();
      URL.revokeObjectURL(url);
    },
  };
}
