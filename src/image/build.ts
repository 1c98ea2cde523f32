import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import type { Stats } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { DroverError } from "../domain/errors";
import { resolveIn } from "./fspath";

/**
 * Builds the bootable image: a cpio "newc" archive of the rootfs, gzip-compressed, which iPXE loads as an
 * initrd and the kernel unpacks into its rootfs.
 *
 * Parallel compression: the uncompressed archive is cut into segments of about 4 MiB, each compressed as its
 * own gzip member by a pool of Workers, and the members are written in order. Concatenated gzip members are
 * one valid gzip stream (gzip -d, zcat and the kernel read them), and since only the last segment holds the
 * TRAILER!!! entry, the decompressed bytes are one ordinary cpio archive (`cpio -t` lists it all).
 * Segments end only between whole entries (header, data and padding): the kernel's unpacker
 * (init/initramfs.c) checks after every compressed member that its cpio state machine is back at Reset and
 * otherwise fails with "junk at the end of compressed archive". A file larger than a segment gets a segment
 * of its own.
 *
 * Atomic: the archive is written beside the target and renamed over it, so a node that is downloading
 * during a rebuild gets the old file or the new one (an open file survives the rename), never a mix.
 */

export interface BuildOptions {
  /** Worker count; defaults to the number of cores. */
  threads?: number;
  /** gzip level 1-9; 6 (as gzip and pigz default). */
  level?: number;
  /**
   * Also write a zstd archive of the same cpio stream to this path (for the two-stage boot: zstd inflates
   * several times faster than gzip on the node). Each segment is its own zstd frame, compressed on the same
   * Workers; `zstd -d` reads concatenated frames as one stream.
   */
  zstdOut?: string;
  /** zstd level; 3 (the zstd CLI's default). */
  zstdLevel?: number;
  /** Unpacked bytes per piece of the piece index (see piecePlan); 64 MiB. */
  pieceTarget?: number;
}

/** One piece of an archive's piece index: whole gzip members or zstd frames, whole cpio entries. */
export interface ArchivePiece {
  offset: number;
  length: number;
  sha256: string;
  /** Its cpio bytes once decompressed: stage 1 unpacks a large piece through a pipe instead of a file. */
  unpacked: number;
}

/**
 * The piece index written beside each archive (`ARCHIVE.pieces`, text): stage 1 of the two-stage boot
 * fetches it, then each piece by offset, and unpacks each one on its own (decompressed to a file, then
 * `cpio -i` from that file: no pipe between two processes, which under emulation costs more than both).
 * First line `drover-pieces FORMAT SIZE SHA256` (the whole archive's), then `OFFSET LENGTH SHA256 UNPACKED`
 * a piece (UNPACKED, added later, is absent from older indexes; stage 1 then unpacks every piece from a file).
 */
export function formatPieceIndex(format: "gzip" | "zstd", size: number, sha256: string, pieces: readonly ArchivePiece[]): string {
  return `drover-pieces ${format} ${size} ${sha256}\n${pieces.map((p) => `${p.offset} ${p.length} ${p.sha256} ${p.unpacked}\n`).join("")}`;
}

/** The largest piece's compressed length: stage 1 holds up to two of them while it unpacks (the RAM model). */
export const largestPiece = (pieces: readonly ArchivePiece[]) => pieces.reduce((m, p) => Math.max(m, p.length), 0);

export interface BuildResult {
  path: string;
  /** Compressed size in bytes. */
  size: number;
  /** Size of the uncompressed cpio archive: what the kernel unpacks into RAM (file data plus headers). */
  unpacked: number;
  files: number;
  excluded: string[];
  /** sha256 of the gzip archive, hex (the two-stage boot checks it on the node). */
  sha256: string;
  zstd?: { path: string; size: number; sha256: string; pieces: number; largestPiece: number };
  /** Pieces of the piece index (`path`.pieces). */
  pieces: number;
  /** Compressed length of the largest of them. */
  largestPiece: number;
}

/**
 * Excluded when the image has no excludes file of its own, as Warewulf's default: the kernel is served
 * from the image tree by /kernel/, so packing /boot too would make every node download it twice and keep
 * a copy in its RAM.
 */
