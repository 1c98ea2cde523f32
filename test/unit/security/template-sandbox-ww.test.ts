// Issue 13 item 1, Warewulf `.ww` templates: they run through the Go template engine (overlay/gotmpl) on the
// same build threads as eta templates. Each hostile template below must fail that node's render with an
// error naming the overlay, the template and the node, without the secret in it, and without hanging or
// ending the process; readlink and ImportLink refuse what Include refuses; a looping or slow template is
// stopped by the same time limit and watchdog as an eta one and, after two nodes, is not run again.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { NodeRenderer, type HostEnv } from "../../../src/overlay/build";
import { nodeView } from "../../../src/overlay/data";
import type { OverlayTree } from "../../../src/overlay/repo";
import { setRenderTimeLimit } from "../../../src/overlay/template";
import { OverlayService } from "../../../src/services/overlays";
import { SERVER, type World, world } from "../overlay/world";

let w: World;
let o: OverlayService;
/** drover's data dir, inside the test's head-node root so that a template can name it. */
let dataDir: string;

const SECRETS = ["$6$secret", "SECRET_ENV=1", "PRIVATE KEY OF", "SQLite format"];

function put(path: string, text: string) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

beforeAll(() => {
  w = world();
  dataDir = join(w.headRoot, "srv", "drover");
  o = new OverlayService({ dataDir, nodeStore: w.nodeStore, imageRoot: () => w.imageRoot, server: SERVER, headRoot: w.headRoot, templateTimeoutMs: 1000 });
  const h = (p: string) => join(w.headRoot, p);
  put(h("etc/shadow"), "root:$6$secret:19000:0:99999:7:::\n");
  put(h("etc/gshadow"), "root:$6$secret::\n");
  put(h("etc/ssh/ssh_host_ed25519_key"), "PRIVATE KEY OF THE HEAD\n");
  put(h("proc/self/environ"), "SECRET_ENV=1\n");
  put(h("var/lib/drover/drover.db"), "SQLite format 3\n");
  put(join(dataDir, "nodes", "n-static", "ssh_host_ed25519_key"), "PRIVATE KEY OF n-static\n");
  put(join(dataDir, "drover.db"), "SQLite format 3\n");
  // Innocent-looking names that resolve to refused files.
  symlinkSync("/etc/shadow", h("etc/innocent"));
  symlinkSync("../srv/drover/nodes/n-static/ssh_host_ed25519_key", h("etc/key-link"));
  symlinkSync("/proc/self", h("etc/me"));
  put(h("etc/localtime-target"), "UTC\n");
  symlinkSync("/etc/localtime-target", h("etc/localtime"));
});
afterAll(() => {
  o.close();
  w.cleanup();
});

let n = 0;
function site(text: string): string {
  const path = `etc/t${++n}.ww`;
  put(join(dataDir, "overlays", "site", path), text);
  return path;
}

async function failure(text: string, node = "n-dhcp"): Promise<{ path: string; message: string }> {
  const path = site(text);
  const message = await o.renderFile("site", path, node).then(
    (files) => `rendered: ${JSON.stringify(files).slice(0, 300)}`,
    (e: Error) => e.message,
  );
  return { path, message };
}

