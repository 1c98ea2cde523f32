import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { drover, droverWithEnv, tempDir } from "../../helpers/cli";

// `drover overlay …` end to end through the in-process CLI, against a fresh data dir.
let dir = "";
let cleanup = () => {};
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const ok = async (...args: string[]) => {
  const r = await drover(dir, ...args);
  if (r.code !== 0) throw new Error(`drover ${args.join(" ")} failed (${r.code}): ${r.err}`);
  return r;
};

async function cluster() {
  await ok("node", "add", "n1", "--ipaddr", "10.0.0.11/24", "--hwaddr", "52:54:00:00:00:11", "--netdev", "eth0");
  await ok("node", "add", "n2", "--ipaddr", "10.0.0.12/24", "--hwaddr", "52:54:00:00:00:12", "--netdev", "eth0");
}

describe("overlay list", () => {
  test("lists built-ins, -a lists files, --json", async () => {
    const r = await ok("overlay", "list");
    expect(r.out).toMatch(/^OVERLAY\s+ORIGIN\s+FILES\s+USED BY/);
    expect(r.out).toMatch(/\nhosts\s+built-in\s+1\s+1\n/); // the default profile uses it
    const a = await ok("overlay", "list", "-a", "-l", "wwinit");
    expect(a.out).toMatch(/wwinit\s+-\s+0755\s+0:0\s+\d+\s+\/init/);
    const j = JSON.parse((await ok("overlay", "list", "--json")).out);
    expect(j.map((x: { name: string }) => x.name)).toContain("ssh.host_keys");
  });
});

