import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServices } from "../../../src/app";
import { isRefusal } from "../../../src/boot/service";
import { artifactParts, readArtifact } from "../../../src/boot/artifact";
import type { BootArtifact } from "../../../src/boot/ports";
import { readCpio } from "../../../src/overlay/cpio";
import type { OverlayService } from "../../../src/services/overlays";
import { tempDir } from "../../helpers/cli";
import { FIXTURE_NODES, SERVER, type World, world } from "./world";

// "Never stale": change each input of a node's archive in turn — a template, a profile, a node, an
// included head-node file, the image — and the node's next archive reflects it, with no build command.

let w: World | undefined;
afterEach(() => w?.cleanup());

async function fetch(o: OverlayService, kind: "system" | "runtime", node: string): Promise<{ a: BootArtifact; files: Map<string, string> }> {
  const a = await o.archive(kind, node);
  if (isRefusal(a)) throw new Error(a.message);
  const files = new Map(
    readCpio(readArtifact(a))
      .filter((e) => e.type === "file")
      .map((e) => [e.path, new TextDecoder().decode(e.data)]),
  );
  return { a, files };
}

describe("a node's archive follows its inputs", () => {
  test("template, profile, node, head-node file and image changes each give a new archive", async () => {
    w = world();
    w.nodes.replaceProfiles({ rack: {} });
    w.nodes.setNodes(
      ["n-static"],
      { set: { profiles: ["rack"], runtimeOverlay: ["hosts", "ssh.authorized_keys", "syncuser", "site"], systemOverlay: ["hostname"] } },
      { allowMissingImage: true },
    );
    const site = join(w.dir, "data", "overlays", "site", "etc");
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, "motd.eta"), "rack <%= it.opt(it.node.tags, 'rack', 'none') %>\n");
    const o = w.overlays;

    const first = await fetch(o, "runtime", "n-static");
    expect(first.files.get("etc/motd")).toBe("rack none\n");
    // Unchanged inputs: the same file, not rebuilt.
    const again = await fetch(o, "runtime", "n-static");
    expect(again.a).toEqual(first.a);

    // 1. a template
    writeFileSync(join(site, "motd.eta"), "welcome to rack <%= it.opt(it.node.tags, 'rack', 'none') %>\n");
    const t = await fetch(o, "runtime", "n-static");
    expect(t.files.get("etc/motd")).toBe("welcome to rack none\n");
    expect(t.a.etag).not.toBe(first.a.etag);

    // 2. a profile the node uses
    w.nodes.setProfiles(["rack"], { set: { tags: { rack: "r7" } } }, { allowMissingImage: true });
    const p = await fetch(o, "runtime", "n-static");
    expect(p.files.get("etc/motd")).toBe("welcome to rack r7\n");

    // 3. another node (the hosts file lists every node)
    w.nodes.setNodes(["n-tags"], { set: { networkDevices: { default: { ipaddr: "10.0.0.99" } } } }, { allowMissingImage: true });
    const n = await fetch(o, "runtime", "n-static");
    expect(n.files.get("etc/hosts")).toContain("10.0.0.99  n-tags n-tags-default");
    expect(n.files.get("etc/hosts")).not.toContain("10.0.0.13");

    // 4. a head-node file a template includes
    appendFileSync(join(w.headRoot, "root/.ssh/authorized_keys"), "ssh-ed25519 AAAAnewkey carol@desk\n");
    const h = await fetch(o, "runtime", "n-static");
    expect(h.files.get("root/.ssh/authorized_keys")).toContain("carol@desk");

    // 5. the image (syncuser reads its /etc/passwd)
    appendFileSync(join(w.imageRoot, "etc/passwd"), "chrony:x:977:977::/var/lib/chrony:/sbin/nologin\n");
    const i = await fetch(o, "runtime", "n-static");
    expect(i.files.get("etc/passwd")).toContain("chrony:x:977");

    // Each step gave a different archive.
    const etags = [first, t, p, n, h, i].map((x) => x.a.etag);
    expect(new Set(etags).size).toBe(etags.length);
    // The system overlay did not depend on any of it and was never rebuilt.
    const s1 = await fetch(o, "system", "n-static");
    expect(s1.files.get("etc/hostname")).toBe("n-static\n");
  });

  test("a node's own change rebuilds only what depends on it", async () => {
    w = world();
    const o = w.overlays;
    w.nodes.setNodes(["n-dhcp", "n-tags"], { set: { systemOverlay: ["hostname", "issue"], runtimeOverlay: ["hosts"] } }, { allowMissingImage: true });
    const out1 = await o.build();
    expect(out1.filter((r) => r.status === "built").length).toBe(2 * Object.keys(FIXTURE_NODES).length);
    const out2 = await o.build();
    expect(out2.every((r) => r.status === "fresh")).toBe(true);
    w.nodes.setNodes(["n-tags"], { set: { cluster: "other" } }, { allowMissingImage: true });
    const out3 = await o.build();
    // n-tags' system archive (issue prints the cluster) is rebuilt; the hosts file does not list clusters,
    // but the all-nodes data changed, so runtime archives are re-checked and rebuilt to identical bytes.
    const built = out3
      .filter((r) => r.status === "built")
      .map((r) => `${r.node}/${r.kind}`)
      .sort();
    expect(built).toContain("n-tags/system");
    expect(built).not.toContain("n-dhcp/system");
  });

  test("with the real store: a node written by another process shows up in the next archive", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const a = createServices(dir);
      const b = createServices(dir); // another CLI process writing to the same data dir
      a.overlays.setServer(SERVER);
      a.nodes.replaceNodes({
        n1: {
          profiles: [],
          runtimeOverlay: ["hosts"],
          networkDevices: { default: { device: "eth0", hwaddr: "52:54:00:00:01:01", ipaddr: "10.0.0.21", netmask: "255.255.255.0" } },
        },
      });
      const one = await fetch(a.overlays, "runtime", "n1");
      expect(one.files.get("etc/hosts")).toContain("10.0.0.21  n1 n1-default");
      b.nodes.replaceNodes({
        n2: { profiles: [], networkDevices: { default: { device: "eth0", hwaddr: "52:54:00:00:01:02", ipaddr: "10.0.0.22", netmask: "255.255.255.0" } } },
      });
      const two = await fetch(a.overlays, "runtime", "n1");
      expect(two.files.get("etc/hosts")).toContain("10.0.0.22  n2 n2-default");
      a.close();
      b.close();
    } finally {
      cleanup();
    }
  });
});