export const DEFAULT_EXCLUDES = ["/boot/"];

/**
 * Exclusion patterns (one per line, # comments), from /etc/warewulf/excludes and /etc/drover/excludes;
 * DEFAULT_EXCLUDES when the image has neither file.
 */
export function readExcludes(rootfs: string): string[] {
  const out: string[] = [];
  let found = false;
  for (const f of ["etc/warewulf/excludes", "etc/drover/excludes"]) {
    const p = resolveIn(rootfs, f, true);
    if (!p.startsWith(rootfs) || !existsSync(p)) continue;
    found = true;
    for (const line of readFileSync(p, "utf8").split("\n")) {
      const t = line.trim();
      if (t && !t.startsWith("#")) out.push(t);
    }
  }
  return found ? out : [...DEFAULT_EXCLUDES];
}

/** Glob → RegExp over a path relative to the root: `*` and `?` stay within a component, `[…]` a class. */
function globRe(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * An exclude matches a path and everything below it. `/boot/` (trailing slash, as in Warewulf's default
 * file) keeps the directory itself but drops its contents; `/var/cache/*` drops the entries inside.
 */
export function excluder(patterns: readonly string[]): (rel: string, isDir: boolean) => "keep" | "skip" | "empty" {
  const rules = patterns.map((p) => {
    const contentsOnly = p.endsWith("/");
    return { re: globRe(p.replace(/^\/+/, "").replace(/\/+$/, "")), contentsOnly };
  });
  return (rel, isDir) => {
    for (const r of rules) {
      if (r.re.test(rel)) return r.contentsOnly && isDir ? "empty" : "skip";
    }
    return "keep";
  };
}

// ---- cpio newc planning ----

/** A run of the cpio stream: literal bytes (`entry` marks the header that starts an entry), or file data. */
type Piece = { bytes: Uint8Array; entry?: true; link?: number } | { file: string; offset: number; length: number };

const enc = new TextEncoder();
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
/** The largest file a cpio "newc" entry holds (its size field is 8 hex digits). */
export const NEWC_MAX_FILE = 0xffffffff;

/** A file of 4 GiB or more in the rootfs: the image cannot be built; says what to do instead. */
export class ImageTooLargeFileError extends DroverError {
  constructor(
    readonly path: string,
    readonly size: number,
  ) {
    super(
      "invalid",
      `/${path} is ${(size / 2 ** 30).toFixed(2)} GiB: a file in a boot image must be under 4 GiB (the initramfs "newc" format the kernel and stage 1 ` +
        `unpack keeps sizes in 32 bits); ` +
        "keep a file that large outside the image (an NFS mount from the node's fstab resources), or split it, or exclude it (drover image build --help)",
    );
    this.name = "ImageTooLargeFileError";
  }
}
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function newcHeader(
  name: string,
  f: { ino: number; mode: number; uid: number; gid: number; nlink: number; mtime: number; size: number; rmaj: number; rmin: number },
): Uint8Array {
  const nameBytes = enc.encode(`${name}\0`);
  const head =
    "070701" +
    hex8(f.ino) +
    hex8(f.mode) +
    hex8(f.uid) +
    hex8(f.gid) +
    hex8(f.nlink) +
    hex8(f.mtime) +
    hex8(f.size) +
    hex8(0) +
    hex8(0) +
    hex8(f.rmaj) +
    hex8(f.rmin) +
    hex8(nameBytes.length) +
    hex8(0);
  const out = new Uint8Array(110 + nameBytes.length + pad4(110 + nameBytes.length));
  out.set(enc.encode(head), 0);
  out.set(nameBytes, 110);
  return out;
}

interface Plan {
  pieces: Piece[];
  files: number;
  unpacked: number;
  excluded: string[];
}

/** Walks the rootfs (sorted, so builds are reproducible) and lays out the cpio stream as pieces. */
export function planCpio(rootfs: string, excludes: readonly string[]): Plan {
  const exclude = excluder(excludes);
  const pieces: Piece[] = [];
  const inos = new Map<string, number>();
  const seen = new Set<number>();
  let nextIno = 1;
  let files = 0;
  let unpacked = 0;
  const excluded: string[] = [];
  const emit = (rel: string, abs: string, st: Stats) => {
    const key = `${st.dev}:${st.ino}`;
    let ino = inos.get(key);
    if (ino === undefined) inos.set(key, (ino = nextIno++));
    const isFile = st.isFile();
    const isLink = st.isSymbolicLink();
    // Hardlinks: the first name carries the data; later names have size 0 and the kernel links them.
    const firstOfInode = !seen.has(ino);
    seen.add(ino);
    const target = isLink ? enc.encode(readlinkSync(abs)) : undefined;
    const size = isFile ? (firstOfInode ? Number(st.size) : 0) : (target?.length ?? 0);
    // newc keeps sizes in 8 hex digits: a larger file would be written with its size cut mod 4 GiB, and the
    // kernel's and stage 1's unpackers would read garbage from there on. (The image as a whole has no limit.)
    if (size > NEWC_MAX_FILE) throw new ImageTooLargeFileError(rel, size);
    const rdev = Number(st.rdev);
    const h = newcHeader(rel, {
      ino,
      mode: Number(st.mode),
      uid: Number(st.uid),
      gid: Number(st.gid),
      nlink: isFile ? Number(st.nlink) : st.isDirectory() ? 2 : 1,
      mtime: Math.floor(Number(st.mtimeMs) / 1000),
      size,
      rmaj: (rdev >> 8) & 0xfff,
      rmin: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    });
    // `link`: an inode with several names, so that pieces (see piecePlan) keep all its names together.
    pieces.push(isFile && Number(st.nlink) > 1 ? { bytes: h, entry: true, link: ino } : { bytes: h, entry: true });
    if (target) pieces.push({ bytes: concat(target, new Uint8Array(pad4(target.length))) });
    else if (size > 0) {
      pieces.push({ file: abs, offset: 0, length: size });
      if (pad4(size)) pieces.push({ bytes: new Uint8Array(pad4(size)) });
    }
    files++;
    unpacked += h.length + size + pad4(size);
  };
  const walk = (relDir: string) => {
    const absDir = relDir ? join(rootfs, relDir) : rootfs;
    for (const n of readdirSync(absDir).sort()) {
      const rel = relDir ? `${relDir}/${n}` : n;
      const abs = join(absDir, n);
      const st = lstatSync(abs);
      const dir = st.isDirectory();
      const verdict = exclude(rel, dir);
      if (verdict === "skip") {
        excluded.push(rel);
        continue;
      }
      emit(rel, abs, st);
      if (verdict === "empty") excluded.push(`${rel}/`);
      if (dir && verdict === "keep") walk(rel);
    }
  };
  emit(".", rootfs, lstatSync(rootfs));
  walk("");
  const trailer = newcHeader("TRAILER!!!", { ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, size: 0, rmaj: 0, rmin: 0 });
  pieces.push({ bytes: trailer, entry: true });
  unpacked += trailer.length;
  return { pieces, files, unpacked, excluded };
}

function concat(a: Uint8Array, b: Uint8Array) {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

/**
 * Cuts pieces into segments of about `target` bytes, only ever between whole cpio entries (before an entry
 * header), so that every segment's gzip member ends where the kernel's unpacker is between entries.
 */
export function segment(pieces: readonly Piece[], target = 4 << 20): Piece[][] {
  const segs: Piece[][] = [];
  let cur: Piece[] = [];
  let curLen = 0;
  for (const p of pieces) {
    if ("entry" in p && p.entry && curLen >= target) {
      segs.push(cur);
      cur = [];
      curLen = 0;
    }
    cur.push(p);
    curLen += "bytes" in p ? p.bytes.length : p.length;
  }
  if (cur.length) segs.push(cur);
  return segs;
}

/**
 * Groups segments into pieces of at least `target` unpacked bytes (the last may be smaller): returns, for
 * each segment, the index of its piece. A piece never ends between two names of one hardlinked inode:
 * busybox cpio links later names to the one carrying the data only within one run (at its TRAILER!!!).
 */
export function piecePlan(segs: readonly Piece[][], target = 64 << 20): number[] {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  segs.forEach((seg, i) => {
    for (const p of seg)
      if ("link" in p && p.link !== undefined) {
        if (!first.has(p.link)) first.set(p.link, i);
        last.set(p.link, i);
      }
  });
  // open[i]: some inode has names in segment i and in a later one, so no piece may end after segment i.
  const open = new Array<number>(segs.length + 1).fill(0);
  for (const [ino, f] of first) {
    const l = last.get(ino)!;
    if (l > f) {
      open[f]!++;
      open[l]!--;
    }
  }
  const out: number[] = [];
  let piece = 0;
  let len = 0;
  let depth = 0;
  segs.forEach((seg, i) => {
    out.push(piece);
    for (const p of seg) len += "bytes" in p ? p.bytes.length : p.length;
    depth += open[i]!;
    if (len >= target && depth === 0) {
      piece++;
      len = 0;
    }
  });
  return out;
}

/**
 * The worker: assembles one segment (header bytes and file ranges, zero-filled if a file shrank) and
 * gzips it with libdeflate. Inline source so the single compiled executable needs no extra file.
 */
const WORKER_SRC = `
const fs = require("node:fs");
self.onmessage = (ev) => {
  const { id, pieces, level, zstdLevel } = ev.data;
  try {
    let total = 0;
    for (const p of pieces) total += p.bytes ? p.bytes.length : p.length;
    const buf = new Uint8Array(total);
    let o = 0;
    for (const p of pieces) {
      if (p.bytes) { buf.set(p.bytes, o); o += p.bytes.length; continue; }
      const fd = fs.openSync(p.file, "r");
      try {
        let got = 0;
        while (got < p.length) {
          const n = fs.readSync(fd, buf, o + got, p.length - got, p.offset + got);
          if (n === 0) break;
          got += n;
        }
      } finally { fs.closeSync(fd); }
      o += p.length;
    }
    const out = Bun.gzipSync(buf, { level, library: "libdeflate" });
    const zst = zstdLevel ? Bun.zstdCompressSync(buf, { level: zstdLevel }) : undefined;
    postMessage({ id, out, zst }, zst ? [out.buffer, zst.buffer] : [out.buffer]);
  } catch (e) {
    postMessage({ id, error: String(e && e.message || e) });
  }
};`;

/** Builds `rootfs` into `out` (gzip'd newc cpio), atomically. */
export async function buildImage(rootfs: string, out: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const excludes = readExcludes(rootfs);
  const plan = planCpio(rootfs, excludes);
  const segs = segment(plan.pieces);
  const pieceOf = piecePlan(segs, opts.pieceTarget);
  const segLen = segs.map((seg) => seg.reduce((n, p) => n + ("bytes" in p ? p.bytes.length : p.length), 0));
  const gzPieces: ArchivePiece[] = [];
  const zPieces: ArchivePiece[] = [];
  let gzPieceSha: Bun.CryptoHasher | undefined;
  let zPieceSha: Bun.CryptoHasher | undefined;
  /** Adds `len` bytes of segment `id` to its piece in `list` (a new piece when `id` starts one). */
  const addToPiece = (list: ArchivePiece[], hasher: Bun.CryptoHasher | undefined, id: number, at: number, data: Uint8Array): Bun.CryptoHasher => {
    if (id === 0 || pieceOf[id] !== pieceOf[id - 1]) {
      if (hasher) list[list.length - 1]!.sha256 = hasher.digest("hex");
      list.push({ offset: at, length: 0, sha256: "", unpacked: 0 });
      hasher = new Bun.CryptoHasher("sha256");
    }
    list[list.length - 1]!.length += data.length;
    list[list.length - 1]!.unpacked += segLen[id]!;
    hasher!.update(data);
    return hasher!;
  };
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), segs.length));
  const level = opts.level ?? 6;
  const tmp = join(dirname(out), `.${randomBytes(6).toString("hex")}.building`);
  const fd = openSync(tmp, "wx", 0o644);
  const zTmp = opts.zstdOut ? join(dirname(opts.zstdOut), `.${randomBytes(6).toString("hex")}.building`) : undefined;
  const zfd = zTmp ? openSync(zTmp, "wx", 0o644) : undefined;
  const zstdLevel = opts.zstdOut ? (opts.zstdLevel ?? 3) : 0;
  const sha = new Bun.CryptoHasher("sha256");
  const zsha = new Bun.CryptoHasher("sha256");
  let zsize = 0;
  let shaHex = "";
  let zshaHex = "";
  const url = URL.createObjectURL(new Blob([WORKER_SRC], { type: "application/javascript" }));
  const workers: Worker[] = [];
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const ready = new Map<number, { out: Uint8Array; zst?: Uint8Array }>();
      let nextSend = 0;
      let nextWrite = 0;
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      const send = (w: Worker) => {
        if (nextSend >= segs.length) return;
        const id = nextSend++;
        w.postMessage({ id, pieces: segs[id], level, zstdLevel });
      };
      for (let i = 0; i < threads; i++) {
        const w = new Worker(url);
        workers.push(w);
        w.onmessage = (ev: MessageEvent<{ id: number; out?: Uint8Array; zst?: Uint8Array; error?: string }>) => {
          if (failed) return;
          const { id, out: data, zst, error } = ev.data;
          if (error || !data || (zfd !== undefined && !zst)) return fail(new Error(`compressing segment ${id} failed: ${error}`));
          ready.set(id, { out: data, zst });
          try {
            while (ready.has(nextWrite)) {
              const { out: b, zst: z } = ready.get(nextWrite)!;
              ready.delete(nextWrite);
              let off = 0;
              while (off < b.length) off += writeSync(fd, b, off, b.length - off);
              gzPieceSha = addToPiece(gzPieces, gzPieceSha, nextWrite, size, b);
              size += b.length;
              sha.update(b);
              if (zfd !== undefined && z) {
                off = 0;
                while (off < z.length) off += writeSync(zfd, z, off, z.length - off);
                zPieceSha = addToPiece(zPieces, zPieceSha, nextWrite, zsize, z);
                zsize += z.length;
                zsha.update(z);
              }
              nextWrite++;
            }
          } catch (e) {
            return fail(e);
          }
          if (nextWrite === segs.length) return resolve();
          // Keep at most a few segments waiting for their turn, so memory stays bounded.
          if (ready.size < threads * 2) send(w);
          else queueMicrotask(() => send(w));
        };
        w.onerror = (e) => fail(new Error(`build worker failed: ${e.message}`));
        send(w);
      }
    });
    fsyncSync(fd);
    closeSync(fd);
    shaHex = sha.digest("hex");
    if (zfd !== undefined) zshaHex = zsha.digest("hex");
    if (gzPieceSha) gzPieces[gzPieces.length - 1]!.sha256 = gzPieceSha.digest("hex");
    if (zPieceSha) zPieces[zPieces.length - 1]!.sha256 = zPieceSha.digest("hex");
    // The index goes in first: a node that gets a new index with the old archive (or the other way round)
    // sees the pieces' digests differ and boots again.
    const index = (path: string, text: string) => {
      const t = `${path}.${process.pid}.tmp`;
      writeFileSync(t, text, { mode: 0o644 });
      renameSync(t, path);
    };
    if (zfd !== undefined) {
      fsyncSync(zfd);
      closeSync(zfd);
      index(`${opts.zstdOut!}.pieces`, formatPieceIndex("zstd", zsize, zshaHex, zPieces));
      renameSync(zTmp!, opts.zstdOut!);
    }
    index(`${out}.pieces`, formatPieceIndex("gzip", size, shaHex, gzPieces));
    renameSync(tmp, out);
  } catch (e) {
    for (const f of [fd, zfd]) {
      try {
        if (f !== undefined) closeSync(f);
      } catch {}
    }
    rmSync(tmp, { force: true });
    if (zTmp) rmSync(zTmp, { force: true });
    throw e;
  } finally {
    for (const w of workers) w.terminate();
    URL.revokeObjectURL(url);
  }
  return {
    path: out,
    size,
    unpacked: plan.unpacked,
    files: plan.files,
    excluded: plan.excluded,
    sha256: shaHex,
    pieces: gzPieces.length,
    largestPiece: largestPiece(gzPieces),
    ...(opts.zstdOut ? { zstd: { path: opts.zstdOut, size: zsize, sha256: zshaHex, pieces: zPieces.length, largestPiece: largestPiece(zPieces) } } : {}),
  };
}
