import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packCpio, packCpioGz, readCpio } from "../../../src/overlay/cpio";
import { TemplateError, convertWarewulf, render } from "../../../src/overlay/template";
import { world } from "./world";

const src = (text: string, path = "etc/x.eta") => ({ overlay: "site", path, text, mode: 0o644, uid: 0, gid: 0 });
const data = { node: { name: "n1", netdevs: { default: { ipaddr: "10.0.0.5", gateway: undefined as string | undefined } }, tags: { rack: "r1" } } };
const run = (text: string) => render(src(text), data, {}, "n1");
const error = (text: string) => {
  try {
    run(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return (e as Error).message;
  }
  throw new Error("rendered without error");
};

describe("strict rendering", () => {
  test("a misspelt variable is an error naming overlay, template, line and node", () => {
    expect(error("ok\n<%= it.node.nmae %>\n")).toBe("overlay site, template etc/x.eta line 2, node n1: it.node.nmae is not defined (did you mean name?)");
  });
  test("printing an unset value is an error, never an empty string", () => {
    expect(error("a\nb\ngw=<%= it.node.netdevs.default.gateway %>")).toContain("line 3, node n1: <%= it.node.netdevs.default.gateway %> is not set");
  });
  test("printing an object or a list is an error", () => {
    expect(error("<%= it.node.tags %>")).toContain("is an object");
  });
  test("a missing map key is an error; 'in' and it.opt test for it", () => {
    expect(error("<%= it.node.tags.row %>")).toContain("it.node.tags.row is not defined");
    expect((run("<%= 'row' in it.node.tags ? 1 : 0 %> <%= it.opt(it.node.tags, 'row', 'none') %>").files[0] as { data: string }).data).toBe("0 none");
  });
  test("templates cannot change their data", () => {
    expect(error("<% it.node.name = 'x' %>")).toContain("cannot change");
  });
  test("a syntax error names the template", () => {
    expect(error("<% if (x { %>")).toContain("template etc/x.eta");
  });
});

describe("helpers", () => {
  test("it.file emits several files with their own modes; it.softlink makes a symlink; it.abort writes nothing", () => {
    const r = run("<%= it.file('a.conf', { mode: 0o600 }) %>A\n<%= it.file('/opt/b') %>B\n<%= it.file('c') %><%= it.softlink('/target') %>");
    expect(r.files).toEqual([
      { type: "file", path: "etc/a.conf", mode: 0o600, uid: 0, gid: 0, data: "A\n" },
      { type: "file", path: "opt/b", mode: 0o644, uid: 0, gid: 0, data: "B\n" },
      { type: "symlink", path: "etc/c", target: "/target", uid: 0, gid: 0 },
    ]);
    expect(run("<% it.abort() %>").files).toEqual([]);
  });
  test("reads of top-level data are recorded (the build shares renders that read nothing node-specific)", () => {
    expect([...run("<%= it.node.name %>").touched]).toContain("node");
  });
});

describe("Warewulf templates", () => {
  test("simple {{ .Var }} templates convert to eta", () => {
    expect(convertWarewulf("host {{ .Id }} on {{.Ipaddr}}\n")).toEqual({ text: "host <%= it.node.name %> on <%= it.server.address %>\n" });
  });
  test("anything else is refused, not guessed", () => {
    expect(convertWarewulf("{{ range .NetDevs }}x{{ end }}")).toHaveProperty("problem");
  });
  test("a .ww file in an overlay renders as Warewulf renders it; a misspelt field names overlay, template, line and node", async () => {
    const w = world();
    try {
      const d = join(w.dir, "data", "overlays", "old", "etc");
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "motd.ww"), "{{ .Id }}{{ range $n, $d := .NetDevs }} {{ $n }}{{ end }} {{ .Tags.nope }}\n");
      const motd = (await w.overlays.preview("n-dhcp", ["old"])).find((e) => e.path === "etc/motd")!;
      expect(new TextDecoder().decode(motd.data)).toBe("n-dhcp default <no value>\n");
      writeFileSync(join(d, "motd.ww"), "ok\n{{ .Idd }}\n");
      const err = await w.overlays.preview("n-dhcp", ["old"]).then(
        () => "rendered",
        (e: Error) => e.message,
      );
      expect(err).toMatch(
        /overlay old, template etc\/motd\.ww line 2, node n-dhcp: template: motd\.ww:2: executing "motd\.ww" at <\.Idd>: can't evaluate field Idd in type overlay\.TemplateStruct$/,
      );
    } finally {
      w.cleanup();
    }
  });
});