describe("another process's writes (the real store's change counters)", () => {
  test("a change, the same change of length again at once, a deletion and a profile change are each seen", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const a = createServices(dir); // drover serve
      const b = createServices(dir); // a CLI writing meanwhile
      a.overlays.setServer(SERVER);
      const dev = (ip: string, mac: string) => ({ default: { device: "eth0", hwaddr: mac, ipaddr: ip, netmask: "255.255.255.0" } });
      a.nodes.replaceNodes({
        n1: { profiles: [], runtimeOverlay: ["hosts"], networkDevices: dev("10.0.0.21", "52:54:00:00:01:01") },
        n2: { profiles: ["default"], systemOverlay: ["issue"], cluster: "c1", networkDevices: dev("10.0.0.22", "52:54:00:00:01:02") },
      });
      expect((await fetch(a.overlays, "runtime", "n1")).files.get("etc/hosts")).toContain("10.0.0.22  n2");
      b.nodes.setNodes(["n2"], { set: { networkDevices: { default: { ipaddr: "10.0.0.23" } } } });
      expect((await fetch(a.overlays, "runtime", "n1")).files.get("etc/hosts")).toContain("10.0.0.23  n2");
      // Two writes of documents of the same length, one right after the other.
      b.nodes.setNodes(["n2"], { set: { cluster: "c2" } });
      expect((await fetch(a.overlays, "system", "n2")).files.get("etc/issue")).toContain("(cluster c2)");
      b.nodes.setNodes(["n2"], { set: { cluster: "c3" } });
      expect((await fetch(a.overlays, "system", "n2")).files.get("etc/issue")).toContain("(cluster c3)");
      b.nodes.setProfiles(["default"], { set: { cluster: "pc" } });
      b.nodes.setNodes(["n2"], { unset: [["cluster"]] });
      expect((await fetch(a.overlays, "system", "n2")).files.get("etc/issue")).toContain("(cluster pc)");
      b.nodes.deleteNodes(["n2"]);
      expect((await fetch(a.overlays, "runtime", "n1")).files.get("etc/hosts")).not.toContain("n2");
      expect(isRefusal(await a.overlays.archive("system", "n2"))).toBe(true);
      // The all-nodes hash kept up to date change by change is the one a fresh reading computes (archives
      // recorded by one process stay current for the next).
      b.nodes.setNodes(["n1"], { set: { networkDevices: { default: { ipaddr: "10.0.0.31" } } } });
      await fetch(a.overlays, "runtime", "n1");
      b.overlays.setServer(SERVER);
      expect(a.overlays.snapshot().snap.peersHash).toBe(b.overlays.snapshot().snap.peersHash);
      a.close();
      b.close();
    } finally {
      cleanup();
    }
  });
});

