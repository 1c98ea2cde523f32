/**
 * Debian's kernel for tests, never installed on the host: the package `linux-image-amd64` depends on is
 * fetched with `apt-get download` into test/.work/kernel/, and /boot/vmlinuz-* plus /lib/modules/VERSION
 * are unpacked beside it with dpkg-deb. Cached: later calls (and later runs) reuse the unpacked tree.
 *
 *   const k = await debianKernel();   // { vmlinuz, version, modulesDir, deb }
 *
 * Throws KernelUnavailable (with the reason and the fix) when apt has no lists or no network and nothing is
 * cached; tests catch it and skip.
 */
import { spawnSync } from "bun";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

export const KERNEL_WORK = join(import.meta.dir, "..", ".work", "kernel");

export interface DebianKernel {
  /** Absolute path of vmlinuz-VERSION. */
  vmlinuz: string;
  /** e.g. 6.1.0-56-amd64 */
  version: string;
  /** The unpacked lib/modules/VERSION directory (the whole module tree of the package). */
  modulesDir: string;
  /** The downloaded .deb (to unpack more from it). */
  deb: string;
}

export class KernelUnavailable extends Error {}

let pending: Promise<DebianKernel> | undefined;

export function debianKernel(): Promise<DebianKernel> {
  pending ??= load();
  return pending;
}

function cached(): DebianKernel | undefined {
  if (!existsSync(KERNEL_WORK)) return undefined;
  for (const v of readdirSync(KERNEL_WORK).sort().reverse()) {
    const root = join(KERNEL_WORK, v);
    const k = shape(root, v);
    if (k && existsSync(k.vmlinuz) && existsSync(k.modulesDir) && existsSync(k.deb)) return k;
  }
  return undefined;
}

function shape(root: string, version: string): DebianKernel | undefined {
  if (version.includes(".tmp")) return undefined;
  const deb = existsSync(root) ? readdirSync(root).find((f) => f.endsWith(".deb")) : undefined;
  return {
    vmlinuz: join(root, "boot", `vmlinuz-${version}`),
    version,
    modulesDir: join(root, "lib", "modules", version),
    deb: join(root, deb ?? "missing.deb"),
  };
}

async function load(): Promise<DebianKernel> {
  const dep = spawnSync(["apt-cache", "depends", "linux-image-amd64"]).stdout.toString();
  const pkg = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(dep)?.[1];
  if (!pkg) {
    const c = cached();
    if (c) return c;
    throw new KernelUnavailable("apt knows no linux-image-amd64: run apt-get update (needs the Debian mirror once; the kernel is cached in test/.work/kernel)");
  }
  const version = pkg.replace(/^linux-image-/, "");
  const root = join(KERNEL_WORK, version);
  const want = shape(root, version)!;
  if (existsSync(want.vmlinuz) && existsSync(want.modulesDir) && existsSync(want.deb)) return want;
  const tmp = `${root}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const dl = spawnSync(["apt-get", "download", pkg], { cwd: tmp });
    const deb = readdirSync(tmp).find((f) => f.endsWith(".deb"));
    if (dl.exitCode !== 0 || !deb) throw new KernelUnavailable(`apt-get download ${pkg} failed: ${dl.stderr.toString().trim()}`);
    const x = spawnSync(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./boot ./lib/modules', "sh", join(tmp, deb), tmp]);
    if (x.exitCode !== 0) throw new KernelUnavailable(`unpacking ${deb} failed: ${x.stderr.toString().trim()}`);
    if (!existsSync(join(tmp, "boot", `vmlinuz-${version}`))) throw new KernelUnavailable(`${deb} has no /boot/vmlinuz-${version}`);
    mkdirSync(KERNEL_WORK, { recursive: true });
    if (!existsSync(root)) renameSync(tmp, root);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return shape(root, version)!;
}
