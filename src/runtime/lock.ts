import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { inUse } from "../domain/errors";

/**
 * One `drover serve` per data dir: two would both answer DHCP from the same leases and both clean the same
 * overlay cache. The lock is a file created exclusively (O_EXCL) holding the holder's PID and its start time
 * (/proc/PID/stat field 22), so a lock left by a crashed server is recognised even when its PID has been
 * reused by another process since: a PID that runs with another start time is not the holder.
 */
export interface ServerLock {
  readonly path: string;
  release(): void;
}

export const LOCK_FILE = "serve.lock";

/** This process's start time in clock ticks since boot (Linux), or "" where /proc has none. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function alive(pid: number, started: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = processStartTime(pid);
  return !started || !now || now === started;
}

export function acquireServerLock(dataDir: string, pid = process.pid): ServerLock {
  const path = join(dataDir, LOCK_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      try {
        writeSync(fd, `${pid} ${processStartTime(pid)}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return {
        path,
        release: () => {
          if (released) return;
          released = true;
          // Only our own lock: never one a successor took after we were declared stale.
          if (readLock(path)?.pid === pid) rmSync(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 2) throw e;
    }
    const held = readLock(path);
    if (held && alive(held.pid, held.started))
      throw inUse(
        `another drover serve (PID ${held.pid}) is running on data dir ${dataDir} (lock ${path}); stop it first, or give this one its own --data-dir`,
      );
    // Stale: its holder is gone. Remove it and try again (another starter racing us gets EEXIST once more).
    rmSync(path, { force: true });
  }
}

function readLock(path: string): { pid: number; started: string } | undefined {
  try {
    const [pid, started = ""] = readFileSync(path, "utf8").trim().split(" ");
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 ? { pid: n, started } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends a signal to the `drover serve` holding the data dir's lock, if one runs (the lock's PID with its
 * start time, so a reused PID is never signalled). Returns its PID, or undefined when none runs.
 */
export function signalServer(dataDir: string, signal: NodeJS.Signals): number | undefined {
  const held = readLock(join(dataDir, LOCK_FILE));
  if (!held || held.pid === process.pid || !alive(held.pid, held.started)) return undefined;
  try {
    process.kill(held.pid, signal);
    return held.pid;
  } catch {
    return undefined;
  }
}
