import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BootDirError, dirBootFiles, embeddedIpxeFiles, memoryBootFiles } from "../../../src/boot/files";

const assets = join(import.meta.dir, "../../../assets/ipxe");

describe("embeddedIpxeFiles", () => {
  const files = embeddedIpxeFiles();
  test("the current set: BIOS (undionly, full PXE), x86-64 UEFI (full, SNP only), arm64 UEFI", async () => {
    expect(await files.list()).toEqual(["ipxe-arm64.efi", "ipxe.efi", "ipxe.pxe", "snponly.efi", "undionly.kpxe"]);
  });
  test("the 2019 set for comparison (--ipxe-build debian-2019)", async () => {
    expect(await embeddedIpxeFiles("debian-2019").list()).toEqual(["ipxe.efi", "snponly.efi", "undionly.kpxe"]);
  });
  for (const [set, dir] of [
    ["current", ""],
    ["debian-2019", "debian-2019/"],
  ] as const) {
    test(`${set}: serves each byte-identical to assets/ipxe and to the sha256 in SOURCES.md`, async () => {
      const sources = readFileSync(join(assets, "SOURCES.md"), "utf8");
      const f0 = embeddedIpxeFiles(set);
      for (const name of await f0.list()) {
        const f = await f0.open(name);
        expect(f).toBeDefined();
        expect(f!.size).toBe(f!.data.length);
        expect(Buffer.from(f!.data).equals(readFileSync(join(assets, dir, name)))).toBe(true);
        const sha = createHash("sha256").update(f!.data).digest("hex");
        expect(sources).toContain(`| ${dir}${name} | ${f!.size} | ${sha} |`);
      }
    });
  }
  test("the binaries are what their names say (PE machine type, PXE loader)", async () => {
    const pe = (b: Uint8Array) => {
      const off = new DataView(b.buffer, b.byteOffset).getUint32(0x3c, true);
      return new DataView(b.buffer, b.byteOffset).getUint16(off + 4, true);
    };
    expect(pe((await files.open("ipxe.efi"))!.data)).toBe(0x8664);
    expect(pe((await files.open("snponly.efi"))!.data)).toBe(0x8664);
    expect(pe((await files.open("ipxe-arm64.efi"))!.data)).toBe(0xaa64);
  });
  test("unknown and unclean names are not found", async () => {
    for (const n of ["nope.efi", "/ipxe.efi", "./ipxe.efi", "../assets/ipxe/ipxe.efi", "SOURCES.md", "update.ts"]) {
      expect(await files.open(n)).toBeUndefined();
    }
  });
});

describe("dirBootFiles", () => {
  let root: string;
  let outside: string;
  beforeAll(() => {
    const base = mkdtempSync(join(tmpdir(), "drover-bootfiles-"));
    root = join(base, "root");
    outside = join(base, "secret");
    mkdirSync(join(root, "arm64"), { recursive: true });
    writeFileSync(join(root, "ipxe.efi"), "custom build");
    writeFileSync(join(root, "arm64", "snp.efi"), "arm");
    writeFileSync(outside, "do not serve");
    symlinkSync(outside, join(root, "escape"));
    symlinkSync("ipxe.efi", join(root, "alias.efi"));
  });
  afterAll(() => rmSync(join(root, ".."), { recursive: true, force: true }));

  test("serves files and nested files", async () => {
    const f = dirBootFiles(root);
    expect(new TextDecoder().decode((await f.open("ipxe.efi"))!.data)).toBe("custom build");
    expect(new TextDecoder().decode((await f.open("arm64/snp.efi"))!.data)).toBe("arm");
  });
  test("a symlink inside the tree is served; one leading outside is not", async () => {
    const f = dirBootFiles(root);
    expect(await f.open("alias.efi")).toBeDefined();
    expect(await f.open("escape")).toBeUndefined();
    expect(await f.list()).toEqual(["alias.efi", "arm64/snp.efi", "ipxe.efi"]);
  });
  test("directories, missing files and unclean names are not found", async () => {
    const f = dirBootFiles(root);
    for (const n of ["arm64", "missing", "../secret", "/ipxe.efi", "arm64/../ipxe.efi", "a\u0000b"]) expect(await f.open(n)).toBeUndefined();
  });
  test("an edited file is served fresh, not from the cache", async () => {
    const f = dirBootFiles(root);
    await f.open("ipxe.efi");
    writeFileSync(join(root, "ipxe.efi"), "rebuilt, longer");
    expect(new TextDecoder().decode((await f.open("ipxe.efi"))!.data)).toBe("rebuilt, longer");
  });
  test("a missing directory is refused with advice", () => {
    expect(() => dirBootFiles(join(root, "nope"))).toThrow(BootDirError);
  });
});

test("memoryBootFiles", async () => {
  const f = memoryBootFiles({ a: new Uint8Array([1]) });
  expect((await f.open("a"))?.size).toBe(1);
  expect(await f.open("/a")).toBeUndefined();
  expect(await f.list()).toEqual(["a"]);
});
