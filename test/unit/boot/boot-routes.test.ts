import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootArtifact, ImageArtifacts, OverlayArtifacts } from "../../../src/boot/ports";
import { BootService, type BootSettings } from "../../../src/boot/service";
import { createApp } from "../../../src/http/app";
import { BootStatusService } from "../../../src/services/boot-status";
import { NodeService } from "../../../src/services/nodes";
import { sqliteBootStateStore } from "../../../src/store/boot-store";
import { type OpenStore, openMemoryStore, openStore } from "../../../src/store/db";
import { sqliteNodeStore } from "../../../src/store/node-store";
import { tempDir } from "../../helpers/cli";
import { expectGolden } from "../../helpers/golden";

const files = tempDir("drover-boot-");
afterAll(() => files.cleanup());
const kernelPath = join(files.dir, "vmlinuz");
writeFileSync(kernelPath, Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256)));
const artifact = (path: string): BootArtifact => {
  const st = statSync(path);
  return { path, size: st.size, mtimeMs: st.mtimeMs, etag: `"k-${st.size}"` };
};
const images: ImageArtifacts = {
  kernel: async (image) => (image === "img" ? artifact(kernelPath) : { refused: true, status: 404, message: `image ${image} has no kernel` }),
  image: async () => artifact(kernelPath),
  stage1: async () => artifact(kernelPath),
  plan: () => undefined,
};
const overlays: OverlayArtifacts = { archive: async () => artifact(kernelPath) };

function world(settings: Partial<BootSettings> = {}, store: OpenStore = openMemoryStore()) {
  const nodes = new NodeService(sqliteNodeStore(store.db));
  nodes.initialize();
  store.db.run(`INSERT OR IGNORE INTO images (name, created_at, updated_at, info) VALUES ('img', 0, 0, '{}')` as never);
  const state = sqliteBootStateStore(store.db);
  const log: string[] = [];
  const boot = new BootService(nodes, state, images, overlays, { discovery: false, ...settings }, (l) => log.push(l));
  const app = createApp({ startedAt: new Date(0), stats: () => nodes.counts(), services: () => ({}), boot });
  const status = new BootStatusService(nodes, state);
  // The peer as Bun's server reports it (hono/bun getConnInfo asks env.requestIP): node n1's own address.
  const get = (path: string, headers: Record<string, string> = {}, from = { address: "10.0.0.11", port: 900 }) =>
    app.request(`http://10.0.0.1:9873${path}`, { headers: { host: "10.0.0.1:9873", ...headers } }, { requestIP: () => ({ ...from, family: "IPv4" }) });
  const dhcp = (mac: string) => boot.reservation(mac, { iface: "br0" });
  return { nodes, state, boot, app, status, get, dhcp, log, store };
}

const MAC = "52:54:00:00:00:01";
const HEX = "52-54-00-00-00-01";
const addNode = (w: ReturnType<typeof world>, extra: Record<string, unknown> = {}) =>
  w.nodes.addNodes(["n1"], {
    set: {
      image: "img",
      kernel: { args: ["console=ttyS0"] },
      networkDevices: { default: { hwaddr: MAC, ipaddr: "10.0.0.11", netmask: "255.255.255.0" } },
      ...extra,
    },
  });
const stripDate = (s: string) => s.replace(/rendered \S+/, "rendered DATE");

describe("iPXE scripts", () => {
  test("a registered node gets its script (golden), and the stage is recorded", async () => {
    const w = world();
    addNode(w);
    const r = await w.get(`/ipxe/${HEX}?assetkey=&uuid=x`);
    expect(r.status).toBe(200);
    expectGolden("ipxe/default-n1.ipxe", stripDate(await r.text()));
    expect(w.status.list()[0]).toMatchObject({ node: "n1", state: "booting", stage: "ipxe" });
  });

  test("a node with no overlays gets a script without overlay initrds (golden)", async () => {
    const w = world();
    addNode(w, { systemOverlay: ["~wwinit"], profiles: [] });
    const r = await w.get(`/ipxe/${MAC}`);
    expectGolden("ipxe/default-no-overlays.ipxe", stripDate(await r.text()));
  });

  test("an unknown MAC gets the unconfigured script (golden) and lands in the discovery inbox", async () => {
    const w = world();
    const r = await w.get(`/ipxe/${HEX}`);
    expect(r.status).toBe(200);
    expectGolden("ipxe/unconfigured.ipxe", await r.text());
    expect(w.state.unknown()).toMatchObject([{ mac: MAC, count: 1 }]);
  });

  test("a malformed MAC is a 400, counted", async () => {
    const w = world();
    for (const bad of ["zz", "52-54-00-00-00", "%00", "..%2f..%2fetc"]) expect((await w.get(`/ipxe/${bad}`)).status).toBe(400);
    expect(((await (await w.get("/status")).json()) as { http: { rejectedRequests: number } }).http.rejectedRequests).toBe(4);
  });

  test("asset key: wrong or missing is refused, right is served", async () => {
    const w = world();
    addNode(w);
    w.nodes.setNodes(["n1"], { set: { assetKey: "TAG42" } });
    expect((await w.get(`/ipxe/${HEX}?assetkey=nope`)).status).toBe(403);
    expect((await w.get(`/kernel/${HEX}`)).status).toBe(403);
    expect((await w.get(`/ipxe/${HEX}?assetkey=TAG42`)).status).toBe(200);
    expect((await w.get(`/kernel/${HEX}?assetkey=TAG42`)).status).toBe(200);
    expect(w.status.list()[0]?.state).toBe("booting");
  });

  test("a site template shadows the built-in one", async () => {
    const t = tempDir();
    writeFileSync(join(t.dir, "default.ipxe"), "#!ipxe\necho site template for <%= it.node %>\n");
    const w = world({ ipxeTemplateDir: t.dir });
    addNode(w);
    expect(await (await w.get(`/ipxe/${MAC}`)).text()).toBe("#!ipxe\necho site template for n1\n");
    t.cleanup();
  });
});

