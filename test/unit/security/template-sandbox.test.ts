// Issue 13 item 1: an overlay template (JavaScript any web account could write) was root on the head node —
// it could spawn processes, read /etc/shadow and the environment — and an endless loop in one froze DHCP,
// TFTP and HTTP, triggered by an unauthenticated GET /system/MAC. Each template below must fail with an error
// naming the overlay, the template and the node, and leave no trace; the boot routes keep answering while a
// looping template renders.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BootService } from "../../../src/boot/service";
import { createApp } from "../../../src/http/app";
import { OverlayService } from "../../../src/services/overlays";
import { sqliteBootStateStore } from "../../../src/store/boot-store";
import { openMemoryStore } from "../../../src/store/db";
import { SERVER, type World, world } from "../overlay/world";

let w: World;
let o: OverlayService;
let mark: string;

beforeAll(() => {
  w = world();
  mark = join(w.dir, "pwned");
  o = new OverlayService({
    dataDir: join(w.dir, "data"),
    nodeStore: w.nodeStore,
    imageRoot: () => w.imageRoot,
    server: SERVER,
    headRoot: w.headRoot,
    templateTimeoutMs: 400,
  });
  writeFileSync(join(w.headRoot, "etc", "shadow"), "root:$6$secret:19000:0:99999:7:::\n");
});
afterAll(() => {
  o.close();
  w.cleanup();
});

let n = 0;
function site(text: string): string {
  const path = `etc/t${++n}.eta`;
  const dir = join(w.dir, "data", "overlays", "site", "etc");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(w.dir, "data", "overlays", "site", path), text);
  return path;
}

const M = () => JSON.stringify(mark);
/** Each must fail, never render, never leave `mark`. */
const CORPUS: [string, () => string][] = [
  ["Bun.spawnSync", () => `<% Bun.spawnSync(["touch", ${M()}]) %>ok`],
  ["process.env", () => `<%= process.env.PATH %>`],
  ["process via globalThis", () => `<%= globalThis.process.env.PATH %>`],
  ["self / global / window", () => `<%= (self || global || window).process.pid %>`],
  ["require('fs')", () => `<%= require("fs").readFileSync("/etc/shadow", "utf8") %>`],
  ["require('child_process')", () => `<% require("child_process").execSync("touch " + ${M()}) %>ok`],
  ["import()", () => `<% import("node:fs").then((fs) => fs.writeFileSync(${M()}, "x")) %>ok`],
  ["import() spelled apart", () => `<% const p = import /* */ ("node:child_process") %>ok`],
  ["a rejected promise left behind", () => `<% (async () => { throw new Error("x") })() %><%= it.nmae %>`],
  ["fetch", () => `<%= fetch("http://127.0.0.1:9/") %>`],
  ["WebSocket / Worker", () => `<% new Worker("data:text/javascript,1") %>ok`],
  ["it.*.constructor.constructor", () => `<%= it.node.constructor.constructor("return process")().pid %>`],
  ["a helper's constructor", () => `<%= it.sh.constructor("return process")().pid %>`],
  ["an error's constructor", () => `<% try { null.x } catch (e) { e.constructor.constructor("return process")().exit(3) } %>ok`],
  ["async function constructor", () => `<%= (async function () {}).constructor("return process")() %>`],
  ["generator constructor", () => `<%= Object.getPrototypeOf(function* () {}).constructor("return 1")().next() %>`],
  ["Function", () => `<%= Function("return process")().pid %>`],
  ["eval", () => `<%= eval("process.pid") %>`],
  ["indirect eval", () => `<%= (0, eval)("this").process.pid %>`],
  ["this in a nested function", () => `<%= (function () { return this })().process.pid %>`],
  ["the template's this (eta's readFile)", () => `<%= this.readFile("/etc/shadow") %>`],
  ["eta's include", () => `<%~ include("/etc/shadow") %>`],
  ["breaking out of the function", () => `<% }; }); require("fs").writeFileSync(${M()}, "x"); (function () { { %>ok`],
  ["prototype pollution", () => `<% Object.prototype.polluted = "yes" %>ok`],
  ["String.prototype change", () => `<% String.prototype.startsWith = () => true %>ok`],
  ["__proto__ through the data", () => `<% it.node.__proto__.polluted = 1 %>ok`],
  ["defineProperty on a prototype", () => `<% Object.defineProperty(Array.prototype, "x", { value: 1 }) %>ok`],
  ["Error.prepareStackTrace", () => `<% Error.prepareStackTrace = (e, s) => s %>ok`],
  ["setTimeout / queueMicrotask", () => `<% setTimeout(() => 0, 0) %>ok`],
  ["it.include('/etc/shadow')", () => `<%= it.include("/etc/shadow") %>`],
  ["it.include of /proc", () => `<%= it.include("/proc/self/environ") %>`],
  ["it.include of a device", () => `<%= it.include("/dev/zero") %>`],
  ["an endless loop", () => `<% for (;;) {} %>`],
  ["an endless while with work", () => `<% let s = 0; while (true) { s += "a".repeat(10).length } %>`],
  ["a runaway regular expression", () => `<%= /(a+)+$/.test("a".repeat(40) + "b") %>`],
  ["huge output", () => `<% for (let i = 0; i < 100; i++) { %><%= "x".repeat(1 << 20) %><% } %>`],
];

