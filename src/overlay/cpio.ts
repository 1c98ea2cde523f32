import { gunzipSync, gzipSync } from "node:zlib";

/**
 * An in-memory cpio "newc" writer and reader for overlay archives. Overlays are small (kilobytes per node)
 * and built from rendered strings, so this packs entries held in memory; the image builder in
 * src/image/build.ts streams file pieces from a rootfs on disk and does not fit that use (it plans segments
 * of files for parallel compression), so the two share only the format.
 *
 * The kernel unpacks newc archives given as initrds in order, later entries replacing earlier ones; a
 * directory entry must come before its contents, which pack() guarantees by adding missing parents.
 */

export type CpioEntry =
  | { type: "file"; path: string; mode: number; uid?: number; gid?: number; data: Uint8Array | string }
  | { type: "dir"; path: string; mode: number; uid?: number; gid?: number }
  | { type: "symlink"; path: string; target: string; uid?: number; gid?: number };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const enc = new TextEncoder();
const dec = new TextDecoder();
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Path inside the archive: relative, no `.`/`..`/empty components. Throws on anything else. */
export function archivePath(p: string): string {
  if (p.includes("\0")) throw new Error(`archive path ${JSON.stringify(p)} contains a NUL byte`);
  const parts = p.split("/").filter((c) => c !== "" && c !== ".");
  if (parts.includes("..")) throw new Error(`archive path ${JSON.stringify(p)} climbs out with '..'`);
  return parts.join("/");
}

const HEX = enc.encode("0123456789abcdef");
const MAGIC = enc.encode("070701");
const TRAILER = enc.encode("TRAILER!!!");
/** A header is 110 bytes, then the name and its NUL, padded to 4 bytes. */
const HEADER = 110;
const headerSize = (nameLen: number) => HEADER + nameLen + 1 + pad4(HEADER + nameLen + 1);

/** Writes one newc header (magic, 13 fields as 8 hex digits) and the NUL-terminated name at `o`; returns the end. */
function putHeader(
  out: Uint8Array,
  o: number,
  name: Uint8Array,
  ino: number,
  mode: number,
  uid: number,
  gid: number,
  nlink: number,
  mtime: number,
  size: number,
): number {
  out.set(MAGIC, o);
  let p = o + 6;
  for (const v of [ino, mode, uid, gid, nlink, mtime, size, 0, 0, 0, 0, name.length + 1, 0]) {
    let n = v >>> 0;
    for (let i = 7; i >= 0; i--) {
      out[p + i] = HEX[n & 15]!;
      n >>>= 4;
    }
    p += 8;
  }
  out.set(name, p);
  out[p + name.length] = 0;
  return o + headerSize(name.length);
}

/**
 * Packs entries into an uncompressed newc archive. Parents that are not listed are added as 0755 root
 * directories before their first child; later duplicates of a path replace earlier ones in place.
 * `mtime` (seconds) is the same for every entry so the bytes depend only on the entries. A segment packed
 * without its trailer can be followed by another archive's entries: the kernel and `cpio -i` read the
 * concatenation (even across gzip members) as one archive.
 */
export function packCpio(entries: readonly CpioEntry[], mtime = 0, trailer = true): Uint8Array {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = archivePath(e.path);
    if (!path) continue; // the root itself
    byPath.set(path, { ...e, path });
  }
  const ordered: CpioEntry[] = [];
  const emitted = new Set<string>();
  const emit = (e: CpioEntry) => {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (emitted.has(parent)) continue;
      const listed = byPath.get(parent);
      if (listed && listed.type !== "dir") throw new Error(`${parent} is both a ${listed.type} and a directory in the overlay`);
      emitted.add(parent);
      ordered.push(listed ?? { type: "dir", path: parent, mode: 0o755 });
    }
    if (emitted.has(e.path)) return;
    emitted.add(e.path);
    ordered.push(e);
  };
  for (const p of [...byPath.keys()].sort()) emit(byPath.get(p)!);

  // Sizes first, then one buffer written in place (no per-field strings: this runs 10,000s of times).
  const names: Uint8Array[] = [];
  const datas: (Uint8Array | undefined)[] = [];
  let total = trailer ? headerSize(TRAILER.length) : 0;
  for (const e of ordered) {
    const name = enc.encode(e.path);
    const data = e.type === "dir" ? undefined : e.type === "symlink" ? enc.encode(e.target) : typeof e.data === "string" ? enc.encode(e.data) : e.data;
    names.push(name);
    datas.push(data);
    total += headerSize(name.length) + (data ? data.length + pad4(data.length) : 0);
  }
  const out = new Uint8Array(total);
  let o = 0;
  let ino = 1;
  ordered.forEach((e, i) => {
    const uid = e.uid ?? 0;
    const gid = e.gid ?? 0;
    const data = datas[i];
    if (e.type === "dir") o = putHeader(out, o, names[i]!, ino++, S_IFDIR | (e.mode & 0o7777), uid, gid, 2, mtime, 0);
    else {
      const mode = e.type === "symlink" ? S_IFLNK | 0o777 : S_IFREG | (e.mode & 0o7777);
      o = putHeader(out, o, names[i]!, ino++, mode, uid, gid, 1, mtime, data!.length);
      out.set(data!, o);
      o += data!.length + pad4(data!.length);
    }
  });
  // Without a trailer the bytes are a segment meant to be followed by more entries (see build.ts).
  if (trailer) putHeader(out, o, TRAILER, 0, 0, 0, 0, 1, 0, 0);
  return out;
}

/** packCpio, gzip-compressed (what iPXE hands the kernel as an initrd). */
export function packCpioGz(entries: readonly CpioEntry[], mtime = 0, level = 6, trailer = true): Uint8Array {
  return gzipSync(packCpio(entries, mtime, trailer), { level });
}

export interface ReadEntry {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  data: Uint8Array;
  /** Symlink target, for symlinks. */
  target?: string;
}

/** Reads a newc archive (gzip'd or not), e.g. to show or test a built overlay. */
export function readCpio(bytes: Uint8Array): ReadEntry[] {
  const buf = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  const out: ReadEntry[] = [];
  let o = 0;
  const field = (i: number) => Number.parseInt(dec.decode(buf.subarray(o + 6 + i * 8, o + 14 + i * 8)), 16);
  while (o + 110 <= buf.length) {
    const magic = dec.decode(buf.subarray(o, o + 6));
    if (magic !== "070701" && magic !== "070702") throw new Error(`bad cpio magic ${JSON.stringify(magic)} at offset ${o}`);
    const mode = field(1);
    const uid = field(2);
    const gid = field(3);
    const mtime = field(5);
    const size = field(6);
    const namesize = field(11);
    const name = dec.decode(buf.subarray(o + 110, o + 110 + namesize - 1));
    o += 110 + namesize;
    o += pad4(110 + namesize);
    const data = buf.slice(o, o + size);
    o += size + pad4(size);
    if (name === "TRAILER!!!") break;
    const fmt = mode & 0o170000;
    const type = fmt === S_IFREG ? "file" : fmt === S_IFDIR ? "dir" : fmt === S_IFLNK ? "symlink" : "other";
    out.push({ path: name, type, mode: mode & 0o7777, uid, gid, mtime, data, ...(type === "symlink" ? { target: dec.decode(data) } : {}) });
  }
  return out;
}
