import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_EXCLUDES, buildImage, excluder, readExcludes, segment } from "../../../src/image/build";
import { compareVersions, findKernels, pickKernel } from "../../../src/image/kernel";
import { parseDockerRef } from "../../../src/image/registry";
import { parseMemory } from "../../../src/services/images";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "drover-kb-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const put = (root: string, rel: string, data = "") => {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  writeFileSync(join(root, rel), data);
};

describe("kernels inside images", () => {
  test("versions compare as numbers", () => {
    const v = ["6.1.0-31-amd64", "6.12.0-211.22.1.el10_2.x86_64", "6.9.3", "6.12.0-55.el10.x86_64"].sort(compareVersions);
    expect(v).toEqual(["6.1.0-31-amd64", "6.9.3", "6.12.0-55.el10.x86_64", "6.12.0-211.22.1.el10_2.x86_64"]);
  });

  test("EL10 keeps vmlinuz only under /lib/modules (through the /lib -> usr/lib symlink); debug and rescue are never the default", () => {
    const r = tmp();
    mkdirSync(join(r, "usr/lib"), { recursive: true });
    symlinkSync("usr/lib", join(r, "lib"));
    put(r, "usr/lib/modules/6.12.0-211.22.1.el10_2.x86_64/vmlinuz", "k");
    put(r, "usr/lib/modules/6.12.0-300.el10.x86_64+debug/vmlinuz", "k");
    put(r, "boot/vmlinuz-0-rescue-abcdef", "k");
    put(r, "boot/vmlinuz-6.9.0", "k");
    put(r, "boot/initramfs-6.9.0.img", "i");
    const ks = findKernels(r);
    expect(ks.map((k) => k.version)).toEqual(["6.12.0-211.22.1.el10_2.x86_64", "6.9.0", "6.12.0-300.el10.x86_64+debug", "0-rescue-abcdef"]);
    expect(ks[0]!.inImage).toBe("/lib/modules/6.12.0-211.22.1.el10_2.x86_64/vmlinuz");
    expect(pickKernel(ks)!.version).toBe("6.12.0-211.22.1.el10_2.x86_64");
    expect(pickKernel(ks, "6.9.0")!.version).toBe("6.9.0");
    expect(pickKernel(ks, "5.14")).toBeUndefined();
    expect(findKernels(tmp())).toEqual([]);
  });
});

describe("build", () => {
  test("excludes: a trailing slash keeps the directory and drops its contents; globs stay within a component", () => {
    const ex = excluder(["/boot/", "/var/cache/*", "*.pyc", "/tmp"]);
    expect(ex("boot", true)).toBe("empty");
    expect(ex("var/cache/dnf", true)).toBe("skip");
    expect(ex("var/cache", true)).toBe("keep");
    expect(ex("x.pyc", false)).toBe("skip");
    expect(ex("usr/x.pyc", false)).toBe("keep");
    expect(ex("tmp", true)).toBe("skip");
  });

  test("segments end only between whole entries: a big file and its padding stay with their header", () => {
    const h = (n: number) => ({ bytes: new Uint8Array(n), entry: true as const });
    const pieces = [h(112), { file: "f", offset: 0, length: 10 << 20 }, { bytes: new Uint8Array(2) }, h(112), { file: "g", offset: 0, length: 100 }, h(116)];
    const segs = segment(pieces, 4 << 20);
    const total = segs.flat().reduce((n, p) => n + ("bytes" in p ? p.bytes.length : p.length), 0);
    expect(total).toBe(112 + (10 << 20) + 2 + 112 + 100 + 116);
    expect(segs.length).toBe(2);
    expect(segs.every((s) => "entry" in s[0]! && s[0].entry)).toBe(true);
    expect(segs[0]!.length).toBe(3);
  });

  test.skipIf(spawnSync(["sh", "-c", "command -v cpio"]).exitCode !== 0)(
    "an image without a kernel builds; excludes apply; hardlinks and big files survive GNU cpio",
    async () => {
      const r = tmp();
      put(r, "etc/drover/excludes", "# comment\n/var/cache/\n");
      put(r, "var/cache/big", "cache");
      put(r, "bin/sh", "#!");
      put(r, "a", "hello");
      linkSync(join(r, "a"), join(r, "b"));
      const big = new Uint8Array(9 << 20).map((_, i) => i * 7);
      writeFileSync(join(r, "big"), big);
      const out = join(tmp(), "img.gz");
      const res = await buildImage(r, out, { threads: 2 });
      expect(res.excluded).toEqual(["var/cache/"]);
      const x = tmp();
      const p = spawnSync(["sh", "-c", 'gzip -dc "$1" | (cd "$2" && cpio -idm --quiet)', "sh", out, x], { stderr: "pipe" });
      expect(p.stderr.toString()).toBe("");
      expect(Bun.file(join(x, "big")).size).toBe(big.length);
      expect(new Uint8Array(await Bun.file(join(x, "big")).arrayBuffer())).toEqual(big);
      expect(await Bun.file(join(x, "b")).text()).toBe("hello");
      const list = spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -t --quiet', "sh", out]).stdout.toString().trim().split("\n");
      expect(list).toContain("var/cache");
      expect(list).not.toContain("var/cache/big");
    },
  );
});

describe("references and sizes", () => {
  test("docker references", () => {
    expect(parseDockerRef("docker://quay.io/rockylinux/rockylinux:10")).toEqual({
      registry: "quay.io",
      repo: "rockylinux/rockylinux",
      tag: "10",
      digest: undefined,
    });
    expect(parseDockerRef("docker://alpine")).toMatchObject({ registry: "docker.io", repo: "library/alpine", tag: "latest" });
    expect(parseDockerRef(`docker://127.0.0.1:5000/a/b@sha256:${"a".repeat(64)}`)).toMatchObject({
      registry: "127.0.0.1:5000",
      repo: "a/b",
      digest: `sha256:${"a".repeat(64)}`,
    });
    expect(() => parseDockerRef("docker://x/Y Z")).toThrow(/not a valid image reference/);
    expect(() => parseDockerRef("docker://x/y@sha256:abc")).toThrow(/not a sha256 digest/);
  });
  test("memory tags", () => {
    expect(parseMemory("2G")).toBe(2 * 2 ** 30);
    expect(parseMemory("1536M")).toBe(1536 << 20);
    expect(parseMemory("4GiB")).toBe(4 * 2 ** 30);
    expect(parseMemory("512")).toBe(512 << 20);
    expect(parseMemory("lots")).toBeUndefined();
  });
});

describe("default excludes", () => {
  test("an image without an excludes file leaves /boot out (the kernel is served from the tree)", () => {
    const r = tmp();
    put(r, "boot/vmlinuz-6.1.0", "kernel");
    expect(readExcludes(r)).toEqual(DEFAULT_EXCLUDES);
    expect(excluder(readExcludes(r))("boot", true)).toBe("empty"); // the directory stays, its contents go
  });
  test("an image's own excludes file replaces the default", () => {
    const r = tmp();
    put(r, "etc/drover/excludes", "/var/cache/\n");
    expect(readExcludes(r)).toEqual(["/var/cache/"]);
    expect(excluder(readExcludes(r))("boot", true)).toBe("keep");
  });
});
