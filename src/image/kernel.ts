import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { resolveIn } from "./fspath";

/** A kernel found inside an image. */
export interface KernelFile {
  version: string;
  /** Absolute path on the head node (inside the image's rootfs). */
  path: string;
  /** Path inside the image, with a leading slash. */
  inImage: string;
  /** Debug or rescue kernels are listed but never picked by default. */
  special: boolean;
}

/** Orders versions the way people read them: 6.12.0-211 > 6.9.3 > 6.1.0-31, numbers compared as numbers. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9a-zA-Z]+/);
  const pb = b.split(/[^0-9a-zA-Z]+/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d) return d;
    } else if (nx !== ny) return nx ? 1 : -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const isSpecial = (v: string) => /debug|rescue/i.test(v);

/**
 * Every kernel in the image: `/boot/vmlinuz-*`, `/boot/Image-*` (arm64), and `/lib/modules/VER/vmlinuz`
 * (EL10 installs it only there, since kernel-install's copy to /boot does not run in a chroot).
 * Sorted best first: highest version, ordinary kernels before debug/rescue ones.
 */
export function findKernels(rootfs: string): KernelFile[] {
  const found = new Map<string, KernelFile>();
  const add = (inImage: string, version: string) => {
    const path = resolveIn(rootfs, inImage.slice(1), true);
    if (!path.startsWith(rootfs)) return;
    try {
      if (!lstatSync(path).isFile()) return;
    } catch {
      return;
    }
    if (!found.has(version)) found.set(version, { version, path, inImage, special: isSpecial(version) });
  };
  const boot = resolveIn(rootfs, "boot", true);
  if (existsSync(boot)) {
    for (const n of readdirSync(boot).sort()) {
      const m = /^(?:vmlinuz|Image|vmlinux)-(.+?)(?:\.gz)?$/.exec(n);
      if (m) add(`/boot/${n}`, m[1]!);
    }
  }
  for (const base of ["lib/modules", "usr/lib/modules"]) {
    const dir = resolveIn(rootfs, base, true);
    if (!existsSync(dir)) continue;
    for (const v of readdirSync(dir).sort()) {
      for (const f of ["vmlinuz", "vmlinuz.gz", "Image", "Image.gz"]) add(`/${base}/${v}/${f}`, v);
    }
  }
  return [...found.values()].sort((a, b) => (a.special !== b.special ? (a.special ? 1 : -1) : compareVersions(b.version, a.version)));
}

/** The kernel a node boots: the one matching `want` (exact, then prefix), else the best non-special one. */
export function pickKernel(kernels: readonly KernelFile[], want?: string): KernelFile | undefined {
  if (want) return kernels.find((k) => k.version === want) ?? kernels.find((k) => k.version.startsWith(want));
  return kernels.find((k) => !k.special);
}

export const kernelPathOf = (rootfs: string, inImage: string) => join(rootfs, inImage);
