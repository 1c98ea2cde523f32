import { afterEach, beforeEach, expect, test } from "bun:test";
import { chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { drover, tempDir } from "../../helpers/cli";
import { exportDoc } from "./table";

/**
 * `drover node import nodes.conf --overlays DIR`: a Warewulf site moves in with its site overlays (issue 16
 * item 3). The overlay dir is Warewulf's layout: NAME/rootfs/… (4.5+) or NAME/… (older).
 */
const NODES = "nodeprofiles:\n  default:\n    runtime overlay: [hosts, slurm]\nnodes:\n  c1:\n    profiles: [default]\n";
let dir = "";
let cleanup = () => {};
let ww = "";
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  ww = join(dir, "overlays");
  const f = (p: string, text: string, mode = 0o644) => {
    mkdirSync(join(ww, p, ".."), { recursive: true });
    writeFileSync(join(ww, p), text, { mode });
  };
  f("slurm/rootfs/etc/slurm/slurm.conf.ww", "ClusterName={{ .ClusterName }}\n");
  f("slurm/rootfs/etc/munge/munge.key", "secret", 0o400);
  chownSync(join(ww, "slurm/rootfs/etc/munge/munge.key"), 995, 995);
  symlinkSync("/etc/slurm/slurm.conf", join(ww, "slurm/rootfs/etc/slurm.conf"));
  f("legacy/etc/motd", "old layout\n");
  f("wwinit/rootfs/init", "#!/bin/sh\n", 0o755);
  f("host/rootfs/etc/exports.ww", "{{ abort }}\n");
  writeFileSync(join(dir, "nodes.conf"), NODES);
});
afterEach(() => cleanup());

test('"node", "import" --overlays: site overlays moved in with modes, owners and symlinks; built-in names and host left out', async () => {
  const data = join(dir, "data");
  const r = await drover(data, "node", "import", join(dir, "nodes.conf"), "--overlays", ww);
  expect(r.code).toBe(0);
  expect(r.out).toContain(`Imported 2 site overlays (3 files) from ${ww}: legacy, slurm`);
  expect(r.out).toContain("Left out host, wwinit:");
  const site = join(data, "overlays");
  expect(readFileSync(join(site, "slurm/etc/slurm/slurm.conf.ww"), "utf8")).toBe("ClusterName={{ .ClusterName }}\n");
  const key = statSync(join(site, "slurm/etc/munge/munge.key"));
  expect({ mode: key.mode & 0o7777, uid: key.uid, gid: key.gid }).toEqual({ mode: 0o400, uid: 995, gid: 995 });
  expect(lstatSync(join(site, "slurm/etc/slurm.conf")).isSymbolicLink()).toBe(true);
  expect(readlinkSync(join(site, "slurm/etc/slurm.conf"))).toBe("/etc/slurm/slurm.conf");
  expect(readFileSync(join(site, "legacy/etc/motd"), "utf8")).toBe("old layout\n");
  const list = await drover(data, "overlay", "list");
  expect(list.out).toMatch(/slurm/);
  expect((await exportDoc(data)).nodes.c1).toBeDefined();
  // Again: the site overlay is replaced whole (a file removed in Warewulf's copy is gone from drover's).
  writeFileSync(join(ww, "slurm/rootfs/etc/munge/munge.key"), "new");
  const again = await drover(data, "node", "import", join(dir, "nodes.conf"), "--overlays", ww);
  expect(again.out).toContain("(replaced: legacy, slurm)");
  expect(readFileSync(join(site, "slurm/etc/munge/munge.key"), "utf8")).toBe("new");
});

test("a bad overlay dir changes nothing: no node, no overlay", async () => {
  mkdirSync(join(ww, "bad name"));
  const data = join(dir, "data");
  const r = await drover(data, "node", "import", join(dir, "nodes.conf"), "--overlays", ww);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/bad name is not a valid overlay name/);
  expect((await exportDoc(data)).nodes).toEqual({});
  const missing = await drover(data, "node", "import", join(dir, "nodes.conf"), "--overlays", join(dir, "nope"));
  expect(missing.code).toBe(2);
  expect(missing.err).toMatch(/not a directory \(Warewulf keeps site overlays in \/var\/lib\/warewulf\/overlays\)/);
});