describe("cpio newc", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-cpio-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const entries = [
    { type: "file" as const, path: "etc/ssh/key", mode: 0o600, data: "secret\n" },
    { type: "file" as const, path: "usr/bin/tool", mode: 0o755, data: "#!/bin/sh\necho hi\n" },
    { type: "dir" as const, path: "root", mode: 0o700 },
    { type: "symlink" as const, path: "etc/link", target: "ssh/key" },
  ];
  test("round trip, parents added before children", () => {
    const back = readCpio(packCpioGz(entries));
    expect(back.map((e) => `${e.type} ${e.path}`)).toEqual([
      "dir etc",
      "symlink etc/link",
      "dir etc/ssh",
      "file etc/ssh/key",
      "dir root",
      "dir usr",
      "dir usr/bin",
      "file usr/bin/tool",
    ]);
    expect(back.find((e) => e.path === "etc/ssh/key")!.mode).toBe(0o600);
  });
  test("'..' is refused", () => {
    expect(() => packCpio([{ type: "file", path: "../etc/passwd", mode: 0o644, data: "" }])).toThrow(/\.\./);
  });
  test("GNU cpio unpacks it, modes and symlinks intact, also as concatenated gzip members", () => {
    if (!Bun.which("cpio")) return console.warn("skipped: cpio is not installed (apt install cpio)");
    const seg = packCpioGz([{ type: "file", path: "etc/hosts", mode: 0o644, data: "shared\n" }], 0, 6, false);
    const rest = packCpioGz(entries);
    const both = new Uint8Array([...seg, ...rest]);
    writeFileSync(join(dir, "a.gz"), both);
    const out = join(dir, "out");
    mkdirSync(out);
    const r = Bun.spawnSync(["sh", "-c", `gzip -dc ../a.gz | cpio -idm --quiet`], { cwd: out });
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(out, "etc/hosts"), "utf8")).toBe("shared\n");
    expect(readFileSync(join(out, "etc/ssh/key"), "utf8")).toBe("secret\n");
    expect(statSync(join(out, "etc/ssh/key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, "usr/bin/tool")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(out, "etc/link"))).toBe("ssh/key");
  });
});

describe("the build", () => {
  test("a later overlay's file replaces an earlier one's; a node-independent render is shared across nodes", async () => {
    const w = world();
    try {
      const d = join(w.dir, "data", "overlays", "myhosts", "etc");
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "hosts"), "static hosts\n");
      const files = async (n: string, o: string[]) => (await w.overlays.preview(n, o)).filter((e) => e.path === "etc/hosts");
      // In the stream, later entries win (the kernel and cpio -i both overwrite): the last etc/hosts counts.
      expect(new TextDecoder().decode((await files("n-dhcp", ["hosts", "myhosts"])).at(-1)!.data)).toBe("static hosts\n");
      const generated = (await files("n-dhcp", ["myhosts", "hosts"])).at(-1)!;
      expect(new TextDecoder().decode(generated.data)).toContain("n-tags n-tags-default");
      // The same hosts file for another node, from the one shared render.
      expect((await files("n-tags", ["hosts"]))[0]!.data).toEqual(generated.data);
    } finally {
      w.cleanup();
    }
  });
  test("an overlay that does not exist is an error naming it and the node", async () => {
    const w = world();
    try {
      await expect(w.overlays.preview("n-dhcp", ["nope"])).rejects.toThrow("overlay 'nope' (listed for node n-dhcp) does not exist");
    } finally {
      w.cleanup();
    }
  });
  test("an address without a netmask stops the network overlays with what to do", async () => {
    // Node writes refuse this already; a store written by an older version (or by hand) may still hold it.
    const w = world();
    try {
      w.nodeStore.write((tx) =>
        tx.putNodes([{ name: "bad", conf: { profiles: [], networkDevices: { default: { device: "eth0", ipaddr: "10.0.0.50" } } }, addresses: [] }]),
      );
      for (const o of ["NetworkManager", "systemd.networkd", "ifupdown", "wwinit"])
        await expect(w.overlays.preview("bad", [o])).rejects.toThrow(
          "network device default has the address 10.0.0.50 but no netmask; set one: drover node set bad --netname default --netmask 255.255.255.0",
        );
    } finally {
      w.cleanup();
    }
  });
});
