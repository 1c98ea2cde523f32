import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { resolveIn } from "./fspath";
import initScript from "./stage1/init.sh" with { type: "text" };
import udhcpcScript from "./stage1/udhcpc.script" with { type: "text" };

/**
 * The stage-1 initramfs of the two-stage boot (docs/booting.md): a few MiB that iPXE loads beside the kernel
 * instead of the whole image. Stage 1 brings the network up, streams the image over HTTP straight into a
 * tmpfs, checks its sha256, fetches the system overlay and switch_roots into the image.
 *
 * Contents, all taken at `image build` time:
 * - busybox from the head node (Debian's busybox-static, /bin/busybox): it must be static, since the
 *   initramfs has no libc;
 * - the NIC and storage modules of the image's own kernel (/lib/modules/VERSION in the image) with every
 *   module they depend on (the image's modules.dep), and the matching lines of modules.dep and
 *   modules.alias, so busybox modprobe loads them by modalias (coldplug);
 * - the head node's `zstd` with its shared libraries and loader, when the head node has it: busybox 1.35
 *   cannot decompress zstd, and the image itself need not contain the zstd command;
 * - drover's init (src/image/stage1/init.sh) and udhcpc script.
 * One archive per kernel version in the image, since modules only load into the kernel they were built for.
 */

/** Network drivers stage 1 can bring up (module names as in modules.dep, `-` and `_` alike). */
export const STAGE1_NIC_MODULES = [
  "virtio_pci",
  "virtio_net",
  "e1000",
  "e1000e",
  "igb",
  "igc",
  "ixgbe",
  "ixgbevf",
  "i40e",
  "iavf",
  "ice",
  "bnxt_en",
  "tg3",
  "mlx4_en",
  "mlx5_core",
  "r8169",
  "vmxnet3",
  "ena",
];
/** Storage drivers (for sites that keep scratch or swap on local disks; stage 1 itself does not use them). */
export const STAGE1_STORAGE_MODULES = ["virtio_blk", "virtio_scsi", "nvme", "ahci", "sd_mod"];

export class Stage1Error extends Error {}

export interface Stage1Options {
  /** The static busybox to embed; default /bin/busybox (Debian: apt-get install busybox-static). */
  busybox?: string;
  /** The zstd command to embed (with its libraries); default the head node's `zstd` if any; false: none. */
  zstd?: string | false;
}

export interface Stage1Result {
  path: string;
  kernelVersion: string;
  size: number;
  modules: number;
  zstd: boolean;
}

/** True when an ELF file asks for a program interpreter (is dynamically linked). */
export function elfIsDynamic(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46) throw new Stage1Error(`${path} is not an ELF executable`);
    const is64 = h[4] === 2;
    const phoff = is64 ? Number(h.readBigUInt64LE(32)) : h.readUInt32LE(28);
    const phentsize = h.readUInt16LE(is64 ? 54 : 42);
    const phnum = h.readUInt16LE(is64 ? 56 : 44);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return true; // PT_INTERP
    return false;
  } finally {
    closeSync(fd);
  }
}

const norm = (m: string) => m.replaceAll("-", "_");
const modName = (path: string) => norm(basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, ""));

/** The modules to include: the wanted ones present in modules.dep, closed over their dependencies. */
export function selectModules(modulesDep: string, wanted: readonly string[]): { paths: string[]; depLines: string[] } {
  const deps = new Map<string, { path: string; deps: string[]; line: string }>();
  for (const line of modulesDep.split("\n")) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const path = line.slice(0, i).trim();
    deps.set(modName(path), {
      path,
      deps: line
        .slice(i + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
      line,
    });
  }
  const byPath = new Map([...deps.values()].map((d) => [d.path, d]));
  const keep = new Set<string>();
  const add = (path: string) => {
    if (keep.has(path)) return;
    const d = byPath.get(path);
    if (!d) return;
    keep.add(path);
    for (const p of d.deps) add(p);
  };
  for (const w of wanted) {
    const d = deps.get(norm(w));
    if (d) add(d.path);
  }
  const paths = [...keep].sort();
  return { paths, depLines: paths.map((p) => byPath.get(p)!.line) };
}

/** A cpio "newc" entry for the in-memory writer below. */
interface Entry {
  name: string;
  mode: number;
  data?: Uint8Array;
  rdev?: [number, number];
}

const enc = new TextEncoder();
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function cpio(entries: readonly Entry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let ino = 1;
  const put = (e: Entry) => {
    const name = enc.encode(`${e.name}\0`);
    const size = e.data?.length ?? 0;
    const h =
      `070701${hex8(ino++)}${hex8(e.mode)}${hex8(0)}${hex8(0)}${hex8((e.mode & 0o170000) === 0o040000 ? 2 : 1)}${hex8(0)}${hex8(size)}` +
      `${hex8(0)}${hex8(0)}${hex8(e.rdev?.[0] ?? 0)}${hex8(e.rdev?.[1] ?? 0)}${hex8(name.length)}${hex8(0)}`;
    chunks.push(enc.encode(h), name, new Uint8Array(pad4(110 + name.length)));
    if (size) chunks.push(e.data!, new Uint8Array(pad4(size)));
  };
  for (const e of entries) put(e);
  put({ name: "TRAILER!!!", mode: 0 });
  return Buffer.concat(chunks);
}

