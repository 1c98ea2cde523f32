import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** A temporary name next to `path`, unique to this process and call. */
export const tmpName = (path: string) => `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;

/**
 * Writes a file whole or not at all: into a temporary file next to it (mode and owner set there), then
 * renamed over `path`, so a reader sees the old file or the new one, never part of one. The directory is
 * created first (0700 unless `dirMode`).
 */
export function atomicWrite(path: string, data: Uint8Array | string, opts: { mode: number; uid?: number; gid?: number; dirMode?: number }) {
  mkdirSync(dirname(path), { recursive: true, mode: opts.dirMode ?? 0o700 });
  const tmp = tmpName(path);
  try {
    writeFileSync(tmp, data, { mode: opts.mode });
    chmodSync(tmp, opts.mode);
    if (opts.uid !== undefined || opts.gid !== undefined) chownSync(tmp, opts.uid ?? 0, opts.gid ?? 0);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Writes a file named by its content: a complete file of that name already is this content. A short one
 * (a crash mid-write) is replaced atomically, so no reader ever sees a partial one.
 */
export function writeOnce(path: string, data: Uint8Array) {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    if (statSync(path).size !== data.length) atomicWrite(path, data, { mode: 0o600 });
    return;
  }
  try {
    let o = 0;
    while (o < data.length) o += writeSync(fd, data, o, data.length - o);
  } finally {
    closeSync(fd);
  }
}
