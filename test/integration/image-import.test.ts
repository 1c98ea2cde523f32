/**
 * Image import end to end, against real parts: an OCI layout made here from busybox-static and Debian's
 * kernel (plus a layer of whiteouts, an opaque dir, hardlinks and devices), pushed by skopeo to Debian's
 * docker-registry on 127.0.0.1, and turned by skopeo into docker-archive and oci-archive files. The three
 * imports must give identical trees; the builds must be valid newc cpio archives (GNU cpio lists and
 * unpacks them).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readXattrs } from "../../src/image/native";
import { busyboxRootfs, CAP_NET_RAW, haveTools, ociLayout, tarDir, whiteoutLayer } from "../fixtures/image/make";
import { drover, tempDir } from "../helpers/cli";
import { debianKernel, type DebianKernel } from "../helpers/kernel";
import { startRegistry, type TestRegistry } from "../helpers/registry";

const missing = haveTools("skopeo", "docker-registry", "cpio", "tar", "unshare");
const isRoot = process.getuid?.() === 0;
const skip = !isRoot || missing.length > 0 || !existsSync("/bin/busybox");
if (skip)
  console.warn(
    `image import tests skipped: ${!isRoot ? "not root (images keep owners and device nodes); " : ""}${missing.length ? `missing ${missing.join(", ")} (apt-get install docker-registry skopeo cpio); ` : ""}${existsSync("/bin/busybox") ? "" : "no /bin/busybox (apt-get install busybox-static)"}`,
  );

/** Everything that makes two trees "the same image": type, mode, owner, size, content, target, device, xattrs, links. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const x = [...readXattrs(p)]
      .map(([k, v]) => `${k}=${Buffer.from(v).toString("hex")}`)
      .sort()
      .join(",");
    let what = "";
    if (st.isFile()) {
      what = `file ${createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16)}`;
      if (st.nlink > 1) {
        const first = inodes.get(st.ino);
        if (first) what += ` link-of ${first}`;
        else inodes.set(st.ino, rel);
      }
    } else if (st.isSymbolicLink()) what = `symlink ${readlinkSync(p)}`;
    else if (st.isDirectory()) what = "dir";
    else if (st.isCharacterDevice()) what = `char ${st.rdev}`;
    else if (st.isBlockDevice()) what = `block ${st.rdev}`;
    else if (st.isFIFO()) what = "fifo";
    const mtime = st.isDirectory() ? "" : ` t=${Math.floor(st.mtimeMs / 1000)}`;
    out[rel || "."] = `${what} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}${mtime}${x ? ` [${x}]` : ""}`;
    if (st.isDirectory()) for (const c of readdirSync(p).sort()) walk(rel ? `${rel}/${c}` : c);
  };
  walk("");
  return out;
}

describe.skipIf(skip)("image import from registry, docker-archive and oci-archive", () => {
  const t = tempDir("drover-image-");
  const data = join(t.dir, "data");
  let reg: TestRegistry;
  let kernel: DebianKernel | undefined;
  let layout = "";
  let manifestDigest = "";

  beforeAll(async () => {
    try {
      kernel = await debianKernel();
    } catch (e) {
      console.warn(`no Debian kernel (${(e as Error).message}); the image is built without one`);
    }
    const rootfs = join(t.dir, "rootfs");
    mkdirSync(rootfs);
    busyboxRootfs(rootfs, kernel);
    layout = join(t.dir, "layout");
    manifestDigest = ociLayout(layout, [tarDir(rootfs), whiteoutLayer()]).manifestDigest;
    reg = await startRegistry();
    const sk = (...a: string[]) => {
      const r = spawnSync(["skopeo", "copy", "--quiet", ...a], { stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`skopeo copy ${a.join(" ")}: ${r.stderr.toString()}`);
    };
    sk(`oci:${layout}:latest`, `docker://${reg.host}/drover/busybox:1`, "--dest-tls-verify=false");
    sk(`oci:${layout}:latest`, `docker-archive:${join(t.dir, "docker.tar")}:drover/busybox:1`);
    sk(`oci:${layout}:latest`, `oci-archive:${join(t.dir, "oci.tar")}:latest`);
  }, 180_000);

  afterAll(() => {
    reg?.stop();
    t.cleanup();
  });

  test("the same image from a registry, a docker-archive and an oci-archive gives identical trees", async () => {
    const r1 = await drover(data, "image", "import", `docker://${reg.host}/drover/busybox:1`, "reg", "--nohttps");
    expect(r1.err).not.toContain("internal error");
    expect(r1.code).toBe(0);
    expect(r1.out).toContain("Imported image 'reg'");
    const r2 = await drover(data, "image", "import", `docker-archive:${join(t.dir, "docker.tar")}`, "darc", "--no-build");
    expect(r2.code).toBe(0);
    const r3 = await drover(data, "image", "import", `oci-archive:${join(t.dir, "oci.tar")}`, "oarc", "--no-build");
    expect(r3.code).toBe(0);
    const a = snapshot(join(data, "images/reg/rootfs"));
    expect(snapshot(join(data, "images/darc/rootfs"))).toEqual(a);
    expect(snapshot(join(data, "images/oarc/rootfs"))).toEqual(a);
  }, 120_000);

  test("layer semantics: whiteouts, opaque dirs, hardlinks, devices, setuid, capabilities, owners", () => {
    const r = join(data, "images/reg/rootfs");
    expect(existsSync(join(r, "etc/hostname"))).toBe(false); // whited out by layer 2
    expect(existsSync(join(r, "etc/passwd"))).toBe(true);
    expect(readdirSync(join(r, "opt/app")).sort()).toEqual(["new", "new.link"]); // opaque: lower files gone
    expect(lstatSync(join(r, "opt/app/new")).ino).toBe(lstatSync(join(r, "opt/app/new.link")).ino);
    const n = lstatSync(join(r, "opt/app/new"));
    expect([n.mode & 0o7777, n.uid, n.gid, Math.floor(n.mtimeMs / 1000)]).toEqual([0o640, 998, 998, 1700000000]);
    const z = lstatSync(join(r, "dev/zero"));
    expect(z.isCharacterDevice()).toBe(true);
    expect(z.rdev).toBe(0x105);
    expect(lstatSync(join(r, "dev/null")).rdev).toBe(0x103);
    expect(lstatSync(join(r, "var/lib/data/fifo")).isFIFO()).toBe(true);
    expect(lstatSync(join(r, "var/lib/data")).uid).toBe(998);
    expect(lstatSync(join(r, "usr/bin/suid-tool")).mode & 0o7777).toBe(0o4755);
    expect([...(readXattrs(join(r, "usr/bin/ping-cap")).get("security.capability") ?? [])]).toEqual([...CAP_NET_RAW]);
    expect([...(readXattrs(join(r, "usr/bin/ping2")).get("security.capability") ?? [])]).toEqual([...CAP_NET_RAW]);
    expect(spawnSync(["getcap", join(r, "usr/bin/ping-cap")]).stdout.toString()).toContain("cap_net_raw=ep");
    expect(readlinkSync(join(r, "usr/bin/sh-link"))).toBe("/bin/busybox");
    expect(lstatSync(join(r, "tmp")).mode & 0o7777).toBe(0o1777);
  });

  test("the build is a valid newc cpio that GNU cpio lists and unpacks, with the kernel found", async () => {
    const img = join(data, "images/reg/image.img.gz");
    const list = spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -t --quiet', "sh", img], { stdout: "pipe" });
    expect(list.exitCode).toBe(0);
    const names = list.stdout.toString().trim().split("\n");
    expect(names).toContain("bin/busybox");
    expect(names).toContain("opt/app/new.link");
    expect(names).toContain("dev/zero");
    const out = join(t.dir, "unpacked");
    mkdirSync(out);
    const x = spawnSync(["sh", "-c", 'gzip -dc "$1" | (cd "$2" && cpio -idm --quiet --no-absolute-filenames)', "sh", img, out], { stderr: "pipe" });
    expect(x.stderr.toString()).toBe("");
    const src = join(data, "images/reg/rootfs");
    expect(readFileSync(join(out, "bin/busybox")).equals(readFileSync(join(src, "bin/busybox")))).toBe(true);
    expect(lstatSync(join(out, "opt/app/new")).ino).toBe(lstatSync(join(out, "opt/app/new.link")).ino);
    expect(readFileSync(join(out, "opt/app/new.link"), "utf8")).toBe("new in layer 2\n");
    expect(lstatSync(join(out, "usr/bin/suid-tool")).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(out, "dev/zero")).rdev).toBe(0x105);
    expect(lstatSync(join(out, "var/lib/data")).uid).toBe(998);
    const show = await drover(data, "image", "show", "reg", "--json");
    const d = JSON.parse(show.out);
    expect(d.built).toBe(true);
    expect(d.info.manifestDigest).toBe(manifestDigest);
    // A small image boots one-stage: the compressed copy, twice the tree while the kernel unpacks it, 256 MiB.
    expect(d.bootMode).toBe("one-stage");
    expect(d.ramNeeded).toBe(d.size + 2 * d.unpacked + 256 * 1024 * 1024);
    if (kernel) {
      expect(d.kernel).toBe(kernel.version);
      const k = await drover(data, "image", "kernels", "reg", "--json");
      expect(JSON.parse(k.out)[0]).toMatchObject({ version: kernel.version, inImage: `/boot/vmlinuz-${kernel.version}`, default: true });
    }
  });

  test("blobs are cached and reused by a later import; --force replaces; an existing name is refused", async () => {
    const again = await drover(data, "image", "import", `docker://${reg.host}/drover/busybox:1`, "reg", "--nohttps");
    expect(again.code).toBe(4);
    expect(again.err).toContain("--force");
    const r = await drover(data, "image", "import", `docker://${reg.host}/drover/busybox@${manifestDigest}`, "reg", "--nohttps", "--force", "--no-build");
    expect(r.code).toBe(0);
    expect(r.err).toContain("already cached");
    expect(r.err).not.toContain("fetching");
    expect(existsSync(join(data, "images/reg/image.img.gz"))).toBe(false); // replaced whole, not built
  });

  test("a tampered layer in an oci-archive is refused and leaves no image behind", async () => {
    const dir = join(t.dir, "tampered");
    spawnSync(["cp", "-a", layout, dir]);
    const idx = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    const m = JSON.parse(readFileSync(join(dir, "blobs/sha256", idx.manifests[0].digest.slice(7)), "utf8"));
    const layer = join(dir, "blobs/sha256", m.layers[1].digest.slice(7));
    const b = readFileSync(layer);
    b[b.length - 20] = b[b.length - 20]! ^ 0xff;
    writeFileSync(layer, b);
    spawnSync(["tar", "-C", dir, "-cf", join(t.dir, "tampered.tar"), "."]);
    const r = await drover(data, "image", "import", `oci-archive:${join(t.dir, "tampered.tar")}`, "bad");
    expect(r.code).toBe(2);
    expect(r.err).toContain("does not match its digest");
    expect(existsSync(join(data, "images/bad"))).toBe(false);
    expect(readdirSync(join(data, "images")).filter((n) => n.startsWith(".import"))).toEqual([]);
    expect((await drover(data, "image", "list", "--json")).out).not.toContain('"bad"');
  });

  test("a registry blob that does not match its digest is refused", async () => {
    // Push a layout whose manifest claims a layer digest the registry will serve different bytes for:
    // the registry itself verifies pushes, so tamper with its storage afterwards.
    const blobs = join(reg.dir, "storage/docker/registry/v2/blobs/sha256");
    const idx = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
    const m = JSON.parse(readFileSync(join(layout, "blobs/sha256", idx.manifests[0].digest.slice(7)), "utf8"));
    const hex: string = m.layers[0].digest.slice(7);
    const data0 = join(blobs, hex.slice(0, 2), hex, "data");
    const b = readFileSync(data0);
    b[100] = b[100]! ^ 0xff;
    writeFileSync(data0, b);
    const fresh = join(t.dir, "data2");
    const r = await drover(fresh, "image", "import", `docker://${reg.host}/drover/busybox:1`, "x", "--nohttps");
    expect(r.code).toBe(2);
    expect(r.err).toContain("does not match its digest");
    expect(existsSync(join(fresh, "images/x"))).toBe(false);
    expect(existsSync(join(fresh, "blobs/sha256", hex))).toBe(false);
    b[100] = b[100]! ^ 0xff;
    writeFileSync(data0, b);
  });

  test("list, show, copy, rename, delete; delete refuses while nodes use the image", async () => {
    expect((await drover(data, "image", "build", "reg")).code).toBe(0);
    expect((await drover(data, "node", "add", "n1", "--image", "reg", "--tagadd", "memory=64M")).code).toBe(0);
    const l = await drover(data, "image", "list", "-l");
    expect(l.out).toMatch(/reg\s+\S+ \S+\s+\S+ \S+\s+\S+\s+n1/);
    const show = await drover(data, "image", "show", "reg");
    expect(show.err).toContain("node n1 has memory=64M");
    const del = await drover(data, "image", "delete", "reg");
    expect(del.code).toBe(5);
    expect(del.err).toContain("n1");
    expect((await drover(data, "image", "copy", "darc", "darc2")).code).toBe(0);
    expect((await drover(data, "image", "rename", "darc2", "darc3")).code).toBe(0);
    expect((await drover(data, "image", "rename", "reg", "reg2")).code).toBe(5);
    const names = JSON.parse((await drover(data, "image", "list", "--json")).out).map((i: { name: string }) => i.name);
    expect(names).toEqual(["darc", "darc3", "oarc", "reg"]);
    expect((await drover(data, "image", "delete", "darc3")).code).toBe(0);
    expect(existsSync(join(data, "images/darc3"))).toBe(false);
    expect((await drover(data, "image", "delete", "reg", "--force")).code).toBe(0);
  });

  test("a directory (chroot) imports; one without /bin/sh is refused", async () => {
    const r = await drover(data, "image", "import", join(data, "images/oarc/rootfs"), "fromdir", "--no-build");
    expect(r.code).toBe(0);
    expect(snapshot(join(data, "images/fromdir/rootfs"))).toEqual(snapshot(join(data, "images/oarc/rootfs")));
    const empty = join(t.dir, "empty");
    mkdirSync(empty);
    const bad = await drover(data, "image", "import", empty, "nosh");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("/bin/sh");
  });
});
