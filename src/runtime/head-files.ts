import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { unifiedDiff } from "../domain/textdiff";

/**
 * The head node's own files that `drover configure` writes, under a root prefix (`--root DIR`, env
 * DROVER_ROOT; "/" by default) so tests and staging write into a directory instead of /etc. Each write is
 * idempotent (nothing is touched when the content is already right), atomic (a temporary file renamed over
 * the old one, its mode and owner kept) and can be previewed as a unified diff.
 */
export class HeadRoot {
  constructor(readonly root: string) {}

  /** The real path of an absolute head-node path (/etc/hosts → ROOT/etc/hosts). */
  path(abs: string): string {
    return this.root === "/" ? abs : join(this.root, abs);
  }

  get isReal(): boolean {
    return this.root === "/";
  }

  read(abs: string): string | undefined {
    const p = this.path(abs);
    try {
      return readFileSync(p, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`cannot read ${p}: ${(e as Error).message}`);
    }
  }

  /** The change a write would make: before (undefined: no file), after, and their diff ("" when equal). */
  plan(abs: string, after: string): FileChange {
    const before = this.read(abs);
    const shown = this.path(abs);
    return { path: shown, abs, before, after, diff: unifiedDiff(before ?? "", after, before === undefined ? "/dev/null" : shown, shown) };
  }

  /** Writes a planned change (when it changes anything). Returns whether it wrote. */
  apply(c: FileChange, mode = 0o644): boolean {
    if (c.before === c.after) return false;
    const p = this.path(c.abs);
    mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
    let keep: { mode: number; uid: number; gid: number } | undefined;
    if (existsSync(p)) {
      const st = statSync(p);
      keep = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    }
    const tmp = `${p}.drover-${process.pid}`;
    try {
      writeFileSync(tmp, c.after, { mode: keep?.mode ?? mode });
      chmodSync(tmp, keep?.mode ?? mode);
      if (keep) chownSync(tmp, keep.uid, keep.gid);
      renameSync(tmp, p);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new Error(`cannot write ${p}: ${(e as Error).message}`);
    }
    return true;
  }
}

export interface FileChange {
  /** The path as written (with the root prefix). */
  path: string;
  /** The head-node path. */
  abs: string;
  before?: string;
  after: string;
  diff: string;
}

/** The root prefix: --root, else DROVER_ROOT, else "/". */
export function headRoot(flag: string | undefined, env: Record<string, string | undefined>): HeadRoot {
  const r = flag ?? env.DROVER_ROOT ?? "/";
  return new HeadRoot(r === "" ? "/" : r.replace(/\/+$/, "") || "/");
}

/** Runs a program to its end; its output is returned, not printed. */
export function runProgram(argv: readonly string[]): { ok: boolean; output: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

/** A program on PATH (or in the usual sbin directories, which a non-login root shell may lack). */
export function findProgram(name: string, env: Record<string, string | undefined>): string | undefined {
  const path = [env.PATH ?? "", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].join(":");
  return Bun.which(name, { PATH: path }) ?? undefined;
}
