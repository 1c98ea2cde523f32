import { describe, expect, test } from "bun:test";
import type { Conf } from "../../../src/domain/conf";
import { parseNodesConf } from "../../../src/domain/nodesconf";
import { nodeView, peerView, serverView } from "../../../src/overlay/data";
import { type WarewulfHost, defaultSettings, renderWarewulf } from "../../../src/overlay/warewulf";
import { SERVER } from "./world";

/** renderWarewulf on small templates of our own: what Warewulf's data model and `overlay show` give. */

const host: WarewulfHost = { include: () => undefined, includeFrom: () => undefined, readlink: () => undefined, note: () => {} };

function render(text: string, conf: Conf, path = "etc/x.conf.ww") {
  return renderWarewulf({
    src: { overlay: "t", path, text, mode: 0o644, uid: 0, gid: 0 },
    node: nodeView("n1", conf),
    conf,
    peers: [peerView("n1", conf)],
    settings: defaultSettings(serverView(SERVER)),
    build: { host: "head", time: new Date(0), overlay: "t", source: path },
    host,
  });
}

const text = (r: ReturnType<typeof render>) => r.files.map((f) => (f.type === "file" ? f.data : `-> ${f.target}`)).join("|");

const twoNics: Conf = {
  profiles: [],
  networkDevices: {
    default: { device: "eth0", ipaddr: "10.0.0.5", netmask: "255.255.255.0" },
    ib: { type: "infiniband", device: "ib0" },
  },
};

describe("Warewulf templates: data model", () => {
  test("a network device's .Primary is false at the top of the struct (Warewulf copies the node through gob), true under .ThisNode and $.AllNodes", () => {
    const r = render(
      "{{ range $n, $d := .NetDevs }}{{ $n }}={{ $d.Primary }} {{ end }}/ {{ range $n, $d := .ThisNode.NetDevs }}{{ $n }}={{ $d.Primary }} {{ end }}/ {{ range $.AllNodes }}{{ range $n, $d := .NetDevs }}{{ $n }}={{ $d.Primary }} {{ end }}{{ end }}",
      twoNics,
    );
    expect(text(r)).toBe("default=false ib=false / default=true ib=false / default=true ib=false ");
  });

  test("a network device's .Type is what the node says, empty when unset (so `default` applies)", () => {
    const r = render('{{ range $n, $d := .NetDevs }}{{ $n }}:{{ printf "%q" $d.Type }}:{{ default "Ethernet" $d.Type }} {{ end }}', twoNics);
    expect(text(r)).toBe('default:"":Ethernet ib:"infiniband":infiniband ');
  });

  test("a tag written as a YAML boolean or number is its text, as Go reads it into a string", () => {
    const nc = parseNodesConf("nodes:\n  n1:\n    tags:\n      flag: true\n      count: 3\n");
    const r = render('{{ lower .Tags.flag }} {{ printf "%q" .Tags.count }}', nc.nodes.n1!);
    expect(text(r)).toBe('true "3"');
  });
});

describe("Warewulf templates: what overlay show reports", () => {
  test("nobackup clears backupFile; without it backupFile is true", () => {
    expect(render("a{{ nobackup }}b", { profiles: [] }).backupFile).toBe(false);
    expect(render("ab", { profiles: [] }).backupFile).toBe(true);
  });

  test("abort writes no file and keeps the text rendered before it", () => {
    const r = render("kept\n{{ if true }}{{ abort }}{{ end }}lost", { profiles: [] });
    expect(r.files).toEqual([]);
    expect(r.aborted).toBe("kept\n");
  });

  test("each file carries the name given to file(), the template's own (a softlink) an empty one", () => {
    const r = render('{{ softlink "/target" }}{{ file "one.conf" }}1{{ file "/abs/two" }}2', { profiles: [] }, "etc/d/x.ww");
    expect(r.files.map((f) => f.path)).toEqual(["etc/d/x", "etc/d/one.conf", "abs/two"]);
    expect(r.names).toEqual(["", "one.conf", "/abs/two"]);
    expect(text(r)).toBe("-> /target|1|2");
  });
});
