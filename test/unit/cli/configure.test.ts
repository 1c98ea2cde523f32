import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { unifiedDiff } from "../../../src/domain/textdiff";
import { droverWithEnv, tempDir } from "../../helpers/cli";
import { expectGolden } from "../../helpers/golden";

/**
 * `drover configure nfs|hosts|ssh|--all` (wwctl configure): every file written under a root prefix
 * (DROVER_ROOT) in a temporary directory, never this host's /etc. Golden files for what is written; a second
 * run says "no change"; --dry-run prints the diff and writes nothing.
 */
const NODES = `nodeprofiles:
  default:
    runtime overlay: [hosts, ssh.authorized_keys]
    resources:
      fstab:
        - {spec: "10.0.0.1:/home", file: /home, vfstype: nfs}
        - {spec: "warewulf:/opt", file: /opt, vfstype: nfs, mntops: ro}
        - {spec: "10.9.9.9:/scratch", file: /scratch, vfstype: nfs}
        - {spec: tmpfs, file: /tmp, vfstype: tmpfs}
nodes:
  c1:
    profiles: [default]
    network devices:
      default: {hwaddr: "52:54:00:aa:00:01", ipaddr: 10.0.0.2, netmask: 255.255.252.0}
  c2:
    profiles: [default]
    primary network: default
    network devices:
      default: {hwaddr: "52:54:00:aa:00:02", ipaddr: 10.0.0.3, netmask: 255.255.252.0}
      ib: {device: ib0, ipaddr: 10.10.0.3, netmask: 255.255.0.0}
`;

let dir = "";
let cleanup = () => {};
let root = "";
const data = () => join(dir, "data");
const run = (...args: string[]) => droverWithEnv(data(), { DROVER_ROOT: root, PATH: process.env.PATH ?? "" }, ...args);
beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  root = join(dir, "root");
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(dir, "nodes.conf"), NODES);
  const r = await run("node", "import", join(dir, "nodes.conf"));
  if (r.code !== 0) throw new Error(r.err);
});
afterEach(() => cleanup());

describe("configure nfs", () => {
  test("exports what the nodes mount from this head node to their subnets; idempotent; exportfs not run under a root prefix", async () => {
    // This head node is 10.0.0.1 (warewulf.conf's ipaddr; on a real head node also its interfaces' addresses).
    writeFileSync(join(dir, "ww.conf"), "ipaddr: 10.0.0.1\n");
    expect((await run("settings", "import", join(dir, "ww.conf"))).code).toBe(0);
    const dry = await run("configure", "nfs", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`+++ ${root}/etc/exports.d/drover.exports`);
    expect(dry.out).toContain("+/home 10.0.0.0/22(rw,sync,no_subtree_check) 10.10.0.0/16(rw,sync,no_subtree_check)");
    expect(dry.out).toContain("dry run: nothing written");
    expect(existsSync(join(root, "etc/exports.d"))).toBe(false);
    const r = await run("configure", "nfs");
    expect(r.code).toBe(0);
    expect(r.out).toContain("drover.exports: created (2 exports: /home, /opt)");
    expect(r.out).toContain("exportfs -ra: not run (the file was written under --root");
    expect(r.err).toContain("note: c1, c2 mount 10.9.9.9:/scratch from another server: not exported here");
    expectGolden("configure/drover.exports", readFileSync(join(root, "etc/exports.d/drover.exports"), "utf8"));
    const again = await run("configure", "nfs");
    expect(again.out).toMatch(/drover.exports: no change/);
    expect(again.out).not.toContain("exportfs");
  });

  test("export paths imported from warewulf.conf come first, with their options", async () => {
    writeFileSync(
      join(dir, "ww.conf"),
      "ipaddr: 10.0.0.1\nnetmask: 255.255.252.0\nnfs:\n  export paths:\n    - {path: /home, export options: 'rw,sync'}\n    - {path: /apps, export options: 'ro,sync'}\n",
    );
    expect((await run("settings", "import", join(dir, "ww.conf"))).code).toBe(0);
    const r = await run("configure", "nfs");
    expect(r.code).toBe(0);
    expect(
      readFileSync(join(root, "etc/exports.d/drover.exports"), "utf8")
        .split("\n")
        .filter((l) => !l.startsWith("#")),
    ).toEqual([
      "/home 10.0.0.0/22(rw,sync) 10.10.0.0/16(rw,sync)",
      "/apps 10.0.0.0/22(ro,sync) 10.10.0.0/16(ro,sync)",
      "/opt 10.0.0.0/22(rw,sync,no_subtree_check) 10.10.0.0/16(rw,sync,no_subtree_check)",
      "",
    ]);
  });

  test("an exports file drover did not write is left alone", async () => {
    mkdirSync(join(root, "etc/exports.d"));
    writeFileSync(join(root, "etc/exports.d/drover.exports"), "/data *(rw)\n");
    await run("node", "delete", "c1,c2", "-y");
    await run("profile", "delete", "default", "--force");
    const r = await run("configure", "nfs");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/was not written by drover; move it away/);
    expect(readFileSync(join(root, "etc/exports.d/drover.exports"), "utf8")).toBe("/data *(rw)\n");
  });
});

