import {
  chmodSync,
  closeSync,
  existsSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from "node:fs";
import type { Stats } from "node:fs";
import { dirname, join } from "node:path";
import { cleanRel, resolveIn } from "./fspath";
import { getXattr, listXattrs, readXattrs, removeXattr, setXattr } from "./native";

/**
 * `image exec`: run a command with the image as its root, in new mount, pid and uts namespaces (util-linux
 * `unshare`), on an overlayfs whose upper layer catches every change. Exit 0 merges the upper layer into
 * the image (honouring overlayfs whiteouts and opaque directories); any other exit code throws it away, so
 * a failed `dnf install` leaves the image exactly as it was.
 */

export interface Bind {
  src: string;
  dst: string;
  ro: boolean;
}

/** `SRC[:DST[:ro|rw]]`, as Warewulf's --bind. */
export function parseBind(s: string): Bind {
  const [src, dst, mode, ...rest] = s.split(":");
  if (!src || rest.length || (mode && mode !== "ro" && mode !== "rw")) throw new Error(`--bind ${JSON.stringify(s)} should be SRC[:DST[:ro]]`);
  if (!src.startsWith("/")) throw new Error(`--bind source ${src} must be an absolute path`);
  const d = dst || src;
  if (!d.startsWith("/")) throw new Error(`--bind destination ${d} must be an absolute path`);
  return { src, dst: `/${cleanRel(d)}`, ro: mode === "ro" };
}

export interface ExecOptions {
  binds?: readonly Bind[];
  /** "inherit" for an interactive terminal; otherwise output is captured and handed to onOut/onErr. */
  stdio: "inherit" | "pipe";
  onOut?(s: string): void;
  onErr?(s: string): void;
  env?: Record<string, string>;
  hostname?: string;
  /** The head node's resolver file, made visible at /etc/resolv.conf (default /etc/resolv.conf). */
  resolvConf?: string;
}

export interface ExecResult {
  code: number;
  /** True when the command exited 0 and left changes that were merged into the image. */
  changed: boolean;
}

/** Setup failed before the command ran (mounts, chroot). Distinct from the command's own failure. */
export class ExecSetupError extends Error {}

const SETUP_FAILED = 222;

const SCRIPT = `
fail() { echo "drover: $*" >&2; exit ${SETUP_FAILED}; }
M=$1; L=$2; U=$3; W=$4; shift 4
mount -t overlay overlay -o "lowerdir=$L,upperdir=$U,workdir=$W,redirect_dir=off,index=off,metacopy=off" "$M" || fail "cannot mount the overlay (is overlayfs available?)"
mount -t proc proc "$M/proc" || fail "cannot mount /proc"
mount --rbind /sys "$M/sys" || fail "cannot bind /sys"
mount --rbind /dev "$M/dev" || fail "cannot bind /dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$M/run" || fail "cannot mount /run"
if [ -n "$DROVER_RESOLV" ]; then
  mount --bind "$DROVER_RESOLV" "$M/etc/resolv.conf" && mount -o remount,bind,ro "$M/etc/resolv.conf" || fail "cannot bind /etc/resolv.conf"
fi
tab=$(printf '\\t')
printf '%s\\n' "$DROVER_BINDS" | while IFS="$tab" read -r s d ro; do
  [ -z "$s" ] && continue
  mount --rbind "$s" "$M$d" || fail "cannot bind $s to $d"
  if [ "$ro" = ro ]; then mount -o remount,bind,ro "$M$d" || fail "cannot make $d read-only"; fi
done || exit ${SETUP_FAILED}
[ -n "$DROVER_HOSTNAME" ] && hostname "$DROVER_HOSTNAME"
unset DROVER_BINDS DROVER_RESOLV DROVER_HOSTNAME
exec chroot "$M" "$@"
`;

/**
 * Creates `rel` in the upper layer when the image lacks it, so a mount point exists. Parent directories
 * the image has are mirrored into the upper layer with the image's owner, mode and times, so they do not
 * count as changes. Everything made is recorded and removed again after the command (if still empty).
 */
function ensureMountPoint(rootfs: string, upper: string, rel: string, kind: "dir" | "file", made: string[]) {
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join("/");
    const isLast = i === parts.length;
    const p = join(upper, sub);
    if (existsSync(p)) continue;
    let lst;
    try {
      lst = lstatSync(join(rootfs, sub));
    } catch {}
    if (lst && (isLast || !lst.isDirectory())) continue;
    if (lst) {
      mkdirSync(p);
      lchownSync(p, lst.uid, lst.gid);
      chmodSync(p, lst.mode & 0o7777);
      lutimesSync(p, lst.atime, lst.mtime);
    } else if (!isLast || kind === "dir") mkdirSync(p, { mode: 0o755 });
    else closeSync(openSync(p, "w", 0o644));
    made.push(sub);
  }
}

/**
 * Why a session directory left by an earlier `image exec` is still in use, or undefined: a process runs
 * inside it (the command of an exec whose drover was killed keeps running in its namespace, chrooted into
 * `merged`), or something is mounted under it in this mount namespace (removing it would recurse into the
 * mount). The exec's own mounts live in its private namespace and are not seen here.
 */
export function sessionBusy(session: string): string | undefined {
  const inside = (p: string) => p === session || p.startsWith(`${session}/`);
  try {
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      // Field 5 is the mount point, with spaces and the like written as octal escapes.
      const point = line.split(" ")[4]?.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
      if (point && inside(point)) return `${point} is mounted`;
    }
  } catch {}
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {}
  for (const pid of pids)
    for (const link of ["root", "cwd"]) {
      try {
        if (inside(readlinkSync(`/proc/${pid}/${link}`))) return `process ${pid} runs in it`;
      } catch {}
    }
  return undefined;
}