for (const [name, text] of CORPUS) {
  test(`refused: ${name}`, async () => {
    const path = site(text());
    const err = await o.renderFile("site", path, "n-dhcp").then(
      (files) => new Error(`rendered: ${JSON.stringify(files).slice(0, 200)}`),
      (e: Error) => e,
    );
    expect(err.message).toStartWith(`overlay site, template ${path}`);
    expect(err.message).toContain("node n-dhcp");
    expect(err.message).not.toContain("rendered:");
    expect(err.message).not.toContain("$6$secret");
    expect(existsSync(mark)).toBe(false);
  }, 15_000);
}

test("after the corpus, an honest template renders and sees clean intrinsics", async () => {
  const path = site(`<%= it.node.name %> <%= "polluted" in {} %> <%= "abc".startsWith("x") %>`);
  const files = await o.renderFile("site", path, "n-dhcp");
  expect(files[0]).toMatchObject({ type: "file", data: "n-dhcp false false" });
});

test("a looping template is refused on the boot route while other requests are answered", async () => {
  const loop = join(w.dir, "data", "overlays", "loop", "etc");
  mkdirSync(loop, { recursive: true });
  writeFileSync(join(loop, "spin.eta"), "<% for (;;) {} %>");
  w.nodes.setNodes(["n-dhcp"], { set: { systemOverlay: ["loop"] } }, { allowMissingImage: true });
  const store = openMemoryStore();
  const state = sqliteBootStateStore(store.db);
  const slow = new OverlayService({
    dataDir: join(w.dir, "data"),
    nodeStore: w.nodeStore,
    imageRoot: () => w.imageRoot,
    server: SERVER,
    headRoot: w.headRoot,
    templateTimeoutMs: 1500,
  });
  // Says when the boot route has handed the archive to the overlays (which render it on their thread).
  let entered!: () => void;
  const rendering = new Promise<void>((res) => (entered = res));
  const overlays = { archive: (kind: "system" | "runtime", node: string) => (entered(), slow.archive(kind, node)) };
  const boot = new BootService(w.nodes, state, undefined, overlays, { discovery: false }, () => {});
  const app = createApp({ startedAt: new Date(0), stats: () => w.nodes.counts(), services: () => ({}), boot });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req, srv) => app.fetch(req, { requestIP: () => srv.requestIP(req) }) });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    let settled = false;
    const spinning = fetch(`${base}/system/52-54-00-00-00-01`).then(async (r) => ({ status: r.status, text: await r.text() }));
    spinning.then(
      () => (settled = true),
      () => (settled = true),
    );
    await rendering;
    // While the template spins on its thread, this thread answers: /status comes back with /system still
    // pending. (Rendered here, the loop would hold this thread, and /system would end first, or never.)
    const other = await fetch(`${base}/status`);
    expect(other.status).toBe(200);
    expect(settled).toBe(false);
    const r = await spinning;
    expect(r.status).toBe(500);
    expect(r.text).toContain("overlay loop, template etc/spin.eta, node n-dhcp: did not finish within 1.5 s");
  } finally {
    server.stop(true);
    slow.close();
    store.close();
  }
}, 20_000);
