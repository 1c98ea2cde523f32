import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServices } from "../../../src/app";
import { isRefusal } from "../../../src/boot/service";
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
  const files = new Map(readCpio(new Uint8Array(readFileSync(a.path))).filter((e) => e.type === "file").map((e) => [e.path, new TextDecoder().decode(e.data)]));
  return { a, files };
}

describe("a node's archive follows its inputs", () => {
  test("template, profile, node, head-node file and image changes each give a new archive", async () => {
    w = world();
    w.nodes.replaceProfiles({ rack: {} });
    w.nodes.setNodes(["n-static"], { set: { profiles: ["rack"], runtimeOverlay: ["hosts", "ssh.authorized_keys", "syncuser", "site"], systemOverlay: ["hostname"] } }, { allowMissingImage: true });
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
    expect(out1.filter((r) => r.status === "built").length).toBe(6);
    const out2 = await o.build();
    expect(out2.every((r) => r.status === "fresh")).toBe(true);
    w.nodes.setNodes(["n-tags"], { set: { cluster: "other" } }, { allowMissingImage: true });
    const out3 = await o.build();
    // n-tags' system archive (issue prints the cluster) is rebuilt; the hosts file does not list clusters,
    // but the all-nodes data changed, so runtime archives are re-checked and rebuilt to identical bytes.
    const built = out3.filter((r) => r.status === "built").map((r) => `${r.node}/${r.kind}`).sort();
    expect(built).toContain("n-tags/system");
    expect(built).not.toContain("n-dhcp/system");
  });

  test("with the real store: a node written by another process shows up in the next archive", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const a = createServices(dir);
      const b = createServices(dir); // another CLI process writing to the same data dir
      a.overlays.setServer(SERVER);
      a.nodes.replaceNodes({ n1: { profiles: [], runtimeOverlay: ["hosts"], networkDevices: { default: { device: "eth0", hwaddr: "52:54:00:00:01:01", ipaddr: "10.0.0.21", netmask: "255.255.255.0" } } } });
      const one = await fetch(a.overlays, "runtime", "n1");
      expect(one.files.get("etc/hosts")).toContain("10.0.0.21  n1 n1-default");
      b.nodes.replaceNodes({ n2: { profiles: [], networkDevices: { default: { device: "eth0", hwaddr: "52:54:00:00:01:02", ipaddr: "10.0.0.22", netmask: "255.255.255.0" } } } });
      const two = await fetch(a.overlays, "runtime", "n1");
      expect(two.files.get("etc/hosts")).toContain("10.0.0.22  n2 n2-default");
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
    const entries = readCpio(new Uint8Array(readFileSync(first.a.path)));
    expect(entries.find((e) => e.path === "etc/ssh/ssh_host_ed25519_key")!.mode).toBe(0o600);
    const { statSync, readdirSync, existsSync } = await import("node:fs");
    expect(statSync(first.a.path).mode & 0o777).toBe(0o600);
    w.nodes.setNodes(["n-tags"], { set: { cluster: "c2" } }, { allowMissingImage: true });
    const second = await fetch(w.overlays, "system", "n-tags");
    // hostname does not print the cluster: same bytes, same file.
    expect(second.a.path).toBe(first.a.path);
    // issue does: each change is a new archive; the previous one stays for downloads in flight.
    const paths: string[] = [];
    for (const c of ["c3", "c4", "c5"]) {
      w.nodes.setNodes(["n-tags"], { set: { cluster: c, systemOverlay: ["ssh.host_keys", "hostname", "issue"] } }, { allowMissingImage: true });
      const x = await fetch(w.overlays, "system", "n-tags");
      expect(x.files.get("etc/issue")).toContain(`(cluster ${c})`);
      paths.push(x.a.path);
    }
    expect(new Set(paths).size).toBe(3);
    expect(paths.map((p) => existsSync(p))).toEqual([false, true, true]);
    const cache = join(w.dir, "data", "overlay-cache");
    expect(readdirSync(cache).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});