describe("configure hosts", () => {
  const HOSTS = "127.0.0.1   localhost localhost.localdomain\n::1         localhost6\n10.0.0.1    head head.cluster\n";
  test("a marked block after the site's own lines; replaced whole when the nodes change; other lines byte for byte", async () => {
    writeFileSync(join(root, "etc/hosts"), HOSTS);
    const dry = await run("configure", "hosts", "--dry-run");
    expect(dry.out).toContain("+10.0.0.3  c2 c2-default");
    expect(readFileSync(join(root, "etc/hosts"), "utf8")).toBe(HOSTS);
    const r = await run("configure", "hosts");
    expect(r.code).toBe(0);
    expect(r.out).toContain("etc/hosts: updated (3 addresses of the nodes");
    const written = readFileSync(join(root, "etc/hosts"), "utf8");
    expectGolden("configure/hosts", written);
    expect(written.startsWith(HOSTS)).toBe(true);
    expect((await run("configure", "hosts")).out).toMatch(/etc\/hosts: no change/);
    // The site adds a line after drover's block; a node changes its address.
    writeFileSync(join(root, "etc/hosts"), `${written}192.168.7.7 printer\n`);
    await run("node", "set", "c1", "--ipaddr", "10.0.0.12");
    const d = await run("configure", "hosts", "--dry-run");
    expect(d.out).toContain("-10.0.0.2  c1 c1-default\n+10.0.0.12  c1 c1-default\n");
    await run("configure", "hosts");
    const after = readFileSync(join(root, "etc/hosts"), "utf8");
    expect(after).toBe(`${written.replace("10.0.0.2  c1", "10.0.0.12  c1")}192.168.7.7 printer\n`);
  });

  test("unbalanced markers: refused, the file unchanged", async () => {
    const broken = `${HOSTS}# BEGIN drover\n10.0.0.2 c1\n`;
    writeFileSync(join(root, "etc/hosts"), broken);
    const r = await run("configure", "hosts");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/1 '# BEGIN drover' and 0 '# END drover' lines; fix it/);
    expect(readFileSync(join(root, "etc/hosts"), "utf8")).toBe(broken);
  });

  test("the file's mode is kept", async () => {
    writeFileSync(join(root, "etc/hosts"), HOSTS, { mode: 0o640 });
    await run("configure", "hosts");
    expect(statSync(join(root, "etc/hosts")).mode & 0o777).toBe(0o640);
  });
});

const keygen = spawnSync("sh", ["-c", "command -v ssh-keygen"]).status === 0;
describe.skipIf(!keygen)(`configure ssh${keygen ? "" : " (skipped: no ssh-keygen; install openssh-client to run it)"}`, () => {
  test("makes root's ed25519 pair only when there is none; --dry-run makes nothing", async () => {
    const dry = await run("configure", "ssh", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.out).toContain("would be created with ssh-keygen");
    expect(existsSync(join(root, "root/.ssh"))).toBe(false);
    const r = await run("configure", "ssh");
    expect(r.code).toBe(0);
    expect(r.out).toContain("root/.ssh/id_ed25519: created (ed25519, no passphrase); the ssh.authorized_keys runtime overlay");
    expect(readFileSync(join(root, "root/.ssh/id_ed25519.pub"), "utf8")).toMatch(/^ssh-ed25519 \S+ root@drover\n$/);
    expect(statSync(join(root, "root/.ssh")).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, "root/.ssh/id_ed25519")).mode & 0o777).toBe(0o600);
    const pub = readFileSync(join(root, "root/.ssh/id_ed25519.pub"), "utf8");
    expect((await run("configure", "ssh")).out).toMatch(/id_ed25519: no change \(root has a key pair/);
    expect(readFileSync(join(root, "root/.ssh/id_ed25519.pub"), "utf8")).toBe(pub);
  });

  test("the first key type of an imported warewulf.conf", async () => {
    writeFileSync(join(dir, "ww.conf"), "ssh:\n  key types: [rsa, ed25519]\n");
    expect((await run("settings", "import", join(dir, "ww.conf"))).code).toBe(0);
    expect((await run("configure", "ssh")).out).toContain("id_rsa: created (rsa");
  });

  test('"configure", "--all": nfs, ssh and hosts, then "no change" for each', async () => {
    writeFileSync(join(root, "etc/hosts"), "127.0.0.1 localhost\n");
    const r = await run("configure", "--all");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/drover.exports: created[\s\S]*id_ed25519: created[\s\S]*etc\/hosts: updated[\s\S]*dhcp, tftp: nothing to configure/);
    const again = await run("configure", "--all");
    expect(again.out.match(/no change/g)?.length).toBe(3);
    const dry = await run("configure", "--dry-run", "nfs");
    expect(dry.out).toContain("no change");
  });
});

test('"configure" alone prints its help', async () => {
  const r = await run("configure");
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/Usage: drover configure[\s\S]*nfs[\s\S]*hosts[\s\S]*ssh/);
});

const diffTool = spawnSync("sh", ["-c", "command -v diff"]).status === 0;
test.skipIf(!diffTool)(`the dry-run diff is the one diff -u prints${diffTool ? "" : " (skipped: no diff(1))"}`, () => {
  const a = Array.from({ length: 40 }, (_, i) => `line ${i}`);
  const b = [...a];
  b.splice(3, 1, "changed 3");
  b.splice(20, 0, "inserted");
  b.splice(35, 2);
  const before = `${a.join("\n")}\n`;
  const after = `${b.join("\n")}\n`;
  writeFileSync(join(dir, "a"), before);
  writeFileSync(join(dir, "b"), after);
  const real = spawnSync("diff", ["-u", join(dir, "a"), join(dir, "b")], { encoding: "utf8" })
    .stdout.split("\n")
    .slice(2)
    .join("\n");
  expect(unifiedDiff(before, after, "a", "b").split("\n").slice(2).join("\n")).toBe(real);
  expect(unifiedDiff("", "x\n", "/dev/null", "f")).toBe("--- /dev/null\n+++ f\n@@ -0,0 +1 @@\n+x\n");
  expect(unifiedDiff(before, before, "a", "b")).toBe("");
});