/** The head node's shared libraries a dynamic executable needs (ldd), with the loader. */
function sharedLibs(exe: string): string[] {
  const r = Bun.spawnSync(["ldd", exe], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Stage1Error(`ldd ${exe} failed: ${r.stderr.toString().trim()}`);
  const out: string[] = [];
  for (const line of r.stdout.toString().split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/**
 * Builds the stage-1 initramfs (gzip'd newc cpio) for one kernel version of the image at `rootfs`, written
 * to `out` atomically. Throws Stage1Error with what to install when something it needs is missing.
 */
export function buildStage1(rootfs: string, kernelVersion: string, out: string, opts: Stage1Options = {}): Stage1Result {
  const busybox = opts.busybox ?? "/bin/busybox";
  if (!existsSync(busybox))
    throw new Stage1Error(`the two-stage boot needs a static busybox on the head node at ${busybox}: apt-get install busybox-static (or dnf install busybox)`);
  if (elfIsDynamic(busybox))
    throw new Stage1Error(`${busybox} is dynamically linked; the two-stage boot needs the static build: apt-get install busybox-static`);
  let modDir = "";
  for (const base of ["lib/modules", "usr/lib/modules"]) {
    const d = resolveIn(rootfs, `${base}/${kernelVersion}`, true);
    if (d.startsWith(rootfs) && existsSync(join(d, "modules.dep"))) {
      modDir = d;
      break;
    }
  }
  if (!modDir)
    throw new Stage1Error(
      `the image has no /lib/modules/${kernelVersion}/modules.dep, so stage 1 cannot load its network drivers; run depmod in the image (drover image ` +
        `exec NAME -- depmod ${kernelVersion})`,
    );
  const sel = selectModules(readFileSync(join(modDir, "modules.dep"), "utf8"), [...STAGE1_NIC_MODULES, ...STAGE1_STORAGE_MODULES]);
  const keep = new Set(sel.paths.map(modName));
  const aliasFile = join(modDir, "modules.alias");
  const aliases = existsSync(aliasFile)
    ? readFileSync(aliasFile, "utf8")
        .split("\n")
        .filter((l) => {
          const m = /^alias\s+\S+\s+(\S+)/.exec(l);
          return m && keep.has(norm(m[1]!));
        })
    : [];

  const dirs = new Set<string>();
  const entries: Entry[] = [];
  const dir = (d: string) => {
    if (!d || d === "." || dirs.has(d)) return;
    dir(dirname(d));
    dirs.add(d);
    entries.push({ name: d, mode: 0o040755 });
  };
  const file = (name: string, data: Uint8Array, mode = 0o100644) => {
    dir(dirname(name));
    entries.push({ name, mode, data });
  };
  for (const d of ["dev", "proc", "sys", "run", "tmp", "newroot", "bin", "sbin", "usr/bin", "usr/sbin"]) dir(d);
  entries.push({ name: "dev/console", mode: 0o020600, rdev: [5, 1] }, { name: "dev/null", mode: 0o020666, rdev: [1, 3] });
  file("bin/busybox", readFileSync(busybox), 0o100755);
  entries.push({ name: "bin/sh", mode: 0o120777, data: enc.encode("busybox") });
  file("init", enc.encode(initScript), 0o100755);
  file("stage1/udhcpc.script", enc.encode(udhcpcScript), 0o100755);
  const inModules = `lib/modules/${kernelVersion}`;
  for (const p of sel.paths) {
    const src = resolveIn(modDir, p, true);
    if (!src.startsWith(rootfs) || !existsSync(src)) continue;
    file(`${inModules}/${p}`, readFileSync(src));
  }
  file(`${inModules}/modules.dep`, enc.encode(`${sel.depLines.join("\n")}\n`));
  file(`${inModules}/modules.alias`, enc.encode(`${aliases.join("\n")}\n`));

  let zstd = false;
  const zstdPath = opts.zstd === false ? undefined : (opts.zstd ?? whichZstd());
  if (zstdPath) {
    file("usr/bin/zstd", readFileSync(zstdPath), 0o100755);
    for (const lib of sharedLibs(zstdPath)) {
      // Keep the path the executable asks for (the loader's is absolute in the ELF); store the real file.
      file(lib.slice(1), readFileSync(realpathSync(lib)), 0o100755);
    }
    zstd = true;
  }

  const gz = Bun.gzipSync(cpio(entries) as Uint8Array<ArrayBuffer>, { level: 9 });
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, gz, { mode: 0o644 });
  renameSync(tmp, out);
  return { path: out, kernelVersion, size: gz.length, modules: sel.paths.length, zstd };
}

function whichZstd(): string | undefined {
  for (const p of ["/usr/bin/zstd", "/bin/zstd", "/usr/local/bin/zstd"]) {
    try {
      if (lstatSync(p).isFile() || readlinkSync(p)) return realpathSync(p);
    } catch {}
  }
  return undefined;
}

/** sha256 of a file, hex (used by tests; builds hash while writing). */
export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export const removeStage1 = (path: string) => rmSync(path, { force: true });
