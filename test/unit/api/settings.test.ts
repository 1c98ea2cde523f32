import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ServeSettings, keyValueSettingsStorage } from "../../../src/config/settings";
import { HOST, type Harness, harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(() => h.cleanup());

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as any });

describe("GET /api/v1/settings", () => {
  test("the running configuration, each field's source and editability, and the host's interfaces", async () => {
    const { status, body } = await json(await h.req("GET", "/settings"));
    expect(status).toBe(200);
    expect(body.dhcp.mode).toBe("off");
    expect(body.http).toEqual({ port: 9873, listen: "0.0.0.0", maxImageStreams: 128 });
    expect(body.interfaces).toEqual(HOST);
    expect(body.fields.dhcpMode).toMatchObject({ value: "off", source: "default", editable: "live", flag: "--dhcp" });
    expect(body.fields.pollSeconds).toMatchObject({ value: 60, editable: "live" });
    expect(body.fields.httpPort).toMatchObject({ value: 9873, editable: "restart" });
    expect(body.fields.apiSubnets).toMatchObject({ editable: "restart" });
    expect(body.fields.maxImageStreams).toMatchObject({ value: 128, editable: "restart", flag: "--max-image-streams" });
  });

  test("needs a session or a token", async () => {
    expect((await h.app.request("/api/v1/settings")).status).toBe(401);
  });
});

describe("PATCH /api/v1/settings", () => {
  test("needs a session, and the CSRF token with it", async () => {
    const s = await h.login();
    const body = JSON.stringify({ discovery: true });
    expect((await h.app.request("/api/v1/settings", { method: "PATCH", headers: { "content-type": "application/json" }, body })).status).toBe(401);
    expect((await h.app.request("/api/v1/settings", { method: "PATCH", headers: { "content-type": "application/json", cookie: s.cookie }, body })).status).toBe(
      403,
    );
    expect(h.settings.config.discovery.enabled).toBe(false);
  });

  test("a wrong type or an unknown field is 400 naming it", async () => {
    let r = await json(await h.req("PATCH", "/settings", { dhcpMode: "sometimes" }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("body.dhcpMode");
    r = await json(await h.req("PATCH", "/settings", { leaseSeconds: "long" }));
    expect(r.body.error).toContain("body.leaseSeconds");
    r = await json(await h.req("PATCH", "/settings", { httpPort: 80 }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("httpPort");
  });

  test("a value resolveServeConfig refuses is 400 naming the field; nothing is applied or saved", async () => {
    let r = await json(await h.req("PATCH", "/settings", { dhcpMode: "authoritative", interfaces: ["eth1"], pool: "10.0.0.250-10.0.0.200" }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^pool: /);
    r = await json(await h.req("PATCH", "/settings", { dhcpMode: "authoritative", interfaces: ["wlan7"] }));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^interfaces: --interface wlan7: no such interface/);
    expect(h.applied).toHaveLength(0);
    expect(h.svc.settingsStore.get("serve")).toBeUndefined();
    expect((await json(await h.req("GET", "/settings"))).body.dhcp.mode).toBe("off");
  });

  test("a valid change is applied and GET shows it at once; it is saved for the next start", async () => {
    const r = await json(
      await h.req("PATCH", "/settings", {
        dhcpMode: "authoritative",
        interfaces: ["eth1"],
        pool: "10.0.0.100-10.0.0.199",
        dns: ["10.0.0.53"],
        discovery: true,
        registerPattern: "n[001-099]",
        pollSeconds: 15,
      }),
    );
    expect(r.status).toBe(200);
    expect(r.body.dhcp.interfaces).toEqual([
      {
        name: "eth1",
        serverIp: "10.0.0.1",
        network: "10.0.0.0",
        netmask: "255.255.255.0",
        dns: ["10.0.0.53"],
        pool: { start: "10.0.0.100", end: "10.0.0.199" },
      },
    ]);
    expect(h.applied.at(-1)!.next.discovery).toEqual({ enabled: true, register: { pattern: "n[001-099]" } });
    const g = (await json(await h.req("GET", "/settings"))).body;
    expect(g.dhcp.mode).toBe("authoritative");
    expect(g.runtime.pollSeconds).toBe(15);
    expect(g.fields.pool).toMatchObject({ value: "10.0.0.100-10.0.0.199", source: "saved" });
    expect(g.changed.by).toBe("admin");
    expect(g.changed.what).toContain("pollSeconds: (default) → 15");
    // The next `drover serve` on this data dir starts with them.
    const again = new ServeSettings({
      flags: { leaseTime: "86400", pollInterval: "60" },
      explicit: new Set(),
      dataDir: h.svc.dataDir,
      storage: keyValueSettingsStorage(h.svc.settingsStore),
      hosts: () => HOST,
    });
    expect(again.config.dhcp.interfaces[0]!.pool).toEqual({ start: "10.0.0.100", end: "10.0.0.199" });
    expect(again.config.runtime.pollSeconds).toBe(15);
  });

  test("a change that cannot be put into effect is reported and leaves everything as it was", async () => {
    h.settings.onApply(async () => {
      throw new Error("bind EADDRINUSE 0.0.0.0:67");
    });
    const r = await json(await h.req("PATCH", "/settings", { dhcpMode: "proxy" }));
    expect(r.status).toBe(409);
    expect(r.body.error).toContain("EADDRINUSE");
    expect((await json(await h.req("GET", "/settings"))).body.dhcp.mode).toBe("authoritative");
    expect(h.svc.settingsStore.get<{ values: { dhcpMode: string } }>("serve")!.values.dhcpMode).toBe("authoritative");
  });

  test("works with an API token too (no CSRF involved)", async () => {
    h.settings.onApply(async () => {});
    const { token } = h.auth.createToken("ops", "admin");
    const r = await h.app.request("/api/v1/settings", {
      method: "PATCH",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ leaseSeconds: 3600 }),
    });
    expect(r.status).toBe(200);
    expect(h.settings.config.dhcp.leaseSeconds).toBe(3600);
  });

  test("is in the OpenAPI document with its body", async () => {
    const doc = (await json(await h.req("GET", "/openapi.json"))).body;
    expect(Object.keys(doc.paths["/api/v1/settings"].patch.requestBody.content["application/json"].schema.properties)).toContain("dhcpMode");
  });
});
