import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Unpacker } from "../../../src/image/layer";
import { readXattrs } from "../../../src/image/native";
import { readTar, type TarEntry, TarError, writeTar } from "../../../src/image/tar";

async function* chunks(b: Uint8Array, size = 777) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "drover-layer-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const isRoot = process.getuid?.() === 0;

describe("tar reader", () => {
  test("round-trips long names, binary PAX xattrs, fractional mtimes, odd chunking", async () => {
    const long = `${"d/".repeat(80)}file`;
    const bin = new Uint8Array([0, 1, 2, 255, 0x0a, 0x3d, 0xc3]);
    const t = writeTar([
      { path: long, type: "file", data: "x".repeat(1000), mode: 0o4755, uid: 5, gid: 6, mtime: 1700000000.5 },
      { path: "l", type: "symlink", linkname: `/${"t/".repeat(70)}` },
      { path: "f", type: "file", data: "", xattrs: new Map([["security.capability", bin]]) },
    ]);
    const seen: (TarEntry & { body: string })[] = [];
    await readTar(chunks(t), async (e, body) => {
      let s = "";
      for await (const c of body()) s += new TextDecoder().decode(c);
      seen.push({ ...e, body: s });
    });
    expect(seen.map((e) => e.path)).toEqual([long, "l", "f"]);
    expect(seen[0]).toMatchObject({ mode: 0o4755, uid: 5, gid: 6, mtime: 1700000000.5, size: 1000 });
    expect(seen[0]!.body.length).toBe(1000);
    expect(seen[1]!.linkname).toBe(`/${"t/".repeat(70)}`);
    expect([...seen[2]!.xattrs.get("security.capability")!]).toEqual([...bin]);
  });

  test("a damaged header and a truncated body fail with where", async () => {
    const t = writeTar([{ path: "a", type: "file", data: "y".repeat(2000) }]);
    const bad = t.slice();
    bad[10] = bad[10]! ^ 0x55;
    await expect(readTar(chunks(bad), () => {})).rejects.toThrow(/checksum at byte 0/);
    await expect(
      readTar(chunks(t.subarray(0, 1200)), async (_e, body) => {
        for await (const _ of body());
      }),
    ).rejects.toThrow(TarError);
    await expect(readTar(chunks(new TextEncoder().encode("not a tar".padEnd(600, "!"))), () => {})).rejects.toThrow(/not a tar archive/);
  });
});

describe.skipIf(!isRoot)("layer unpacking (root: owners and device nodes)", () => {
  test("whiteouts hide lower files only; opaque dirs keep the same layer's entries", async () => {
    const root = tmp();
    const u = new Unpacker(root);
    await u.apply(
      chunks(
        writeTar([
          { path: "a/", type: "dir", mode: 0o755 },
          { path: "a/old", type: "file", data: "old" },
          { path: "a/sub/", type: "dir" },
          { path: "a/sub/deep", type: "file", data: "deep" },
          { path: "b", type: "file", data: "b" },
          { path: "c/", type: "dir" },
          { path: "c/x", type: "file", data: "x" },
        ]),
      ),
    );
    await u.apply(
      chunks(
        writeTar([
          { path: "a/new", type: "file", data: "new" }, // before the opaque marker: must survive it
          { path: "a/.wh..wh..opq", type: "file" },
          { path: "a/sub/", type: "dir" },
          { path: "a/sub/fresh", type: "file", data: "f" },
          { path: ".wh.b", type: "file" },
          { path: "c/y", type: "file", data: "y" },
          { path: "c/.wh.y", type: "file" }, // same layer: does not hide c/y
          { path: "c/.wh.x", type: "file" },
        ]),
      ),
    );
    u.finish();
    expect(readdirSync(join(root, "a")).sort()).toEqual(["new", "sub"]);
    expect(readdirSync(join(root, "a/sub"))).toEqual(["fresh"]);
    expect(existsSync(join(root, "b"))).toBe(false);
    expect(readdirSync(join(root, "c"))).toEqual(["y"]);
  });

  test("replacing a hardlinked file does not write through to its other name; dirs replace files and back", async () => {
    const root = tmp();
    const u = new Unpacker(root);
    await u.apply(
      chunks(
        writeTar([
          { path: "f", type: "file", data: "one" },
          { path: "g", type: "link", linkname: "f" },
          { path: "d", type: "file", data: "was a file" },
        ]),
      ),
    );
    await u.apply(
      chunks(
        writeTar([
          { path: "f", type: "file", data: "two" },
          { path: "d/", type: "dir" },
          { path: "d/in", type: "file", data: "in" },
        ]),
      ),
    );
    expect(readFileSync(join(root, "g"), "utf8")).toBe("one");
    expect(readFileSync(join(root, "f"), "utf8")).toBe("two");
    expect(readFileSync(join(root, "d/in"), "utf8")).toBe("in");
  });

  test("a symlink cannot carry later entries out of the root", async () => {
    const root = tmp();
    const outside = tmp();
    const u = new Unpacker(root);
    await u.apply(
      chunks(
        writeTar([
          { path: "etc", type: "symlink", linkname: outside },
          { path: "up", type: "symlink", linkname: "../../../../.." },
          { path: "etc/passwd", type: "file", data: "pwned" },
          { path: "up/escape", type: "file", data: "pwned" },
        ]),
      ),
    );
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(join(root, outside.slice(1), "passwd"), "utf8")).toBe("pwned");
    expect(readFileSync(join(root, "escape"), "utf8")).toBe("pwned");
    expect(readlinkSync(join(root, "etc"))).toBe(outside);
    await expect(new Unpacker(root).apply(chunks(writeTar([{ path: "../x", type: "file", data: "" }])))).rejects.toThrow(/climbs out/);
  });

  test("owners, modes, xattrs, devices and the diff_id", async () => {
    const root = tmp();
    const layer = writeTar([
      { path: "bin/", type: "dir", mode: 0o755 },
      { path: "bin/p", type: "file", data: "p", mode: 0o4711, uid: 7, gid: 8, mtime: 1234567890, xattrs: new Map([["user.x", new Uint8Array([1, 0, 2])]]) },
      { path: "dev/", type: "dir" },
      { path: "dev/sda", type: "block", devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    ]);
    const diff = await new Unpacker(root).apply(chunks(Bun.gzipSync(layer as Uint8Array<ArrayBuffer>)));
    expect(diff).toBe(`sha256:${new Bun.CryptoHasher("sha256").update(layer).digest("hex")}`);
    const p = lstatSync(join(root, "bin/p"));
    expect([p.mode & 0o7777, p.uid, p.gid, p.mtimeMs / 1000]).toEqual([0o4711, 7, 8, 1234567890]);
    expect([...readXattrs(join(root, "bin/p")).get("user.x")!]).toEqual([1, 0, 2]);
    const d = lstatSync(join(root, "dev/sda"));
    expect([d.isBlockDevice(), d.rdev, d.gid]).toEqual([true, 0x800, 6]);
  });

  test("garbage instead of gzip data fails cleanly", async () => {
    const root = tmp();
    const junk = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await expect(new Unpacker(root).apply(chunks(junk))).rejects.toThrow();
    mkdirSync(join(root, "x"));
    writeFileSync(join(root, "x/y"), "");
  });
});
