/**
 * `image exec` / `image shell` / `image syncuser` on a busybox image imported from a directory: changes
 * are kept on exit 0 and all discarded otherwise (the overlay's upper layer, with whiteouts, merged or
 * dropped), binds work read-only and read-write, and the image is rebuilt only when something changed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readXattrs } from "../../src/image/native";
import { busyboxRootfs, CAP_NET_RAW, haveTools } from "../fixtures/image/make";
import { drover, tempDir } from "../helpers/cli";

const missing = haveTools("unshare", "chroot", "mount", "cpio");
const isRoot = process.getuid?.() === 0;
const overlay = readFileSync("/proc/filesystems", "utf8").includes("overlay");
const skip = !isRoot || missing.length > 0 || !overlay || !existsSync("/bin/busybox");
if (skip)
  console.warn(
    `image exec tests skipped: needs root, overlayfs, util-linux unshare and busybox-static (${[!isRoot && "not root", !overlay && "no overlayfs", ...missing, !existsSync("/bin/busybox") && "apt-get install busybox-static"].filter(Boolean).join(", ")})`,
  );

describe.skipIf(skip)("image exec, shell and syncuser", () => {
  const t = tempDir("drover-exec-");
  const data = join(t.dir, "data");
  const rootfs = () => join(data, "images/bb/rootfs");
  const built = () => join(data, "images/bb/image.img.gz");

  beforeAll(async () => {
    const src = join(t.dir, "src");
    mkdirSync(src);
    busyboxRootfs(src);
    const r = await drover(data, "image", "import", src, "bb");
    if (r.code !== 0) throw new Error(r.err);
  });
  afterAll(() => t.cleanup());

  test("exit 0 keeps a file created inside and a deletion, and rebuilds", async () => {
    const before = statSync(built()).mtimeMs;
    const r = await drover(
      data,
      "image",
      "exec",
      "bb",
      "--",
      "/bin/sh",
      "-c",
      "echo kept > /root/new && rm /etc/hostname && mkdir -p /srv/x && echo $(hostname) && test -e /proc/self/status",
    );
    expect(r.err).not.toContain("internal error");
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("bb");
    expect(readFileSync(join(rootfs(), "root/new"), "utf8")).toBe("kept\n");
    expect(existsSync(join(rootfs(), "etc/hostname"))).toBe(false);
    expect(lstatSync(join(rootfs(), "srv/x")).isDirectory()).toBe(true);
    // No mount points or resolv.conf left behind, no overlay bookkeeping.
    expect(existsSync(join(rootfs(), "proc"))).toBe(false);
    expect(existsSync(join(rootfs(), "etc/resolv.conf"))).toBe(false);
    expect([...readXattrs(join(rootfs(), "root/new")).keys()].filter((k) => k.includes("overlay"))).toEqual([]);
    expect(statSync(built()).mtimeMs).toBeGreaterThan(before);
    const list = spawnSync(["sh", "-c", 'gzip -dc "$1" | cpio -t --quiet', "sh", built()]).stdout.toString();
    expect(list).toContain("root/new");
    expect(list).not.toContain("etc/hostname");
  });

  test("a non-zero exit discards every change and passes the exit code on", async () => {
    const before = statSync(built()).mtimeMs;
    const r = await drover(
      data,
      "image",
      "exec",
      "bb",
      "--",
      "/bin/sh",
      "-c",
      "echo gone > /root/discarded; rm /etc/passwd; chmod 777 /usr/bin/suid-tool; exit 3",
    );
    expect(r.code).toBe(3);
    expect(r.err).toContain("discarded");
    expect(existsSync(join(rootfs(), "root/discarded"))).toBe(false);
    expect(existsSync(join(rootfs(), "etc/passwd"))).toBe(true);
    expect(lstatSync(join(rootfs(), "usr/bin/suid-tool")).mode & 0o7777).toBe(0o4755);
    expect(statSync(built()).mtimeMs).toBe(before);
    expect(readdirSync(join(data, "images/bb")).filter((n) => n.startsWith(".exec"))).toEqual([]);
  });

  test("no change means no rebuild", async () => {
    const before = statSync(built()).mtimeMs;
    const r = await drover(data, "image", "exec", "bb", "--", "/bin/cat", "/etc/passwd");
    expect(r.code).toBe(0);
    expect(r.out).toContain("munge:x:998");
    expect(r.err).toContain("No changes");
    expect(statSync(built()).mtimeMs).toBe(before);
  });

  test("--bind read-only cannot be written; read-write can; neither leaves a trace in the image", async () => {
    const host = join(t.dir, "hostdir");
    mkdirSync(host);
    writeFileSync(join(host, "in"), "from host\n");
    const ro = await drover(data, "image", "exec", "bb", "--bind", `${host}:/mnt/h:ro`, "--", "/bin/sh", "-c", "cat /mnt/h/in && echo x > /mnt/h/out");
    expect(ro.out).toContain("from host");
    expect(ro.code).not.toBe(0);
    expect(existsSync(join(host, "out"))).toBe(false);
    const rw = await drover(data, "image", "exec", "bb", "--bind", host, "--", "/bin/sh", "-c", `echo written > ${host}/out`);
    expect(rw.code).toBe(0);
    expect(readFileSync(join(host, "out"), "utf8")).toBe("written\n");
    expect(existsSync(join(rootfs(), "mnt"))).toBe(false);
    expect(existsSync(join(rootfs(), host.slice(1)))).toBe(false);
  });

  test("image shell runs the shell and honours its exit code", async () => {
    const r = await drover(data, "image", "shell", "bb", "--shell", "/bin/false");
    expect(r.code).toBe(1);
    expect(r.err).toContain("'exit 0' keeps");
  });

  test("syncuser gives image users the head node's ids, re-owning files and keeping capabilities", async () => {
    const etc = join(t.dir, "hostetc");
    mkdirSync(etc);
    writeFileSync(join(etc, "passwd"), "root:x:0:0::/root:/bin/sh\nmunge:x:995:995::/var/lib/munge:/sbin/nologin\n");
    writeFileSync(join(etc, "group"), "root:x:0:\nmunge:x:995:\n");
    const svc = (await import("../../src/app")).createServices(data);
    try {
      spawnSync(["chown", "998:998", join(rootfs(), "usr/bin/ping-cap")]);
      spawnSync(["setcap", "cap_net_raw=ep", join(rootfs(), "usr/bin/ping-cap")]);
      const r = await svc.images.syncuser("bb", { hostEtc: etc, build: false });
      expect(r.changedUsers).toEqual(["munge"]);
      expect(r.changedGroups).toEqual(["munge"]);
      expect(readFileSync(join(rootfs(), "etc/passwd"), "utf8")).toContain("munge:x:995:995:");
      const st = lstatSync(join(rootfs(), "var/lib/data"));
      expect([st.uid, st.gid]).toEqual([995, 995]);
      expect([...(readXattrs(join(rootfs(), "usr/bin/ping-cap")).get("security.capability") ?? [])]).toEqual([...CAP_NET_RAW]);
      // A head-node id the image gives an image-only system account (munge, now that the head has none):
      // that account moves to a free system id, its files follow, and nothing is refused.
      writeFileSync(join(etc, "passwd"), "root:x:0:0::/root:/bin/sh\ndaemon:x:995:1::/:/bin/false\n");
      const r2 = await svc.images.syncuser("bb", { hostEtc: etc, build: false });
      expect(r2.conflicts).toEqual([]);
      const pw = readFileSync(join(rootfs(), "etc/passwd"), "utf8");
      expect(pw).toMatch(/^daemon:x:995:/m);
      const mungeUid = Number(pw.match(/^munge:x:(\d+):/m)?.[1]);
      expect(mungeUid).not.toBe(995);
      expect(lstatSync(join(rootfs(), "var/lib/data")).uid).toBe(mungeUid);
    } finally {
      svc.close();
    }
    // The CLI verb against the real head node's files.
    const cli = await drover(data, "image", "syncuser", "bb", "--no-build");
    expect([0, 4]).toContain(cli.code);
  });
});