describe("archives on disk", () => {
  test("written atomically, mode 0600, the previous one kept for downloads in flight", async () => {
    w = world();
    w.nodes.setNodes(["n-tags"], { set: { systemOverlay: ["ssh.host_keys", "hostname"] } }, { allowMissingImage: true });
    const first = await fetch(w.overlays, "system", "n-tags");
    expect(first.files.get("etc/ssh/ssh_host_ed25519_key")).toContain("fixture ed25519 private key");
    const entries = readCpio(readArtifact(first.a));
    expect(entries.find((e) => e.path === "etc/ssh/ssh_host_ed25519_key")!.mode).toBe(0o600);
    const { statSync, readdirSync, existsSync } = await import("node:fs");
    for (const p of artifactParts(first.a)) expect(statSync(p.path).mode & 0o777).toBe(0o600);
    // The node's own member (its keys, its hostname) is the file named for it.
    const own = (a: BootArtifact) => artifactParts(a).at(-1)!.path;
    w.nodes.setNodes(["n-tags"], { set: { cluster: "c2" } }, { allowMissingImage: true });
    const second = await fetch(w.overlays, "system", "n-tags");
    // hostname does not print the cluster: same bytes, same file.
    expect(own(second.a)).toBe(own(first.a));
    // issue does: each change is a new archive; the previous one stays for downloads in flight.
    const paths: string[] = [];
    for (const c of ["c3", "c4", "c5"]) {
      w.nodes.setNodes(["n-tags"], { set: { cluster: c, systemOverlay: ["ssh.host_keys", "hostname", "issue"] } }, { allowMissingImage: true });
      const x = await fetch(w.overlays, "system", "n-tags");
      expect(x.files.get("etc/issue")).toContain(`(cluster ${c})`);
      paths.push(own(x.a));
    }
    expect(new Set(paths).size).toBe(3);
    expect(paths.map((p) => existsSync(p))).toEqual([false, true, true]);
    const cache = join(w.dir, "data", "overlay-cache");
    expect(readdirSync(cache).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});

describe("shared members", () => {
  const both = { systemOverlay: ["wwinit", "hostname"], runtimeOverlay: ["hosts", "ssh.authorized_keys"] };
  const sharedDir = (x: World) => join(x.dir, "data", "overlay-cache", "shared");

  test("stored once for all nodes; a node's address change gives every node a new hosts member; served bytes are a fresh build's", async () => {
    w = world();
    w.nodes.setNodes(Object.keys(FIXTURE_NODES), { set: both }, { allowMissingImage: true });
    const out = await w.overlays.build();
    expect(out.every((r) => r.status === "built")).toBe(true);
    const { readdirSync } = await import("node:fs");
    const members = readdirSync(sharedDir(w));
    // wwinit's static files, the hosts file, root's keys: a handful, not one per node.
    expect(members.length).toBeGreaterThan(0);
    expect(members.length).toBeLessThan(8);
    const rt = await Promise.all(Object.keys(FIXTURE_NODES).map((n) => fetch(w!.overlays, "runtime", n)));
    const hostsPart = (a: BootArtifact) => artifactParts(a)[0]!.path;
    expect(new Set(rt.map((r) => hostsPart(r.a))).size).toBe(1);
    expect(hostsPart(rt[0]!.a).startsWith(sharedDir(w))).toBe(true);
    // Each node's own member holds only its own files and the trailer; a batch packs them into one file.
    for (const r of rt) expect(artifactParts(r.a).at(-1)!.size).toBeLessThan(200);
    expect(new Set(rt.map((r) => artifactParts(r.a).at(-1)!.path)).size).toBe(1);

    w.nodes.setNodes(["n-tags"], { set: { networkDevices: { default: { ipaddr: "10.0.0.77" } } } }, { allowMissingImage: true });
    const after = await fetch(w.overlays, "runtime", "n-static");
    expect(after.files.get("etc/hosts")).toContain("10.0.0.77  n-tags n-tags-default");
    expect(hostsPart(after.a)).not.toBe(hostsPart(rt[1]!.a));
    expect(after.a.etag).not.toBe(rt[1]!.a.etag);

    // A service with an empty cache builds the same bytes under the same ETag.
    const { OverlayService } = await import("../../../src/services/overlays");
    const fresh = new OverlayService({
      dataDir: join(w.dir, "data"),
      cacheDir: join(w.dir, "fresh-cache"),
      nodeStore: w.nodeStore,
      imageRoot: (n) => (n === "rocky" ? w!.imageRoot : undefined),
      server: SERVER,
      headRoot: w.headRoot,
    });
    for (const n of Object.keys(FIXTURE_NODES))
      for (const kind of ["system", "runtime"] as const) {
        const x = await w.overlays.archive(kind, n);
        const y = await fresh.archive(kind, n);
        if (isRefusal(x) || isRefusal(y)) throw new Error("refused");
        expect(readArtifact(x)).toEqual(readArtifact(y));
        expect(x.etag).toBe(y.etag);
      }
  });

  test("a member removed under an archive (another process's clean-up) makes the next request rebuild it", async () => {
    w = world();
    w.nodes.setNodes(["n-static"], { set: both }, { allowMissingImage: true });
    const first = await fetch(w.overlays, "runtime", "n-static");
    const { rmSync } = await import("node:fs");
    for (const p of artifactParts(first.a).slice(0, -1)) rmSync(p.path);
    const again = await fetch(w.overlays, "runtime", "n-static");
    expect(again.a.etag).toBe(first.a.etag);
    expect(readArtifact(again.a)).toEqual(readArtifact(first.a));
  });

  test("members no archive uses any more are removed once they are old; young or used ones stay", async () => {
    w = world();
    w.nodes.setNodes(Object.keys(FIXTURE_NODES), { set: both }, { allowMissingImage: true });
    await w.overlays.build();
    const { existsSync, utimesSync, writeFileSync: write } = await import("node:fs");
    const before = artifactParts((await fetch(w.overlays, "runtime", "n-dhcp")).a)[0]!.path;
    w.nodes.setNodes(["n-tags"], { set: { networkDevices: { default: { ipaddr: "10.0.0.78" } } } }, { allowMissingImage: true });
    await w.overlays.build();
    const now = artifactParts((await fetch(w.overlays, "runtime", "n-dhcp")).a)[0]!.path;
    expect(now).not.toBe(before);
    const young = join(sharedDir(w), `${"0".repeat(64)}.gz`);
    write(young, "x");
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(before, hourAgo, hourAgo);
    utimesSync(now, hourAgo, hourAgo);
    await w.overlays.build();
    expect(existsSync(before)).toBe(false);
    expect(existsSync(now)).toBe(true);
    expect(existsSync(young)).toBe(true);
  });
});