describe("boot files", () => {
  let w: ReturnType<typeof world>;
  beforeEach(() => {
    w = world();
    addNode(w);
  });

  test("streams the kernel with ETag, Range, If-None-Match and HEAD", async () => {
    const full = await w.get(`/kernel/${HEX}`);
    expect(full.status).toBe(200);
    expect(full.headers.get("etag")).toBe('"k-1000"');
    expect((await full.arrayBuffer()).byteLength).toBe(1000);
    const part = await w.get(`/kernel/${HEX}`, { range: "bytes=10-19" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const tail = await w.get(`/kernel/${HEX}`, { range: "bytes=-5" });
    expect(tail.headers.get("content-range")).toBe("bytes 995-999/1000");
    expect((await w.get(`/kernel/${HEX}`, { range: "bytes=5000-" })).status).toBe(416);
    expect((await w.get(`/kernel/${HEX}`, { "if-none-match": '"k-1000"' })).status).toBe(304);
    expect(w.status.events("n1", 1)[0]?.detail).toBe("kernel unchanged (304)");
    const head = await w.app.request(`/kernel/${HEX}`, { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe("1000");
    expect(w.status.list()[0]).toMatchObject({ stage: "kernel" });
  });

  test("a node without an image gets a 409 that says what to do, recorded as an error", async () => {
    w.nodes.setNodes(["n1"], { unset: [["image"]] });
    const r = await w.get(`/image/${HEX}`);
    expect(r.status).toBe(409);
    expect(await r.text()).toMatch(/drover node set n1 --image NAME/);
    expect(w.status.list()[0]).toMatchObject({ state: "error", lastError: expect.stringMatching(/no image/) });
  });

  test("an unknown MAC gets 404 for files", async () => {
    expect((await w.get("/kernel/52-54-00-99-99-99")).status).toBe(404);
  });

  test("the node's callback marks it booted and the boot's duration is kept", async () => {
    await w.get(`/ipxe/${HEX}`);
    await w.get(`/kernel/${HEX}`);
    expect((await w.get(`/callback/${HEX}?stage=booted`)).status).toBe(200);
    const s = w.status.list()[0]!;
    expect(s).toMatchObject({ node: "n1", state: "booted", stage: "booted" });
    expect(s.bootSeconds).toBeGreaterThanOrEqual(0);
    expect(Object.keys(s.stages ?? {})).toEqual(["ipxe", "kernel", "booted"]);
    expect(w.status.events("n1").map((e) => e.stage)).toEqual(["booted", "kernel", "ipxe"]);
    expect((await w.get(`/callback/${HEX}?stage=exploded`)).status).toBe(400);
  });

  test("after the boot, the agent's runtime polls and heartbeats keep the node booted; a new boot restarts", async () => {
    const v = world({ secureRuntime: false });
    addNode(v);
    await v.get(`/ipxe/${HEX}`);
    await v.get(`/callback/${HEX}?stage=booted`);
    expect((await v.get(`/runtime/${HEX}`)).status).toBe(200);
    await v.get(`/callback/${HEX}?stage=heartbeat`);
    await v.get(`/runtime/${HEX}`);
    expect(v.status.list()[0]).toMatchObject({ state: "booted", stage: "booted" });
    expect(Object.keys(v.status.list()[0]!.stages ?? {})).toEqual(expect.arrayContaining(["runtime", "heartbeat"]));
    await v.get(`/ipxe/${HEX}`);
    expect(v.status.list()[0]).toMatchObject({ state: "booting", stage: "ipxe" });
  });

  test("the agent's first heartbeat of a boot shows as 'agent up'; a new boot forgets it", async () => {
    await w.get(`/ipxe/${HEX}`);
    await w.get(`/callback/${HEX}?stage=booted`);
    expect(w.status.list()[0]!.agentUp).toBeUndefined();
    await w.get(`/callback/${HEX}?stage=heartbeat`);
    const s = w.status.list()[0]!;
    expect(s).toMatchObject({ state: "booted", detail: "agent up (first heartbeat)" });
    expect(s.agentUp).toBe(s.stages!.agent!);
    await w.get(`/callback/${HEX}?stage=heartbeat`);
    expect(w.status.list()[0]!.agentUp).toBe(s.agentUp!);
    expect(w.status.list()[0]!.detail).toBeUndefined();
    await w.get(`/ipxe/${HEX}`);
    expect(w.status.list()[0]!.agentUp).toBeUndefined();
  });

  test("iPXE asking for the runtime overlay from an unprivileged port is refused without an error event", async () => {
    await w.get(`/ipxe/${HEX}`);
    const r = await w.get(`/runtime/${HEX}`, {}, { address: "10.0.0.11", port: 20871 });
    expect(r.status).toBe(403);
    expect(w.status.list()[0]).toMatchObject({ state: "booting", stage: "ipxe" });
    expect(w.status.events("n1").map((e) => e.stage)).toEqual(["ipxe"]);
  });
});

describe("discovery", () => {
  test("off by default: an unknown MAC stays unknown", async () => {
    const w = world();
    w.nodes.addNodes(["spare"], { set: { discoverable: true } });
    await w.dhcp(MAC);
    await w.get(`/ipxe/${HEX}`);
    expect(w.nodes.findByMac(MAC)).toBeUndefined();
  });

  test("on, HTTP from anywhere registers nothing (issue 13 item 7): only DHCP on a served interface does", async () => {
    const w = world({ discovery: true, register: { pattern: "x[001-200]" } });
    w.nodes.addNodes(["spare"], { set: { discoverable: true } });
    for (let i = 0; i < 150; i++) await w.get(`/ipxe/52-54-00-00-01-${i.toString(16).padStart(2, "0")}`);
    expect(w.nodes.listNodes().map((n) => n.name)).toEqual(["spare"]);
    expect(w.nodes.getNode("spare").conf.discoverable).toBe(true);
  });

  test("binds to the first discoverable node and clears the flag", async () => {
    const w = world({ discovery: true });
    w.nodes.addNodes(["b2", "b1"], { set: { discoverable: true } });
    // Discovery runs on DHCP (the port DHCP calls), never on an HTTP request.
    await w.dhcp(MAC);
    const r = await w.get(`/ipxe/${HEX}`);
    expect(await r.text()).toMatch(/booting b1/);
    const n = w.nodes.getNode("b1");
    expect(n.conf.networkDevices?.default?.hwaddr).toBe(MAC);
    expect(n.conf.discoverable).toBeUndefined();
    expect(w.nodes.getNode("b2").conf.discoverable).toBe(true);
  });

  test("registers new nodes by pattern with the next free address", async () => {
    const w = world({ discovery: true, register: { pattern: "n[001-003]", range: { start: "10.0.0.50", end: "10.0.0.60", netmask: "255.255.255.0" } } });
    w.nodes.addNodes(["n001"], { set: { networkDevices: { default: { ipaddr: "10.0.0.50/24" } } } });
    await w.dhcp("52:54:00:00:00:0a");
    await w.dhcp("52:54:00:00:00:0b");
    expect(w.nodes.findByMac("52:54:00:00:00:0a")?.name).toBe("n002");
    expect(w.nodes.findByMac("52:54:00:00:00:0a")?.conf.networkDevices?.default).toMatchObject({ ipaddr: "10.0.0.51", netmask: "255.255.255.0" });
    expect(w.nodes.findByMac("52:54:00:00:00:0b")?.name).toBe("n003");
    // The pattern is exhausted: the next MAC stays unknown and the log says why.
    await w.dhcp("52:54:00:00:00:0c");
    expect(w.nodes.findByMac("52:54:00:00:00:0c")).toBeUndefined();
    expect(w.log.join("\n")).toMatch(/every name of the pattern n\[001-003\] is taken/);
  });

  test("the same MAC asking from two processes at once makes one node", async () => {
    const t = tempDir();
    try {
      const a = world({ discovery: true, register: { pattern: "d[01-99]" } }, openStore(t.dir));
      const b = world({ discovery: true, register: { pattern: "d[01-99]" } }, openStore(t.dir));
      await Promise.all([a.dhcp(MAC), b.dhcp(MAC), a.dhcp(MAC), b.dhcp(MAC)]);
      expect(a.nodes.listNodes().map((n) => n.name)).toEqual(["d01"]);
      a.store.close();
      b.store.close();
    } finally {
      t.cleanup();
    }
  });
});

test("boot status survives a restart", async () => {
  const t = tempDir();
  try {
    const a = world({}, openStore(t.dir));
    addNode(a);
    await a.get(`/ipxe/${HEX}`);
    await a.get(`/callback/${HEX}?stage=booted`);
    a.store.close();
    const b = world({}, openStore(t.dir));
    expect(b.status.list()[0]).toMatchObject({ node: "n1", state: "booted" });
    b.store.close();
  } finally {
    t.cleanup();
  }
});
