import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiApp } from "../../../src/http/api/index";
import { type Harness, harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(() => h.cleanup());

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as any });
const sample = (path: string) => path.replace(/:mac/g, "52:54:00:aa:bb:cc").replace(/:\w+/g, "x");

describe("every route", () => {
  test("needs a session or a token (401), and a session's changes need the CSRF token (403)", async () => {
    const { router } = apiApp(h.deps);
    expect(router.routes.length).toBeGreaterThan(35);
    const s = await h.login();
    for (const r of router.routes) {
      const url = `/api/v1${sample(r.path)}`;
      const method = r.method.toUpperCase();
      const init = (headers: Record<string, string>) => ({
        method,
        headers: { "content-type": "application/json", ...headers },
        ...(method === "GET" ? {} : { body: "{}" }),
      });
      const anon = await h.app.request(url, init({}));
      if (r.public) {
        expect({ route: `${method} ${r.path}`, status: anon.status }).not.toEqual({ route: `${method} ${r.path}`, status: 401 });
        continue;
      }
      expect({ route: `${method} ${r.path}`, status: anon.status }).toEqual({ route: `${method} ${r.path}`, status: 401 });
      const badToken = await h.app.request(url, init({ authorization: "Bearer drv_not-a-token" }));
      expect({ route: `${method} ${r.path}`, status: badToken.status }).toEqual({ route: `${method} ${r.path}`, status: 401 });
      if (method !== "GET") {
        const noCsrf = await h.app.request(url, init({ cookie: s.cookie }));
        expect({ route: `${method} ${r.path}`, status: noCsrf.status }).toEqual({ route: `${method} ${r.path}`, status: 403 });
        const wrongCsrf = await h.app.request(url, init({ cookie: s.cookie, "x-csrf-token": `${s.csrf.slice(0, -1)}x` }));
        expect({ route: `${method} ${r.path}`, status: wrongCsrf.status }).toEqual({ route: `${method} ${r.path}`, status: 403 });
      }
    }
  });

  test("is in the OpenAPI document", async () => {
    const { router } = apiApp(h.deps);
    const { status, body } = await json(await h.req("GET", "/openapi.json"));
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    for (const r of router.routes) expect(body.paths[`/api/v1${r.path.replace(/:(\w+)/g, "{$1}")}`]?.[r.method]?.summary).toBe(r.summary);
    expect(body.paths["/api/v1/nodes"].post.requestBody.content["application/json"].schema.properties.names).toBeDefined();
  });

  test("unauthenticated: only login (and asking whether one is logged in), /status and the page shell", async () => {
    expect(await (await h.app.request("/api/v1/auth/session")).json()).toEqual({ user: null, version: "test" });
    expect((await h.app.request("/status")).status).toBe(200);
    expect((await h.app.request("/ui/")).status).toBe(200);
    expect((await h.app.request("/api/v1/nodes")).status).toBe(401);
    expect((await h.app.request("/api/v1/no-such-route")).status).toBe(401);
  });
});