describe("overlay create, import, mkdir, chmod, chown, show, info, delete", () => {
  test("a site overlay's life", async () => {
    await cluster();
    await ok("overlay", "create", "site");
    expect((await drover(dir, "overlay", "create", "site")).code).toBe(4);
    const src = join(dir, "motd.eta");
    writeFileSync(src, "Welcome to <%= it.node.name %> (head <%= it.server.address %>)\n");
    const imp = await ok("overlay", "import", "site", src, "etc/motd.eta");
    expect(imp.out).toContain("etc/motd.eta");
    await ok("overlay", "mkdir", "site", "etc/secret", "--mode", "700");
    await ok("overlay", "chmod", "site", "etc/motd.eta", "600");
    await ok("overlay", "chown", "site", "etc/motd.eta", "0", "0");
    expect(statSync(join(dir, "overlays/site/etc/motd.eta")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "overlays/site/etc/secret")).mode & 0o777).toBe(0o700);
    expect((await ok("overlay", "show", "site", "etc/motd.eta")).out).toBe("Welcome to <%= it.node.name %> (head <%= it.server.address %>)\n");
    expect((await ok("overlay", "show", "site", "etc/motd.eta", "--render", "n1")).out).toMatch(/^Welcome to n1 \(head \d+\.\d+\.\d+\.\d+\)\n$/);
    const info = JSON.parse((await ok("overlay", "info", "site", "etc/motd.eta", "--json")).out);
    expect(info.variables).toEqual(["it.node.name", "it.server.address"]);
    await ok("overlay", "delete", "site", "etc/secret");
    await ok("overlay", "delete", "site");
    expect((await drover(dir, "overlay", "show", "site", "etc/motd.eta")).code).toBe(3);
  });

  test("a Warewulf template is imported as it is and renders with Go's semantics", async () => {
    await cluster();
    const src = join(dir, "x.ww");
    writeFileSync(src, "{{ range $name, $d := .NetDevs }}{{ $name }}={{ $d.Ipaddr }}{{ end }}\n");
    await ok("overlay", "import", "site", src, "etc/x.ww");
    expect((await ok("overlay", "show", "site", "etc/x.ww")).out).toBe("{{ range $name, $d := .NetDevs }}{{ $name }}={{ $d.Ipaddr }}{{ end }}\n");
    expect((await ok("overlay", "show", "site", "etc/x.ww", "--render", "n1")).out).toMatch(/^\w+=(\d+\.\d+\.\d+\.\d+|<nil>)\n$/);
  });

  test("show --render names the template, line and node when a value is missing", async () => {
    await cluster();
    await ok("overlay", "create", "site");
    mkdirSync(join(dir, "overlays/site/etc"), { recursive: true });
    writeFileSync(join(dir, "overlays/site/etc/x.eta"), "a\n<%= it.node.tags.rack %>\n");
    const r = await drover(dir, "overlay", "show", "site", "etc/x.eta", "--render", "n1");
    expect(r.code).toBe(2);
    expect(r.err).toContain("overlay site, template etc/x.eta line 2, node n1: it.node.tags.rack is not defined");
  });

  test("edit copies a built-in to the site first and writes through $EDITOR", async () => {
    const editor = join(dir, "ed.sh");
    writeFileSync(editor, `#!/bin/sh\nprintf 'custom <%%= it.node.name %%>\\n' > "$1"\n`, { mode: 0o755 });
    const r = await droverWithEnv(dir, { EDITOR: editor }, "overlay", "edit", "issue", "etc/issue.eta");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "overlays/issue/etc/issue.eta"), "utf8")).toBe("custom <%= it.node.name %>\n");
    expect((await ok("overlay", "list")).out).toMatch(/\nissue\s+site \(shadows built-in\)/);
    const bad = join(dir, "bad.sh");
    writeFileSync(bad, `#!/bin/sh\nprintf '<%%= if ( %%>' > "$1"\n`, { mode: 0o755 });
    const r2 = await droverWithEnv(dir, { EDITOR: bad }, "overlay", "edit", "issue", "etc/issue.eta");
    expect(r2.code).toBe(2);
    expect(readFileSync(join(dir, "overlays/issue/etc/issue.eta"), "utf8")).toBe("custom <%= it.node.name %>\n");
  });

  test("edit checks a template by rendering it for a node that uses the overlay; --force saves it anyway", async () => {
    await cluster();
    await ok("overlay", "create", "site");
    await ok("node", "set", "n2", "--system-overlays", "site");
    const editor = join(dir, "ed.sh");
    writeFileSync(editor, `#!/bin/sh\nprintf 'rack <%%= it.node.tags.rack %%>\\n' > "$1"\n`, { mode: 0o755 });
    const r = await droverWithEnv(dir, { EDITOR: editor }, "overlay", "edit", "site", "etc/rack.eta");
    expect(r.code).toBe(2);
    expect(r.err).toContain("template etc/rack.eta line 1, node n2: it.node.tags.rack is not defined");
    expect(r.err).toContain("nothing was saved (--force saves it anyway)");
    expect(statSync(join(dir, "overlays/site"), { throwIfNoEntry: false })?.isDirectory()).toBe(true);
    expect(statSync(join(dir, "overlays/site/etc/rack.eta"), { throwIfNoEntry: false })).toBeUndefined();
    // A syntax error names its line and column.
    const bad = join(dir, "bad.sh");
    writeFileSync(bad, `#!/bin/sh\nprintf 'a\\nb <%% const x = ; %%>\\n' > "$1"\n`, { mode: 0o755 });
    const s = await droverWithEnv(dir, { EDITOR: bad }, "overlay", "edit", "site", "etc/x.eta");
    expect(s.code).toBe(2);
    expect(s.err).toContain("etc/x.eta line 2, column 16: Unexpected token ';'");
    // For a node that has the tag it renders, so it is saved; --force saves the broken one with a warning.
    await ok("node", "set", "n1", "--tagadd", "rack=r1");
    expect((await droverWithEnv(dir, { EDITOR: editor }, "overlay", "edit", "site", "etc/rack.eta", "--node", "n1")).code).toBe(0);
    expect(readFileSync(join(dir, "overlays/site/etc/rack.eta"), "utf8")).toBe("rack <%= it.node.tags.rack %>\n");
    writeFileSync(editor, `#!/bin/sh\nprintf 'rack <%%= it.node.tags.row %%>\\n' > "$1"\n`, { mode: 0o755 });
    const f = await droverWithEnv(dir, { EDITOR: editor }, "overlay", "edit", "site", "etc/rack.eta", "--force");
    expect(f.code).toBe(0);
    expect(f.err).toContain("warning: saved with a problem");
    expect(readFileSync(join(dir, "overlays/site/etc/rack.eta"), "utf8")).toBe("rack <%= it.node.tags.row %>\n");
  });
});

describe("overlay build and lint", () => {
  test("build brings archives up to date; a second build finds them current", async () => {
    await cluster();
    await ok("profile", "set", "default", "--system-overlays", "wwinit,hostname,hosts", "--runtime-overlays", "hosts");
    const r = await ok("overlay", "build");
    expect(r.out).toContain("4 built, 0 already current, 0 failed");
    const again = await ok("overlay", "build", "n1");
    expect(again.out).toContain("0 built, 2 already current, 0 failed");
  });

  test("lint warns about missing overlays and early-boot files only in runtime overlays", async () => {
    await cluster();
    await ok("overlay", "create", "late");
    mkdirSync(join(dir, "overlays/late/etc/systemd/system"), { recursive: true });
    writeFileSync(join(dir, "overlays/late/etc/systemd/system/x.service"), "[Service]\n");
    await ok("profile", "set", "default", "--system-overlays", "wwinit,nosuch", "--runtime-overlays", "late");
    const r = await drover(dir, "overlay", "lint");
    expect(r.code).toBe(7); // findings, listed: not an internal error (1)
    expect(r.out).toContain("profile default lists system overlay 'nosuch', which does not exist");
    expect(r.out).toContain("n[1-2]: /etc/systemd/system/x.service is only in runtime overlay 'late'");
    const b = await drover(dir, "overlay", "build");
    expect(b.code).toBe(6); // failed on some nodes, listed
    expect(b.err).toContain("overlay 'nosuch' (listed for node n1) does not exist");
  });
});
