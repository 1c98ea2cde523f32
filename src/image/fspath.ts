import { lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/** A path from an archive or manifest that would leave the image root, or is otherwise unusable. */
export class UnsafePathError extends Error {}

/**
 * Normalises an archive member path to a relative path inside the root ("" for the root itself).
 * `./a//b/` → `a/b`. A `..` component is refused rather than clamped: an honest image never needs one.
 */
export function cleanRel(p: string): string {
  if (p.includes("\0")) throw new UnsafePathError(`path ${JSON.stringify(p)} contains a NUL byte`);
  const parts: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") throw new UnsafePathError(`path ${JSON.stringify(p)} climbs out of the image with '..'`);
    parts.push(c);
  }
  return parts.join("/");
}

/**
 * Resolves `rel` inside `root` the way a chroot would: symlinks met on the way are followed but can never
 * leave `root` (an absolute target is taken relative to root; `..` stops at root). The last component is
 * followed only when `followLast` is set. Components that do not exist yet are appended as they are.
 * This is what stops a layer with `etc -> /host/etc` followed by `etc/passwd` from writing on the host.
 */
export function resolveIn(root: string, rel: string, followLast = false): string {
  const todo = rel.split("/").filter((c) => c && c !== ".");
  const done: string[] = [];
  let links = 0;
  let missing = false;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === "..") {
      done.pop();
      continue;
    }
    const isLast = todo.length === 0;
    if (missing || (isLast && !followLast)) {
      done.push(c);
      continue;
    }
    const p = join(root, ...done, c);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      missing = true;
      done.push(c);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) throw new UnsafePathError(`too many symlinks resolving ${rel}`);
      const target = readlinkSync(p);
      const parts = target.split("/").filter((x) => x && x !== ".");
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...parts);
      continue;
    }
    done.push(c);
  }
  return join(root, ...done);
}
