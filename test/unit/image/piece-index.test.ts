/**
 * The piece index the build writes beside each archive (src/image/build.ts, `ARCHIVE.pieces`): stage 1 of
 * the two-stage boot fetches each piece by offset and unpacks it on its own, so every piece must be whole
 * zstd frames (gzip members) of whole cpio entries, cover the archive, carry its sha256, and keep all names
 * of a hardlinked file together (busybox cpio links them only within one run).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { buildImage } from "../../../src/image/build";
import { tempDir } from "../../helpers/cli";

const t = tempDir("drover-pieces-");
afterAll(() => t.cleanup());

function tree() {
  const root = join(t.dir, "root");
  for (const d of ["a", "b"]) mkdirSync(join(root, d), { recursive: true });
  // Incompressible files of 1 MiB: segments are ~4 MiB, so 5 MiB pieces hold one or two segments.
  let seed = 1;
  const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
  for (let i = 0; i < 12; i++) writeFileSync(join(root, "a", `f${String(i).padStart(2, "0")}`), noise(1 << 20));
  for (let i = 0; i < 12; i++) writeFileSync(join(root, "b", `g${String(i).padStart(2, "0")}`), noise(1 << 20));
  // One file with a name early in a/ and one early in b/: no piece may end between them.
  writeFileSync(join(root, "a", "0link"), "linked\n");
  linkSync(join(root, "a", "0link"), join(root, "b", "0link"));
  return root;
}

const parse = (text: string) => {
  const [head, ...rest] = text.trimEnd().split("\n");
  return {
    head: head!.split(" "),
    pieces: rest.map((l) => l.split(" ")).map(([o, l, s, u]) => ({ offset: Number(o), length: Number(l), sha256: s!, unpacked: Number(u) })),
  };
};

describe("piece index", () => {
  const root = tree();
  const out = join(t.dir, "image.img.gz");
  const zOut = join(t.dir, "image.img.zst");
  const built = buildImage(root, out, { zstdOut: zOut, pieceTarget: 5 << 20, threads: 2 });

  for (const format of ["gzip", "zstd"] as const) {
    test(`${format}: pieces cover the archive in order, each with its sha256, each one decompresses alone into whole cpio entries`, async () => {
      const r = await built;
      const path = format === "zstd" ? zOut : out;
      const archive = readFileSync(path);
      const { head, pieces } = parse(readFileSync(`${path}.pieces`, "utf8"));
      expect(head).toEqual(["drover-pieces", format, String(archive.length), format === "zstd" ? r.zstd!.sha256 : r.sha256]);
      expect(pieces.length).toBe(format === "zstd" ? r.zstd!.pieces : r.pieces);
      expect(pieces.length).toBeGreaterThan(1);
      let off = 0;
      let linkPieces = 0;
      for (const p of pieces) {
        expect(p.offset).toBe(off);
        const bytes = archive.subarray(p.offset, p.offset + p.length);
        expect(createHash("sha256").update(bytes).digest("hex")).toBe(p.sha256);
        const cpio = format === "zstd" ? Bun.zstdDecompressSync(bytes) : gunzipSync(bytes);
        const text = Buffer.from(cpio).toString("latin1");
        expect(text.startsWith("070701")).toBe(true);
        // Its unpacked length, which tells stage 1 to unpack a large piece through a pipe.
        expect(p.unpacked).toBe(cpio.length);
        // Both names of the hardlinked file, or neither, in this piece.
        const names = ["a/0link\0", "b/0link\0"].filter((n) => text.includes(n)).length;
        expect(names === 0 || names === 2).toBe(true);
        if (names) linkPieces++;
        off += p.length;
      }
      expect(off).toBe(archive.length);
      expect(linkPieces).toBe(1);
      expect(pieces.reduce((n, p) => n + p.unpacked, 0)).toBe(r.unpacked);
      expect(format === "zstd" ? r.zstd!.largestPiece : r.largestPiece).toBe(Math.max(...pieces.map((p) => p.length)));
    });
  }
});