describe("validation", () => {
  test("a wrong body is 400 naming the field", async () => {
    let r = await json(await h.req("POST", "/nodes", { names: 5 }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("body.names");
    r = await json(await h.req("POST", "/profiles", { set: {} }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("body.name");
    r = await json(await h.req("PATCH", "/nodes/x", { unset: "comment" }));
    expect(r.body.error).toContain("body.unset");
    r = await json(await h.req("GET", "/nodes/x/events?limit=0"));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("query.limit");
    r = await json(await h.req("POST", "/power/explode", { nodes: "n1" }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("path.action");
  });

  test("a body that is not JSON is 400", async () => {
    const s = await h.login();
    const r = await h.app.request("/api/v1/nodes", {
      method: "POST",
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" },
      body: "{names:",
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error).toContain("not JSON");
  });

  test("the services' own checks come back as 400 with their message", async () => {
    const r = await json(await h.req("POST", "/nodes", { names: "bad1", set: { networkDevices: { default: { hwaddr: "zz:zz" } } } }));
    expect(r.status).toBe(400);
    expect(r.body.error.toLowerCase()).toContain("mac");
  });
});

describe("nodes and profiles", () => {
  test("add, read with provenance, change, bulk change, delete", async () => {
    let r = await json(await h.req("POST", "/profiles", { name: "compute", set: { kernel: { args: ["quiet"] }, comment: "c" } }));
    expect(r.status).toBe(201);
    r = await json(
      await h.req("POST", "/nodes", {
        names: "n[01-03]",
        set: { profiles: ["default", "compute"], networkDevices: { default: { ipaddr: "10.0.0.11", netmask: "255.255.255.0" } } },
      }),
    );
    expect(r).toEqual({ status: 201, body: { added: ["n01", "n02", "n03"] } });
    r = await json(await h.req("GET", "/nodes"));
    expect(r.body.map((n: any) => [n.name, n.ipaddr])).toEqual([
      ["n01", "10.0.0.11"],
      ["n02", "10.0.0.12"],
      ["n03", "10.0.0.13"],
    ]);
    r = await json(await h.req("PATCH", "/nodes/n02", { set: { init: "/sbin/other-init" } }));
    expect(r.status).toBe(200);
    r = await json(await h.req("GET", "/nodes/n02"));
    expect(r.body.profiles).toEqual(["default", "compute"]);
    expect(r.body.provenance.find((p: any) => p.field === "Init")).toMatchObject({ source: "SUPERSEDED", value: "/sbin/other-init" });
    expect(r.body.status.state).toBe("never seen");
    r = await json(await h.req("GET", "/nodes/n01"));
    expect(r.body.provenance.find((p: any) => p.field === "Kernel.Args").source).toBe("default,compute");
    expect(r.body.provenance.find((p: any) => p.field === "Init").source).toBe("default");
    r = await json(await h.req("PATCH", "/nodes", { nodes: ["n01", "n03"], set: { comment: "bulk" } }));
    expect(r.body.changed).toEqual(["n01", "n03"]);
    expect((await json(await h.req("GET", "/nodes"))).body.filter((n: any) => n.comment === "bulk").length).toBe(2);
    r = await json(await h.req("DELETE", "/nodes/n03"));
    expect(r.body.deleted).toEqual(["n03"]);
    expect((await h.req("GET", "/nodes/n03")).status).toBe(404);
    expect((await h.req("POST", "/nodes", { names: "n01" })).status).toBe(409);
    r = await json(await h.req("GET", "/profiles/compute"));
    expect(r.body.own.comment).toBe("c");
    // Who lists it, for the page's delete confirmation: nodes directly, and profiles that include it.
    expect(r.body.users).toEqual({ nodes: ["n01", "n02"], nodeCount: 2, profiles: [] });
    await h.req("POST", "/profiles", { name: "gpu", set: { profiles: ["compute"] } });
    expect((await json(await h.req("GET", "/profiles/compute"))).body.users.profiles).toEqual(["gpu"]);
    expect((await h.req("DELETE", "/profiles/gpu")).status).toBe(200);
    expect((await h.req("GET", "/profiles/nope")).status).toBe(404);
    expect((await json(await h.req("PATCH", "/profiles/compute", { set: { comment: "d" } }))).status).toBe(200);
    expect((await h.req("DELETE", "/profiles/compute")).status).toBe(409); // in use
    expect((await json(await h.req("GET", "/profiles"))).body.map((p: any) => p.name)).toEqual(["compute", "default"]);
  });

  test("boot status, events and the overlay preview of a node", async () => {
    await h.req("POST", "/nodes", {
      names: "b01",
      set: { networkDevices: { default: { device: "eth0", hwaddr: "52:54:00:00:01:01", ipaddr: "10.0.1.1", netmask: "255.255.255.0" } } },
    });
    h.svc.bootState.record({ node: "b01", mac: "52:54:00:00:01:01", stage: "ipxe", at: Date.now() });
    let r = await json(await h.req("GET", "/status/nodes"));
    expect(r.body.find((s: any) => s.node === "b01")).toMatchObject({ state: "booting", stage: "ipxe" });
    r = await json(await h.req("GET", "/nodes/b01/events"));
    expect(r.body.map((e: any) => e.stage)).toEqual(["ipxe"]);
    r = await json(await h.req("GET", "/nodes/b01/overlay?kind=system"));
    expect(r.status).toBe(200);
    const hostname = r.body.files.find((f: any) => f.path === "etc/hostname");
    expect(hostname.text.trim()).toBe("b01");
    // A device found neither by name nor by MAC: the network overlays refuse it, with what to do.
    await h.req("PATCH", "/nodes/b01", {
      unset: [
        ["networkDevices", "default", "device"],
        ["networkDevices", "default", "hwaddr"],
      ],
    });
    r = await json(await h.req("GET", "/nodes/b01/overlay?kind=system"));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("--netdev");
  });
});

describe("server-sent events", () => {
  test("a recorded boot event arrives on the stream", async () => {
    const res = await h.req("GET", "/events");
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = "";
    const until = async (s: string) => {
      while (!text.includes(s)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${s}: ${text}`);
        text += dec.decode(value);
      }
    };
    await until("event: hello");
    await h.req("POST", "/nodes", { names: "sse1", set: { networkDevices: { default: { hwaddr: "52:54:00:00:02:01" } } } });
    h.svc.bootState.record({ node: "sse1", mac: "52:54:00:00:02:01", stage: "booted", at: Date.now() });
    h.svc.bootState.record({ mac: "52:54:00:00:09:09", stage: "dhcp", at: Date.now() });
    await until("52:54:00:00:09:09");
    const events = text
      .split("\n\n")
      .filter((b) => b.startsWith("event: boot"))
      .map((b) => JSON.parse(b.split("data: ")[1]!));
    expect(events.map((e) => [e.node, e.stage, e.known])).toEqual([
      ["sse1", "booted", true],
      [undefined, "dhcp", false],
    ]);
    await reader.cancel();
  });
});

describe("discovery inbox", () => {
  test("accept as a new node, bind to a discoverable node, ignore, remove", async () => {
    const now = Date.now();
    for (const mac of ["52:54:00:00:0a:01", "52:54:00:00:0a:02", "52:54:00:00:0a:03", "52:54:00:00:0a:04"])
      h.svc.bootState.record({ mac, stage: "dhcp", at: now });
    await h.req("POST", "/nodes", { names: "spare1", set: { discoverable: true } });
    let r = await json(await h.req("GET", "/discovery"));
    expect(r.body.inbox.map((u: any) => u.mac)).toContain("52:54:00:00:0a:01");
    expect(r.body.discoverable).toEqual(["spare1"]);
    r = await json(await h.req("POST", "/discovery/52:54:00:00:0a:01/accept", { name: "new1" }));
    expect(r.body.node).toBe("new1");
    expect((await json(await h.req("GET", "/nodes/new1"))).body.conf.networkDevices.default.hwaddr).toBe("52:54:00:00:0a:01");
    r = await json(await h.req("POST", "/discovery/52-54-00-00-0a-02/accept", { node: "spare1" }));
    expect(r.body.node).toBe("spare1");
    const spare = (await json(await h.req("GET", "/nodes/spare1"))).body;
    expect(spare.conf.networkDevices.default.hwaddr).toBe("52:54:00:00:0a:02");
    expect(spare.conf.discoverable).toBeFalsy();
    expect((await h.req("POST", "/discovery/52:54:00:00:0a:03/accept", { node: "new1" })).status).toBe(400); // not discoverable
    expect((await h.req("POST", "/discovery/52:54:00:00:0a:03/ignore", {})).status).toBe(200);
    expect((await h.req("DELETE", "/discovery/52:54:00:00:0a:04")).status).toBe(200);
    r = await json(await h.req("GET", "/discovery"));
    const macs = Object.fromEntries(r.body.inbox.map((u: any) => [u.mac, u.ignored]));
    expect(macs).toMatchObject({ "52:54:00:00:0a:03": true });
    expect(Object.keys(macs)).not.toContain("52:54:00:00:0a:01");
    expect(Object.keys(macs)).not.toContain("52:54:00:00:0a:04");
    expect((await h.req("POST", "/discovery/52:54:00:00:0a:01/ignore", {})).status).toBe(404);
  });
});

describe("images, overlays, power, settings", () => {
  test("images: empty list, 404s, job for a missing image", async () => {
    expect((await json(await h.req("GET", "/images"))).body).toEqual([]);
    expect((await h.req("GET", "/images/nope")).status).toBe(404);
    expect((await h.req("POST", "/images/nope/build")).status).toBe(404);
    expect((await h.req("GET", "/jobs/nope")).status).toBe(404);
    const r = await json(await h.req("POST", "/images", { source: "/nonexistent/dir", name: "bad name!" }));
    expect(r.status).toBe(202);
    let job = r.body;
    for (let i = 0; i < 100 && job.state === "running"; i++) job = (await json(await h.req("GET", `/jobs/${job.id}`))).body;
    expect(job.state).toBe("failed");
    expect(job.error).toContain("not valid");
  });

  test("overlays: list, tree, read, write, render for a node, lint", async () => {
    await h.req("POST", "/nodes", { names: "o01", set: { networkDevices: { default: { ipaddr: "10.0.2.1", netmask: "255.255.255.0" } } } });
    let r = await json(await h.req("GET", "/overlays"));
    expect(r.body.map((o: any) => o.name)).toContain("hostname");
    r = await json(await h.req("GET", "/overlays/hostname"));
    const file = r.body.entries.find((e: any) => e.type === "file").path;
    r = await json(await h.req("GET", `/overlays/hostname/file?path=${encodeURIComponent(file)}`));
    expect(r.body.text.length).toBeGreaterThan(0);
    expect((await h.req("POST", "/overlays", { name: "site1" })).status).toBe(201);
    r = await json(await h.req("PUT", "/overlays/site1/file", { path: "etc/motd.eta", text: "hello <%= it.node.name %>\n" }));
    expect(r.body.written).toBe("etc/motd.eta");
    r = await json(await h.req("GET", "/overlays/site1/render?path=etc/motd.eta&node=o01"));
    expect(r.body).toEqual([expect.objectContaining({ path: "etc/motd", data: "hello o01\n" })]);
    r = await json(await h.req("PUT", "/overlays/site1/file", { path: "../escape", text: "x" }));
    expect(r.status).toBe(400);
    r = await json(await h.req("GET", "/overlays/site1/render?path=etc/motd.eta"));
    expect(r.body.error).toContain("query.node");
    r = await json(await h.req("GET", "/lint/overlays"));
    expect(Array.isArray(r.body)).toBe(true);
  });

  test("power: a node without a BMC gets a failed result saying what to set", async () => {
    await h.req("POST", "/nodes", { names: "p01" });
    const r = await json(await h.req("POST", "/power/status", { nodes: "p01" }));
    expect(r.status).toBe(200);
    expect(r.body).toEqual([expect.objectContaining({ node: "p01", ok: false })]);
    expect(r.body[0].message).toContain("--ipmiaddr");
  });

  test("settings are the running configuration", async () => {
    const r = await json(await h.req("GET", "/settings"));
    expect(r.body.dhcp.mode).toBe("off");
    expect(r.body.api.allowedSubnets).toEqual([]);
  });
});
