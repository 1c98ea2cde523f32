import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";

/** A blob failed verification: wrong digest, wrong size, or the stream ended early. */
export class BlobError extends Error {}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

export function checkDigest(d: string, what = "digest"): string {
  const m = DIGEST.exec(d);
  if (!m) throw new BlobError(`${what} ${JSON.stringify(d)} is not a sha256 digest (sha256: and 64 hex digits)`);
  return m[1]!;
}

export const sha256 = (b: Uint8Array | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export const short = (d: string) => d.replace(/^sha256:/, "").slice(0, 12);

/**
 * The content-addressed blob cache, `<dataDir>/blobs/sha256/<hex>`. A blob is written to a temp file,
 * hashed while it streams, and renamed into place only if its digest (and size, when known) match, so
 * the cache only ever holds verified blobs and a later import can reuse them without downloading.
 */
export class BlobStore {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = join(dataDir, "blobs", "sha256");
  }

  path(digest: string): string {
    return join(this.dir, checkDigest(digest));
  }

  has(digest: string, size?: number): boolean {
    const p = this.path(digest);
    if (!existsSync(p)) return false;
    return size === undefined || size < 0 || statSync(p).size === size;
  }

  /**
   * Streams `src` into the cache. With `expect`, the digest must match; without it (archive members whose
   * digest is not known up front) the computed digest is returned. `size` is checked when given.
   */
  async put(
    src: AsyncIterable<Uint8Array>,
    opts: { expect?: string; size?: number; what?: string; onBytes?: (n: number) => void } = {},
  ): Promise<{ digest: string; size: number }> {
    const what = opts.what ?? "blob";
    if (opts.expect) checkDigest(opts.expect, `${what} digest`);
    mkdirSync(join(this.dir, "..", "tmp"), { recursive: true });
    const tmp = join(this.dir, "..", "tmp", `${process.pid}-${randomBytes(6).toString("hex")}`);
    const fd = openSync(tmp, "wx", 0o644);
    const hash = createHash("sha256");
    let size = 0;
    try {
      for await (const c of src) {
        hash.update(c);
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
        size += c.length;
        opts.onBytes?.(c.length);
        if (opts.size !== undefined && opts.size >= 0 && size > opts.size)
          throw new BlobError(`${what} is larger than the ${opts.size} bytes its manifest declares; refusing it`);
      }
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    const digest = `sha256:${hash.digest("hex")}`;
    try {
      if (opts.size !== undefined && opts.size >= 0 && size !== opts.size)
        throw new BlobError(`${what} is truncated: received ${size} of ${opts.size} bytes; run the import again`);
      if (opts.expect && digest !== opts.expect)
        throw new BlobError(`${what} does not match its digest: expected ${opts.expect}, got ${digest}; the source is damaged or was tampered with`);
      mkdirSync(this.dir, { recursive: true });
      renameSync(tmp, this.path(digest));
    } finally {
      rmSync(tmp, { force: true });
    }
    return { digest, size };
  }

  /** Streams a cached blob. */
  read(digest: string): AsyncIterable<Uint8Array> {
    return Bun.file(this.path(digest)).stream() as unknown as AsyncIterable<Uint8Array>;
  }

  async json<T>(digest: string): Promise<T> {
    return JSON.parse(await Bun.file(this.path(digest)).text()) as T;
  }
}