/** Each must fail with a message that says why; none may print a secret. */
const CORPUS: [string, string, RegExp][] = [
  ["Include /etc/shadow", `{{Include "/etc/shadow"}}`, /error calling Include: "\/etc\/shadow": templates may not read \/etc\/shadow/],
  ["Include /etc/gshadow", `{{Include "/etc/gshadow"}}`, /templates may not read \/etc\/gshadow/],
  ["Include, relative (under /etc/warewulf)", `{{Include "../shadow"}}`, /templates may not read \/etc\/shadow/],
  ["Include through the keys directory", `{{Include "keys/../../ssh/ssh_host_ed25519_key"}}`, /templates may not read \/etc\/ssh\/ssh_host_ed25519_key/],
  ["Include of a symlink to /etc/shadow", `{{Include "/etc/innocent"}}`, /templates may not read \/etc\/shadow/],
  ["Include /proc/self/environ", `{{Include "/proc/self/environ"}}`, /templates may not read \/proc\/self\/environ/],
  ["Include through a symlink to /proc/self", `{{Include "/etc/me/environ"}}`, /templates may not read \/proc\/self\/environ/],
  ["Include /var/lib/drover", `{{Include "/var/lib/drover/drover.db"}}`, /templates may not read \/var\/lib\/drover\/drover\.db/],
  [
    "Include another node's private key in the data dir",
    `{{Include "/srv/drover/nodes/n-static/ssh_host_ed25519_key"}}`,
    /templates may not read \/srv\/drover\/nodes\/n-static\/ssh_host_ed25519_key/,
  ],
  ["Include the data dir's database", `{{Include "/srv/drover/drover.db"}}`, /templates may not read \/srv\/drover\/drover\.db/],
  ["Include of a symlink into the data dir", `{{Include "/etc/key-link"}}`, /templates may not read \/srv\/drover\/nodes/],
  ["IncludeBlock /etc/shadow", `{{IncludeBlock "/etc/shadow" "#end"}}`, /error calling IncludeBlock: .*templates may not read \/etc\/shadow/],
  ["IncludeBlock of the data dir", `{{IncludeBlock "/srv/drover/nodes/n-static/ssh_host_ed25519_key" "x"}}`, /templates may not read \/srv\/drover/],
  ["readlink /etc/shadow", `{{readlink "/etc/shadow"}}`, /error calling readlink: "\/etc\/shadow": templates may not read \/etc\/shadow/],
  ["readlink of a symlink to /etc/shadow", `{{readlink "/etc/innocent"}}`, /templates may not read \/etc\/shadow/],
  ["readlink into the data dir", `{{readlink "/etc/key-link"}}`, /templates may not read \/srv\/drover\/nodes\/n-static/],
  ["readlink of /proc", `{{readlink "/etc/me"}}`, /templates may not read \/proc\/self/],
  ["ImportLink of /etc/shadow", `{{ImportLink "/etc/shadow"}}`, /error calling ImportLink: .*templates may not read \/etc\/shadow/],
  ["a range over a huge int", `{{range 100000000000}}x{{end}}`, /ran more than 5000000 steps/],
  ["nested ranges", `{{range $i := until 1000000}}{{range $j := until 1000000}}{{end}}{{end}}`, /ran more than 5000000 steps/],
  ["endless recursion", `{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}`, /exceeded maximum template depth/],
  ["huge output", `{{range until 100}}{{repeat 1048576 "x"}}{{end}}`, /the output is larger than 67108864 bytes/],
  ["a value doubled in a loop", `{{$s := "x"}}{{range until 40}}{{$s = cat $s $s}}{{end}}{{len $s}}`, /cat made a value larger than 67108864 bytes/],
  ["a huge indent", `{{indent 1000000000 "x"}}`, /indent: the result would be too large/],
  ["a huge nindent of many lines", `{{nindent 100000 (repeat 1000 "\\n")}}`, /nindent: the result would be too large/],
  ["a cyclic dict printed", `{{$d := dict}}{{$_ := set $d "a" $d}}{{toJson $d}}`, /error calling toJson: .*(call stack|recursion)/i],
  ["the data's prototype", `{{.constructor}}`, /can't evaluate field constructor/],
  ["a method's prototype", `{{.ThisNode.Id.constructor}}`, /can't evaluate field constructor|can't give argument|not a method/],
  ["changing the data", `{{set .Tags "x" "y"}}`, /templates cannot change their data/],
];

describe("hostile .ww templates", () => {
  for (const [name, text, why] of CORPUS) {
    test(`refused: ${name}`, async () => {
      const { path, message } = await failure(text);
      expect(message).toStartWith(`overlay site, template ${path}`);
      expect(message).toContain("node n-dhcp");
      expect(message).toMatch(why);
      for (const s of SECRETS) expect(message).not.toContain(s);
    }, 20_000);
  }

  test("IncludeFrom stays inside the image: .. and an absolute symlink resolve within it, never to the head node", async () => {
    symlinkSync("/etc/shadow", join(w.imageRoot, "etc", "evil"));
    const path = site(
      `[{{IncludeFrom "rocky" "../../../../head/etc/shadow"}}][{{IncludeFrom "rocky" "/etc/evil"}}][{{IncludeFrom "rocky" "../../../../../../etc/group" | len | lt 0}}]`,
    );
    const [f] = await o.renderFile("site", path, "n-dhcp");
    expect(f).toMatchObject({ data: "[][][true]" });
  });

  test("the environment is not the head node's: env and expandenv are empty", async () => {
    const path = site(`[{{env "PATH"}}][{{expandenv "$HOME ${"$"}{PATH}"}}]`);
    expect((await o.renderFile("site", path, "n-dhcp"))[0]).toMatchObject({ data: "[][ ]" });
  });

  test("printf widths over a million are %!(BADWIDTH) as in Go, not a string of that size", async () => {
    const path = site(`{{printf "%*d|%.*f|%-*s" 1000000000 1 -5 2.5 -2000000 "x"}}`);
    expect((await o.renderFile("site", path, "n-dhcp"))[0]).toMatchObject({ data: "%!(BADWIDTH)1|%!(BADPREC)2.500000|%!(BADWIDTH)x" });
    const lit = site(`{{printf "%99999999999d" 1}}`);
    expect((await o.renderFile("site", lit, "n-dhcp"))[0]).toMatchObject({ data: "%!(NOVERB)%!(EXTRA int=1)" });
  });

  test("what is allowed still works: a readlink outside the refused list, the node's own host key", async () => {
    const path = site(`{{readlink "/etc/localtime"}}|{{Include "/etc/passwd" | len | lt 0}}`);
    expect((await o.renderFile("site", path, "n-dhcp"))[0]).toMatchObject({ data: "/etc/localtime-target|true" });
  });
});

describe("a slow .ww template is stopped like an eta one", () => {
  const tree = (path: string, text: string): OverlayTree =>
    ({
      name: "slow",
      fingerprint: text,
      entries: [{ type: "file", path, mode: 0o644, uid: 0, gid: 0, data: new TextEncoder().encode(text) }],
    }) as unknown as OverlayTree;
  const env: HostEnv = {
    headRoot: "/nonexistent",
    imageRoot: () => undefined,
    nodeSecretsDir: () => "/nonexistent",
    ensureHostKey: () => {},
    version: "t",
    host: "h",
  } as unknown as HostEnv;
  const snap = {
    peers: [],
    peersHash: "",
    server: { address: "10.0.0.1", netmask: "255.255.255.0", network: "10.0.0.0", port: 9873, hostname: "head", dns: [], domain: "", pollSeconds: 60 },
    serverHash: "",
    memo: new Map(),
  } as never;
  function render(text: string, node = "n1") {
    const t = tree("etc/slow.ww", text);
    const e = t.entries[0] as Extract<OverlayTree["entries"][number], { type: "file" }>;
    try {
      new NodeRenderer(nodeView(node, {}, []), snap, env).render(t, e);
      return "rendered";
    } catch (err) {
      return (err as Error).message;
    }
  }
  const told: string[][] = [];
  beforeAll(() => setRenderTimeLimit(200, (...a) => void told.push(a)));
  afterAll(() => setRenderTimeLimit(5000));

  test("a runaway regular expression inside one function call ends at the time limit (vm's watchdog)", () => {
    told.length = 0;
    const msg = render(`{{regexMatch "(a+)+$" "${"a".repeat(28)}b"}}`);
    expect(msg).toBe("overlay slow, template etc/slow.ww, node n1: did not finish within 200 ms and was stopped (an endless loop?)");
    expect(told).toEqual([["slow", "etc/slow.ww", "n1", "did not finish within 200 ms and was stopped (an endless loop?)"]]);
  }, 30_000);

  test("a range of slow calls ends at the render's time limit, not a fixed 5 s", () => {
    told.length = 0;
    const msg = render(`{{range until 1000000}}{{$x := repeat 4000000 "ab"}}{{end}}`);
    expect(msg).toMatch(
      /^overlay slow, template etc\/slow\.ww( line 1)?, node n1: (did not finish within 200 ms and was stopped|.*the template ran out of time)/,
    );
    expect(told.map((t) => t[3])).toEqual(["did not finish within 200 ms and was stopped (an endless loop?)"]);
  }, 30_000);

  test("running out of steps is told to the build thread too (two nodes and the template is not run again)", () => {
    told.length = 0;
    // A limit long enough for the step budget to end it first, on a loaded machine too.
    setRenderTimeLimit(120_000, (...a) => void told.push(a));
    try {
      expect(render(`{{range 100000000000}}{{end}}`, "n2")).toMatch(/ran more than 5000000 steps/);
    } finally {
      setRenderTimeLimit(200, (...a) => void told.push(a));
    }
    expect(told).toEqual([["slow", "etc/slow.ww", "n2", "ran out of steps (an endless range or recursion?)"]]);
  }, 130_000);
});

test("a looping .ww template for two nodes is not run for a third (the build thread's poison, as for eta)", async () => {
  const path = site(`{{range $i := until 1000000}}{{range $j := until 1000000}}{{end}}{{end}}`);
  for (const node of ["n-dhcp", "n-static"]) await expect(o.renderFile("site", path, node)).rejects.toThrow(/ran more than 5000000 steps/);
  await expect(o.renderFile("site", path, "n-tags")).rejects.toThrow(
    `overlay site, template ${path}, node n-tags: not run again until it changes: it ran out of steps (an endless range or recursion?) for nodes n-dhcp and n-static`,
  );
}, 30_000);
