import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { type NodesConf, parseNodesConf } from "../../src/domain/nodesconf";
import { normalizeConf } from "../../src/domain/validate";
import { drover, tempDir } from "../helpers/cli";

const fixture = join(import.meta.dir, "../fixtures/warewulf-nodes.conf");

describe("Warewulf nodes.conf interop", () => {
  const t = tempDir();
  afterAll(() => t.cleanup());
  beforeAll(async () => {
    const r = await drover(t.dir, "node", "import", fixture, "--allow-missing-image");
    expect(r.err).toBe("");
    expect(r.out).toMatch(/Imported 2 profiles and 3 nodes/);
  });

  test("without --allow-missing-image, unknown images are refused and nothing is written", async () => {
    const u = tempDir();
    try {
      const r = await drover(u.dir, "node", "import", fixture);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/image 'rockylinux-9', which is not imported/);
      expect((await drover(u.dir, "node", "list", "--json")).out.trim()).toBe("[]");
    } finally {
      u.cleanup();
    }
  });

  test("node list -a shows where each value came from", async () => {
    const r = await drover(t.dir, "node", "list", "-a", "n2");
    const rows = Object.fromEntries(
      r.out
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s{2,}/))
        .map(([, field, source, value]) => [field, { source, value }]),
    );
    expect(rows.ImageName).toEqual({ source: "default", value: "rockylinux-9" });
    expect(rows["Kernel.Args"]).toEqual({ source: "default,gpu", value: "quiet,crashkernel=no,nouveau.modeset=0" });
    expect(rows["Tags[gpu]"]).toEqual({ source: "SUPERSEDED", value: "h100" });
    expect(rows["Ipmi.UserName"]).toEqual({ source: "gpu", value: "admin" });
    expect(rows["Ipmi.Password"]).toEqual({ source: "gpu", value: "********" });
    expect(rows["Ipmi.Ipaddr"]).toEqual({ source: "--", value: "192.168.4.22" });
    expect(rows["NetDevs[default].Netmask"]).toEqual({ source: "default", value: "255.255.255.0" });
    expect(rows["NetDevs[default].Hwaddr"]).toEqual({ source: "--", value: "e6:92:39:49:7b:04" });
    expect(rows["NetDevs[default].OnBoot"]).toEqual({ source: "--", value: "true" });
    expect(rows["NetDevs[ib].Netmask"]).toEqual({ source: "--", value: "255.255.0.0" });
    expect(rows.Comment).toEqual({ source: "--", value: "two NICs and a BMC" });
    expect(rows.Profiles).toEqual({ source: "--", value: "gpu" });
  });

  test("comment of a profile is not inherited", async () => {
    const r = await drover(t.dir, "node", "list", "-a", "n1");
    expect(r.out).toMatch(/n1\s+Comment\s+--\n/);
  });

  test("export gives back an equivalent nodes.conf, and Warewulf's new key names", async () => {
    const r = await drover(t.dir, "node", "export", "--show-secrets");
    // Equivalent after normalisation (MACs lower-cased, booleans typed, kernel args as a list).
    const norm = (nc: NodesConf) => ({
      profiles: Object.fromEntries(Object.entries(nc.profiles).map(([n, c]) => [n, normalizeConf(c, "profile", n)])),
      nodes: Object.fromEntries(Object.entries(nc.nodes).map(([n, c]) => [n, normalizeConf(c, "node", n)])),
    });
    const out = parseNodesConf(r.out);
    expect(norm(out)).toEqual(out); // what drover writes is already normal
    expect(out).toEqual(norm(parseNodesConf(readFileSync(fixture, "utf8"))));
    expect(r.out).toContain("image name: rockylinux-9");
    expect(r.out).not.toContain("container name");
  });

  test("the export imports again into an empty data dir and yields the same resolved nodes", async () => {
    const u = tempDir();
    try {
      const file = join(u.dir, "exported.conf");
      writeFileSync(file, (await drover(t.dir, "node", "export", "--show-secrets")).out);
      expect((await drover(u.dir, "node", "import", file, "--allow-missing-image")).code).toBe(0);
      const a = await drover(t.dir, "node", "list", "-a", "--json", "--show-secrets");
      const b = await drover(u.dir, "node", "list", "-a", "--json", "--show-secrets");
      expect(JSON.parse(b.out)).toEqual(JSON.parse(a.out));
    } finally {
      u.cleanup();
    }
  });

  test("a bare map of nodes (wwctl node export) imports too", async () => {
    const u = tempDir();
    try {
      const file = join(u.dir, "nodes.yaml");
      writeFileSync(file, "n9:\n  profiles: [default]\n  network devices:\n    default: {hwaddr: 52:54:00:00:00:99, ipaddr: 10.0.0.9/24}\n");
      expect((await drover(u.dir, "node", "import", file)).code).toBe(0);
      const doc = parse((await drover(u.dir, "node", "export")).out);
      expect(doc.nodes.n9["network devices"].default).toEqual({ hwaddr: "52:54:00:00:00:99", ipaddr: "10.0.0.9", netmask: "255.255.255.0" });
    } finally {
      u.cleanup();
    }
  });

  const bad: [string, string, RegExp][] = [
    ["not YAML", "nodes: [", /not valid YAML/],
    ["unknown field", "nodes:\n  n1:\n    colour: red\n", /unknown field 'colour'/],
    ["bad MAC", "nodes:\n  n1:\n    network devices:\n      default: {hwaddr: nope}\n", /not a MAC address/],
    ["profile cycle", "nodeprofiles:\n  a: {profiles: [b]}\n  b: {profiles: [a]}\n", /cycle: a → b → a/],
    [
      "duplicate MAC in one file",
      "nodes:\n  n1:\n    network devices: {default: {hwaddr: 52:54:00:00:00:01}}\n  n2:\n    network devices: {default: {hwaddr: 52:54:00:00:00:01}}\n",
      /already used by node 'n1'/,
    ],
    ["node-only field on a profile", "nodeprofiles:\n  p: {discoverable: true}\n", /node-only/],
    ["missing file", "", /cannot read/],
  ];
  for (const [name, text, msg] of bad) {
    test(`refuses ${name}, writing nothing`, async () => {
      const u = tempDir();
      try {
        const file = join(u.dir, "bad.conf");
        if (text) writeFileSync(file, text);
        const r = await drover(u.dir, "node", "import", file);
        expect(r.code).not.toBe(0);
        expect(r.err).toMatch(msg);
        const doc = parse((await drover(u.dir, "node", "export")).out);
        expect(doc.nodes).toEqual({});
        expect(Object.keys(doc.nodeprofiles)).toEqual(["default"]);
      } finally {
        u.cleanup();
      }
    });
  }
});
