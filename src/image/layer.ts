import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import * as zlib from "node:zlib";
import { cleanRel, resolveIn } from "./fspath";
import { mknod, S_IFBLK, S_IFCHR, S_IFIFO, setXattr } from "./native";
import { readTar, type TarEntry } from "./tar";

/** Layer media types drover understands, by their compression. */
export type Compression = "gzip" | "zstd" | "none";

/** Sniffs the compression from the first bytes (media types lie more often than magic numbers do). */
export async function* decompress(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length === 0) first = await it.next();
  if (first.done) return;
  const head = first.value;
  const rest = (async function* () {
    yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  let z: NodeJS.ReadWriteStream | undefined;
  if (head[0] === 0x1f && head[1] === 0x8b) z = zlib.createGunzip();
  else if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    z = (zlib as unknown as { createZstdDecompress(): NodeJS.ReadWriteStream }).createZstdDecompress();
  if (!z) {
    yield* rest;
    return;
  }
  const input = Readable.from(rest, { objectMode: false });
  input.on("error", (e) => (z as unknown as { destroy(e: Error): void }).destroy(e));
  input.pipe(z as unknown as NodeJS.WritableStream);
  for await (const c of z as unknown as AsyncIterable<Buffer>) yield c;
}

/** Per-import state shared by the layers of one image: directory times are set once, at the very end. */
export class Unpacker {
  /** Resolved dir path → mtime (seconds); set after the last layer so later entries cannot disturb them. */
  private dirTimes = new Map<string, number>();
  entries = 0;
  bytes = 0;

  constructor(readonly root: string) {}

  /**
   * Applies one layer (a tar stream, compressed or not) onto the root, with OCI whiteouts. Returns the
   * sha256 of the uncompressed stream: the layer's diff_id, which the caller checks against the config.
   */
  async apply(src: AsyncIterable<Uint8Array>): Promise<string> {
    const hash = createHash("sha256");
    const hashed = (async function* () {
      for await (const c of decompress(src)) {
        hash.update(c);
        yield c;
      }
    })();
    const created = new Set<string>();
    await readTar(hashed, async (e, body) => this.entry(e, body, created));
    for await (const _ of hashed); // trailing padding after the end-of-archive blocks is part of diff_id
    return `sha256:${hash.digest("hex")}`;
  }

  private async entry(e: TarEntry, body: () => AsyncGenerator<Uint8Array>, created: Set<string>) {
    const rel = cleanRel(e.path);
    this.entries++;
    if (rel === "") {
      if (e.type === "dir") this.meta(this.root, e, true);
      return;
    }
    const name = basename(rel);
    const dirRel = dirname(rel) === "." ? "" : dirname(rel);
    if (name.startsWith(".wh.")) {
      const parent = resolveIn(this.root, dirRel, true);
      if (name === ".wh..wh..opq") this.opaque(parent, dirRel, created);
      else {
        const victim = dirRel ? `${dirRel}/${name.slice(4)}` : name.slice(4);
        // A whiteout only hides what lower layers made; the same layer's own file stays.
        if (!created.has(victim)) rmSync(join(parent, name.slice(4)), { recursive: true, force: true });
      }
      return;
    }
    const parent = resolveIn(this.root, dirRel, true);
    mkdirSync(parent, { recursive: true, mode: 0o755 });
    const dest = join(parent, name);
    let existing;
    try {
      existing = lstatSync(dest);
    } catch {}
    created.add(rel);
    if (e.type === "dir") {
      if (existing && !existing.isDirectory()) unlinkSync(dest);
      if (!existing || !existing.isDirectory()) mkdirSync(dest, { mode: 0o700 });
      this.meta(dest, e, true);
      return;
    }
    // Never write through an existing name: it may be a hardlink to another file, or a directory.
    if (existing) {
      if (existing.isDirectory()) rmSync(dest, { recursive: true, force: true });
      else unlinkSync(dest);
    }
    switch (e.type) {
      case "file": {
        const fd = openSync(dest, "wx", 0o600);
        try {
          for await (const c of body()) {
            let off = 0;
            while (off < c.length) off += writeSync(fd, c, off, c.length - off);
            this.bytes += c.length;
          }
        } finally {
          closeSync(fd);
        }
        break;
      }
      case "link": {
        const target = resolveIn(this.root, cleanRel(e.linkname), false);
        linkSync(target, dest);
        return; // same inode: its metadata came with the first name
      }
      case "symlink":
        symlinkSync(e.linkname, dest);
        break;
      case "char":
        mknod(dest, S_IFCHR | 0o600, e.devmajor, e.devminor);
        break;
      case "block":
        mknod(dest, S_IFBLK | 0o600, e.devmajor, e.devminor);
        break;
      case "fifo":
        mknod(dest, S_IFIFO | 0o600);
        break;
    }
    this.meta(dest, e, false);
  }

  /** Owner, then mode (chown clears setuid bits), then xattrs (chown drops security.capability), then time. */
  private meta(path: string, e: TarEntry, isDir: boolean) {
    lchownSync(path, e.uid, e.gid);
    if (e.type !== "symlink") chmodSync(path, e.mode);
    for (const [k, v] of e.xattrs) setXattr(path, k, v);
    if (isDir) this.dirTimes.set(path, e.mtime);
    else lutimesSync(path, e.mtime, e.mtime);
  }

  /** `.wh..wh..opq`: hide everything lower layers put in this directory; keep what this layer added. */
  private opaque(dir: string, dirRel: string, created: Set<string>) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const childRel = dirRel ? `${dirRel}/${n}` : n;
      if (!created.has(childRel)) rmSync(join(dir, n), { recursive: true, force: true });
      else if (lstatSync(join(dir, n)).isDirectory()) this.opaque(join(dir, n), childRel, created);
    }
  }

  /** Sets the directory times recorded by every layer: deepest first, so a parent's time is not bumped. */
  finish() {
    const dirs = [...this.dirTimes].sort((a, b) => b[0].length - a[0].length);
    for (const [p, t] of dirs) {
      try {
        lutimesSync(p, t, t);
      } catch {}
    }
  }
}
