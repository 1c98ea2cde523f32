import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";

/** Another drover process is working on the same image. */
export class LockedError extends Error {}

/**
 * A per-image lock file holding the owner's pid. A lock whose process is gone is stale and taken over,
 * so a crashed `image exec` never wedges an image.
 */
export function withLock<T>(path: string, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      return fn().finally(() => rmSync(path, { force: true }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (pid && pid !== process.pid && existsSync(`/proc/${pid}`))
        throw new LockedError(`${what} is busy: drover process ${pid} is working on it; wait for it to finish`);
      rmSync(path, { force: true });
    }
  }
  throw new LockedError(`${what} is busy; try again`);
}
