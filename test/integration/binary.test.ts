import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { droverBinary } from "../helpers/binary";
import { tempDir } from "../helpers/cli";

// The executable must run from any directory, with no Bun, Node or source tree around it.
const t = tempDir("drover-bin-");
afterAll(() => t.cleanup());
const bin = join(t.dir, "drover");
copyFileSync(droverBinary(), bin);
const env = { PATH: "/usr/bin:/bin", HOME: t.dir };

test("runs from another directory: version, and migrations embedded", () => {
  const v = Bun.spawnSync([bin, "version"], { cwd: t.dir, env });
  expect(v.exitCode).toBe(0);
  expect(v.stdout.toString()).toMatch(/^drover \d+\.\d+\.\d+ \(\w+\)/);
  const add = Bun.spawnSync([bin, "--data-dir", join(t.dir, "data"), "node", "add", "n[1-2]", "--ipaddr", "10.0.0.1/24"], { cwd: t.dir, env });
  expect(add.stderr.toString()).toBe("");
  const list = Bun.spawnSync([bin, "-d", join(t.dir, "data"), "node", "list", "--json"], { cwd: t.dir, env });
  expect(JSON.parse(list.stdout.toString()).map((n: { name: string }) => n.name)).toEqual(["n1", "n2"]);
});

test("DROVER_DATA_DIR is honoured, and the default for a non-flag run is used otherwise", () => {
  const r = Bun.spawnSync([bin, "profile", "list", "--json"], { cwd: t.dir, env: { ...env, DROVER_DATA_DIR: join(t.dir, "envdata") } });
  expect(r.exitCode).toBe(0);
  expect(Bun.spawnSync(["test", "-f", join(t.dir, "envdata/drover.db")]).exitCode).toBe(0);
});

test("serve answers /status and stops cleanly on SIGTERM", async () => {
  const p = Bun.spawn([bin, "-d", join(t.dir, "srv"), "serve", "--port", "0", "--listen", "127.0.0.1"], { cwd: t.dir, env, stderr: "pipe" });
  const reader = p.stderr.getReader();
  let log = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited early: ${log}`);
    log += new TextDecoder().decode(value);
    const m = /HTTP on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
    if (m && /DHCP/.test(log)) port = Number(m[1]);
  }
  expect(log).toMatch(/DHCP is off/);
  const s = await (await fetch(`http://127.0.0.1:${port}/status`)).json();
  expect(s).toMatchObject({ name: "drover", nodes: 0, profiles: 1 });
  const nf = await fetch(`http://127.0.0.1:${port}/nope`);
  expect(nf.status).toBe(404);
  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
});

test("bad arguments: clear message and exit code 2", () => {
  const r = Bun.spawnSync([bin, "-d", join(t.dir, "x"), "node", "add", "n1", "--ipaddr", "10.0.0.1"], { cwd: t.dir, env });
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toMatch(/no netmask; give --netmask/);
  const u = Bun.spawnSync([bin, "frobnicate"], { cwd: t.dir, env });
  expect(u.exitCode).toBe(2);
  expect(u.stderr.toString()).toMatch(/unknown command 'frobnicate'/);
});

test("overlay build renders on build threads inside the executable", () => {
  const d = join(t.dir, "ovl");
  const run = (...args: string[]) => Bun.spawnSync([bin, "-d", d, ...args], { cwd: t.dir, env });
  // 40 nodes × 2 kinds: enough archives for the build threads (64 and more).
  expect(run("node", "add", "n[01-40]", "--ipaddr", "10.0.0.10/24", "--netdev", "eth0").exitCode).toBe(0);
  expect(run("profile", "set", "default", "--system-overlays", "wwinit,wwclient,hostname,site", "--runtime-overlays", "hosts,site").exitCode).toBe(0);
  mkdirSync(join(d, "overlays/site/etc"), { recursive: true });
  writeFileSync(join(d, "overlays/site/etc/motd.eta"), "node <%= it.node.name %> of <%= it.allNodes.length %>\n");
  const b = run("overlay", "build");
  expect(b.stderr.toString()).toBe("");
  expect(b.stdout.toString()).toBe("80 built, 0 already current, 0 failed\n");
  expect(run("overlay", "build").stdout.toString()).toBe("0 built, 80 already current, 0 failed\n");
  // A template that tries to end the process (both kinds rebuilt: 80 archives, so on threads): templates run
  // in the sandbox, where there is no `process`, so only n37's archives fail, naming the node and template;
  // the command neither exits 9 nor stops the other nodes' builds.
  writeFileSync(join(d, "overlays/site/etc/motd.eta"), "<% if (it.node.name === 'n37') process.exit(9) %>ok\n");
  const x = run("overlay", "build");
  expect(x.exitCode).not.toBe(9);
  expect(x.stderr.toString()).toContain("overlay site, template etc/motd.eta line 1, node n37:");
  expect(x.stderr.toString()).toContain("process");
  expect(x.stdout.toString()).toMatch(/ 1 failed/);
});

test("a reader that goes away (drover man | head -1) ends the output quietly: exit 0, no stack trace", () => {
  // `> >(:)`: the reader has exited before drover (tens of ms to start) writes a byte: every write is EPIPE.
  for (const cmd of ["man", "completion bash", "install --help", "node add --help"]) {
    const r = Bun.spawnSync(["bash", "-c", `"$0" ${cmd} > >(:)`, bin], { cwd: t.dir, env });
    expect({ cmd, code: r.exitCode, stderr: r.stderr.toString() }).toEqual({ cmd, code: 0, stderr: "" });
  }
});