export async function execInImage(rootfs: string, session: string, cmd: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const upper = join(session, "upper");
  const work = join(session, "work");
  const merged = join(session, "merged");
  for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const made: string[] = [];
  try {
    for (const d of ["proc", "sys", "dev", "run"]) ensureMountPoint(rootfs, upper, d, "dir", made);
    const resolv = opts.resolvConf ?? "/etc/resolv.conf";
    let bindResolv = "";
    if (existsSync(resolv)) {
      let lower;
      try {
        lower = lstatSync(join(rootfs, "etc/resolv.conf"));
      } catch {}
      // A resolv.conf symlink (systemd-resolved images) is left alone: binding over it would follow it.
      if (!lower || lower.isFile()) {
        ensureMountPoint(rootfs, upper, "etc/resolv.conf", "file", made);
        bindResolv = resolv;
      }
    }
    for (const b of opts.binds ?? []) {
      let st;
      try {
        st = statSync(b.src);
      } catch {
        throw new ExecSetupError(`--bind source ${b.src} does not exist`);
      }
      const rel = cleanRel(b.dst);
      const lower = resolveIn(rootfs, rel, true);
      if (!lower.startsWith(rootfs)) throw new ExecSetupError(`--bind destination ${b.dst} resolves outside the image`);
      ensureMountPoint(rootfs, upper, rel, st.isDirectory() ? "dir" : "file", made);
    }
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: "/root",
      TERM: process.env.TERM ?? "dumb",
      LANG: "C.UTF-8",
      ...opts.env,
      DROVER_BINDS: (opts.binds ?? []).map((b) => `${b.src}\t${b.dst}\t${b.ro ? "ro" : "rw"}`).join("\n"),
      DROVER_RESOLV: bindResolv,
      DROVER_HOSTNAME: opts.hostname ?? "",
    };
    const proc = Bun.spawn(
      ["unshare", "--mount", "--pid", "--uts", "--fork", "--propagation", "private", "--", "/bin/sh", "-c", SCRIPT, "sh", merged, rootfs, upper, work, ...cmd],
      {
        env,
        stdin: "inherit",
        stdout: opts.stdio,
        stderr: opts.stdio,
      },
    );
    let errText = "";
    const pump = async (s: ReadableStream<Uint8Array> | number | undefined | null, f?: (t: string) => void, keep = false) => {
      if (!s || typeof s === "number") return;
      const d = new TextDecoder();
      for await (const c of s as unknown as AsyncIterable<Uint8Array>) {
        const t = d.decode(c, { stream: true });
        if (keep) errText += t;
        f?.(t);
      }
    };
    await Promise.all([pump(proc.stdout, opts.onOut), pump(proc.stderr, opts.onErr, true), proc.exited]);
    const code = proc.exitCode ?? 1;
    if (code === SETUP_FAILED)
      throw new ExecSetupError(
        errText
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("drover:"))
          .pop()
          ?.replace(/^drover: /, "") ?? "could not set up the image environment",
      );
    // The namespace is gone with its last process: the overlay is unmounted and `upper` is plain files.
    for (const rel of made.reverse()) {
      const p = join(upper, rel);
      try {
        const st = lstatSync(p);
        if (st.isDirectory()) rmdirSync(p);
        else if (st.isFile() && st.size === 0) rmSync(p);
      } catch {}
    }
    if (code !== 0) return { code, changed: false };
    const changed = readdirSync(upper).length > 0;
    if (changed) mergeUpper(upper, rootfs);
    return { code, changed };
  } finally {
    rmSync(session, { recursive: true, force: true });
  }
}

const isOverlayXattr = (n: string) => n.startsWith("trusted.overlay.") || n.startsWith("user.overlay.");

function stripOverlayXattrs(path: string) {
  for (const n of listXattrs(path)) if (isOverlayXattr(n)) removeXattr(path, n);
  const st = lstatSync(path);
  if (st.isDirectory()) for (const c of readdirSync(path)) stripOverlayXattrs(join(path, c));
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && Number(st.rdev) === 0;

/**
 * Applies an overlayfs upper directory to the lower tree: a 0:0 character device deletes, a directory
 * marked opaque replaces the lower directory's contents, anything else is moved into place (rename keeps
 * inode, hardlinks, xattrs). Overlayfs' own bookkeeping xattrs are removed on the way.
 */
export function mergeUpper(upper: string, lower: string, rel = ""): void {
  const udir = rel ? join(upper, rel) : upper;
  for (const name of readdirSync(udir)) {
    const r = rel ? `${rel}/${name}` : name;
    const u = join(upper, r);
    const l = join(lower, r);
    const st = lstatSync(u);
    let ls;
    try {
      ls = lstatSync(l);
    } catch {}
    const wh = isWhiteout(st) || getXattr(u, "trusted.overlay.whiteout") !== undefined;
    if (wh) {
      rmSync(l, { recursive: true, force: true });
      continue;
    }
    if (st.isDirectory() && ls?.isDirectory()) {
      const opaque = new TextDecoder().decode(getXattr(u, "trusted.overlay.opaque") ?? new Uint8Array()) === "y";
      if (opaque) for (const c of readdirSync(l)) rmSync(join(l, c), { recursive: true, force: true });
      mergeUpper(upper, lower, r);
      lchownSync(l, st.uid, st.gid);
      chmodSync(l, st.mode & 0o7777);
      for (const [k, v] of readXattrs(u)) if (!isOverlayXattr(k)) setXattr(l, k, v);
      lutimesSync(l, st.atime, st.mtime);
      continue;
    }
    if (ls) rmSync(l, { recursive: true, force: true });
    stripOverlayXattrs(u);
    mkdirSync(dirname(l), { recursive: true });
    renameSync(u, l);
  }
}
