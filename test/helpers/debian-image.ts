/**
 * A real Debian 12 root filesystem for the VM tests, made from Debian's packages with mmdebstrap and cached
 * between runs (never committed): the tests that boot a real distribution share this one tree.
 *
 *   const img = await debianRootfs();   // { dir, key, packages }; throws DebianImageUnavailable to skip
 *
 * Cache: `${DROVER_TEST_CACHE:-/var/cache/drover-test}/debian12-KEY/rootfs`, KEY = a hash of the recipe
 * below, so a changed recipe builds a new tree. The first run takes a minute or two (mmdebstrap fetches
 * ~250 packages from the Debian mirror apt is set up with); later runs reuse the tree. Delete the folder to
 * rebuild. Needs root and `mmdebstrap` (test/run.sh installs it).
 *
 * The image has what a site's compute node has: systemd, udev, NetworkManager, openssh-server, munge,
 * nfs-common, slurmd and the Slurm clients, and Debian's stock kernel in /boot — and no ifupdown, no
 * systemd-networkd configuration and no busybox. Two system accounts are created before the packages are
 * installed, so the image's munge/slurm ids differ from a Debian head node's (what syncuser must align).
 */
import { spawnSync } from "bun";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DEBIAN_SUITE = "bookworm";
export const DEBIAN_MIRROR = "http://deb.debian.org/debian";
export const DEBIAN_PACKAGES = [
  "systemd-sysv",
  "linux-image-amd64",
  "udev",
  "kmod",
  "iproute2",
  "dbus",
  "procps",
  "network-manager",
  "openssh-server",
  "munge",
  "nfs-common",
  "slurmd",
  "slurm-client",
];
const DPKG_OPTS = ["path-exclude=/usr/share/man/*", "path-exclude=/usr/share/doc/*", "path-exclude=/usr/share/locale/*"];
/** Run in the chroot before the packages: shifts the dynamic system ids away from a stock Debian host's. */
const ESSENTIAL_HOOK =
  'for n in 1 2; do echo "drover-pad$n:x:10$n:10$n::/nonexistent:/usr/sbin/nologin" >>"$1/etc/passwd"; echo "drover-pad$n:x:10$n:" >>"$1/etc/group"; echo "drover-pad$n:!:1::::::" >>"$1/etc/shadow"; done';

export const TEST_CACHE = process.env.DROVER_TEST_CACHE ?? "/var/cache/drover-test";

export class DebianImageUnavailable extends Error {}

export interface DebianRootfs {
  /** The root filesystem (a directory; import it with `drover image import DIR NAME`). */
  dir: string;
  key: string;
  packages: string[];
  /** How long making it took now, in ms; 0 when it came from the cache. */
  builtMs: number;
}

function recipeKey(): string {
  const recipe = JSON.stringify({ suite: DEBIAN_SUITE, packages: DEBIAN_PACKAGES, DPKG_OPTS, ESSENTIAL_HOOK, v: 1 });
  return createHash("sha256").update(recipe).digest("hex").slice(0, 12);
}

/** Why the image cannot be had here, or undefined. */
export function debianRootfsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "making a Debian root filesystem needs root (mmdebstrap); run the suite as root";
  const dir = join(TEST_CACHE, `debian12-${recipeKey()}`, "rootfs");
  if (existsSync(join(dir, "etc", "os-release"))) return undefined;
  if (spawnSync(["which", "mmdebstrap"]).exitCode !== 0) return "needs mmdebstrap: apt-get install mmdebstrap (test/run.sh does, as root)";
  return undefined;
}

let pending: Promise<DebianRootfs> | undefined;

/** The cached tree, made first when missing (one build at a time, also across processes: a lock folder). */
export function debianRootfs(): Promise<DebianRootfs> {
  pending ??= load();
  return pending;
}

async function load(): Promise<DebianRootfs> {
  const why = debianRootfsUnavailable();
  if (why) throw new DebianImageUnavailable(why);
  const key = recipeKey();
  const base = join(TEST_CACHE, `debian12-${key}`);
  const dir = join(base, "rootfs");
  const done = () => existsSync(join(dir, "etc", "os-release"));
  if (done()) return { dir, key, packages: DEBIAN_PACKAGES, builtMs: 0 };
  mkdirSync(base, { recursive: true });
  const lock = join(base, "building");
  // mkdir is atomic: whoever makes the lock builds; the others wait for the tree (or a stale lock, 20 min).
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (done()) return { dir, key, packages: DEBIAN_PACKAGES, builtMs: 0 };
      try {
        if (Date.now() - statSync(lock).mtimeMs > 20 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {}
      await Bun.sleep(2000);
    }
  }
  try {
    if (done()) return { dir, key, packages: DEBIAN_PACKAGES, builtMs: 0 };
    const tmp = join(base, `rootfs.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    for (const e of readdirSync(base)) if (e.startsWith("rootfs.tmp-")) rmSync(join(base, e), { recursive: true, force: true });
    const t0 = Date.now();
    const args = [
      "mmdebstrap",
      "--variant=minbase",
      `--include=${DEBIAN_PACKAGES.join(",")}`,
      ...DPKG_OPTS.map((o) => `--dpkgopt=${o}`),
      `--essential-hook=${ESSENTIAL_HOOK}`,
      DEBIAN_SUITE,
      tmp,
      DEBIAN_MIRROR,
    ];
    const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const rc = await proc.exited;
    if (rc !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new DebianImageUnavailable(`mmdebstrap failed (exit ${rc}); is the Debian mirror reachable?\n${(out + err).slice(-2000)}`);
    }
    writeFileSync(join(tmp, "etc", "drover-test-recipe"), `${args.join(" ")}\n`);
    renameSync(tmp, dir);
    return { dir, key, packages: DEBIAN_PACKAGES, builtMs: Date.now() - t0 };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Files of PADDED_FILE_BYTES each that debianRootfsPadded adds under /opt/drover-pad. */
export const PADDED_FILES = 4;
export const PADDED_FILE_BYTES = 1024 ** 3 + 4096;

/**
 * The same tree padded past 4 GiB unpacked (the two-stage test of images larger than the firmware and the
 * 32-bit initrd limits): hard links to the cached tree plus PADDED_FILES sparse files of zeros, so it costs
 * no disk; cached beside the tree. Each pad file is one cpio entry of more than 1 GiB, so one piece of its
 * own, which stage 1 unpacks through a pipe (src/image/stage1/init.sh).
 */
export async function debianRootfsPadded(): Promise<string> {
  const deb = await debianRootfs();
  const dir = join(deb.dir, "..", "padded-4g");
  const done = join(dir, "opt", "drover-pad", "done");
  if (existsSync(done)) return dir;
  rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const cp = spawnSync(["cp", "-al", deb.dir, tmp], { stderr: "pipe" });
  if (cp.exitCode !== 0) throw new Error(`cp -al ${deb.dir} ${tmp}: ${cp.stderr.toString()}`);
  mkdirSync(join(tmp, "opt", "drover-pad"), { recursive: true });
  for (let i = 0; i < PADDED_FILES; i++) {
    const f = join(tmp, "opt", "drover-pad", `pad-${i}`);
    writeFileSync(f, "");
    truncateSync(f, PADDED_FILE_BYTES);
  }
  writeFileSync(join(tmp, "opt", "drover-pad", "done"), "");
  renameSync(tmp, dir);
  return dir;
}

if (import.meta.main) {
  const r = await debianRootfs();
  console.log(`${r.dir} (${r.builtMs ? `made in ${(r.builtMs / 1000).toFixed(0)} s` : "cached"})`);
}
