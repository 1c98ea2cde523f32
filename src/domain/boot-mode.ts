/**
 * One-stage or two-stage boot (docs/booting.md).
 * - one-stage: iPXE downloads the whole image as an initrd and the kernel inflates it (the firmware must hold
 *   the compressed image: Debian's iPXE fails near 200 MiB under UEFI and near 4 GiB under BIOS).
 * - two-stage: iPXE loads the kernel and the image's small stage-1 initramfs; stage 1 streams the image into
 *   a tmpfs (no compressed copy in RAM, no firmware limit) — faster for every image measured past ~100 MiB
 *   but not everywhere faster (bench/README.md); the default follows the rule below.
 * A node's (or its profile's) tag `bootmode=one-stage|two-stage` overrides the rule.
 */
export type BootMode = "one-stage" | "two-stage";

/**
 * The automatic rule: two-stage from TWO_STAGE_MIN_UNPACKED unpacked, on every firmware. Measured
 * (bench/README.md, Debian 12, TCG): two-stage is the only path that boots this image under UEFI with
 * Debian's iPXE, needs ~500 MiB less RAM and has no 4 GiB limit; under BIOS and emulation one-stage reached
 * init sooner, so a BIOS site that wants that path sets `bootmode=one-stage` on the profile.
 */
export const TWO_STAGE_MIN_UNPACKED = 128 * 1024 * 1024;

/**
 * The RAM model, fitted to the smallest VM memory that booted a stock Debian 12 image (176 MiB gzip, 627 MiB
 * unpacked; bench/ram-floor.ts, docs/images.md):
 * - one-stage (root initramfs or tmpfs alike): boots at 1600 MiB, panics at 1536 ("Initramfs unpacking
 *   failed: write error") — the compressed copy iPXE hands over plus about twice the unpacked tree while the
 *   kernel unpacks it: compressed + 2 × unpacked + 128 MiB is the floor (1558 MiB here);
 * - two-stage: boots at 896 MiB, stage 1's zstd is OOM-killed at 768 — the tree plus pieces in flight and
 *   the kernel: unpacked + 192 MiB is the floor (819 MiB here).
 * "RAM needed" (image show, the warnings) adds a working margin for the node's own processes on top.
 */
export const ONE_STAGE_MARGIN = 256 * 1024 * 1024;
/** RAM a two-stage boot needs beyond the unpacked tree: kernel, stage 1's pieces in flight, the node's processes. */
export const TWO_STAGE_MARGIN = 256 * 1024 * 1024;
/** Below these the iPXE script (one-stage) and stage 1 (two-stage) stop with a message instead of a panic. */
export const ONE_STAGE_FLOOR_MARGIN = 128 * 1024 * 1024;
export const TWO_STAGE_FLOOR_MARGIN = 192 * 1024 * 1024;

export interface BootModeInput {
  /** The node's `bootmode` tag, if any. */
  tag?: string;
  /** Unpacked size of the built image. */
  unpacked: number;
  /** Compressed (gzip) size: what iPXE must hold one-stage. */
  size?: number;
  /** iPXE's ${platform}: pcbios or efi; undefined when not known. */
  platform?: string;
  /** Whether the image has a stage-1 initramfs for the kernel the node boots. */
  stage1: boolean;
}

export function isBootMode(s: string | undefined): s is BootMode {
  return s === "one-stage" || s === "two-stage";
}

/** The mode a node boots in; a two-stage tag without a stage 1 falls back to one-stage (reason given). */
export function chooseBootMode(i: BootModeInput): { mode: BootMode; why: string } {
  if (isBootMode(i.tag)) {
    if (i.tag === "two-stage" && !i.stage1)
      return { mode: "one-stage", why: "bootmode=two-stage but the image has no stage 1 for this kernel (see drover image show)" };
    return { mode: i.tag, why: `bootmode=${i.tag}` };
  }
  if (!i.stage1) return { mode: "one-stage", why: "no stage 1 built for this kernel" };
  const fw = i.platform === "efi" ? "UEFI, " : i.platform === "pcbios" ? "BIOS, " : "";
  const mib = (n: number) => `${Math.round(n / 1048576)} MiB`;
  return i.unpacked >= TWO_STAGE_MIN_UNPACKED
    ? { mode: "two-stage", why: `${fw}image >= ${mib(TWO_STAGE_MIN_UNPACKED)} unpacked` }
    : { mode: "one-stage", why: `${fw}image < ${mib(TWO_STAGE_MIN_UNPACKED)} unpacked` };
}

/**
 * Two-stage, beyond the margin: stage 1 holds up to two compressed pieces while one unpacks (a large piece
 * through a pipe, src/image/stage1/init.sh). The fit above had pieces of ~16 MiB compressed; only an image
 * with a large file that compresses badly (one entry is one piece) has larger ones.
 */
export function piecesExtra(largestPiece = 0): number {
  return Math.max(0, 2 * largestPiece - 32 * 1024 * 1024);
}

/**
 * What grows with the tree in a two-stage node's RAM beside the tree itself: the kernel's page map (64 bytes
 * per 4 KiB page, 1.6%) and tmpfs rounding each file up to whole pages (~0.4% for a Debian tree). Measured
 * with an image padded to 4.6 GiB unpacked: unpacked + 256 MiB (5 GiB) ran out of memory in stage 1 with
 * 202 MiB of the RAM reserved by the kernel (bench/README.md).
 */
export const TREE_OVERHEAD = 0.02;
/** Above 4 GiB of RAM an x86 kernel without an IOMMU reserves a 64 MiB bounce buffer (swiotlb). */
export const SWIOTLB = 64 * 1024 * 1024;

function twoStage(unpacked: number, margin: number, largestPiece: number): number {
  const n = Math.ceil(unpacked * (1 + TREE_OVERHEAD)) + margin + piecesExtra(largestPiece);
  return n > 4 * 1024 ** 3 ? n + SWIOTLB : n;
}

/** RAM a node needs to boot an image in a mode (what `image show` and the memory warnings use). */
export function ramNeeded(mode: BootMode, size: number, unpacked: number, largestPiece = 0): number {
  return mode === "two-stage" ? twoStage(unpacked, TWO_STAGE_MARGIN, largestPiece) : size + 2 * unpacked + ONE_STAGE_MARGIN;
}

/** The least RAM below which a boot cannot unpack (the checks on the node). */
export function ramFloor(mode: BootMode, size: number, unpacked: number, largestPiece = 0): number {
  return mode === "two-stage" ? twoStage(unpacked, TWO_STAGE_FLOOR_MARGIN, largestPiece) : size + 2 * unpacked + ONE_STAGE_FLOOR_MARGIN;
}
