import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { problemField } from "../../../src/domain/problem-field";
import { type Harness, harness } from "./harness";

/**
 * What the node page's form needs from the API: one detail line per problem, each of which problemField
 * places on its field, and secrets (the BMC password) never sent back.
 */
let h: Harness;
beforeAll(async () => {
  h = await harness();
  expect(
    (
      await h.req("POST", "/nodes", {
        names: "f1",
        set: { networkDevices: { default: { ipaddr: "10.0.0.5/24", hwaddr: "52:54:00:00:00:01" } }, ipmi: { ipaddr: "10.1.0.5", password: "bmc-secret" } },
      })
    ).status,
  ).toBe(201);
  expect(
    (await h.req("POST", "/nodes", { names: "f2", set: { networkDevices: { default: { ipaddr: "10.0.0.6/24", hwaddr: "52:54:00:00:00:02" } } } })).status,
  ).toBe(201);
});
afterAll(() => h.cleanup());

const fieldsOf = async (set: unknown) => {
  const r = await h.req("PATCH", "/nodes/f2", { set });
  const body = (await r.json()) as { error: string; details: string[] };
  return { status: r.status, fields: body.details.map((d) => problemField(d) ?? `?? ${d}`) };
};

describe("validation problems, one per field", () => {
  test("each bad field of one change is its own detail line, placed on its field", async () => {
    const r = await fieldsOf({
      networkDevices: { default: { hwaddr: "zz", gateway: "nope", netmask: "255.0.255.0" }, ib0: { ipaddr: "10.2.0.1/33", mtu: 10, device: "a b" } },
      ipmi: { ipaddr: "x.y", port: 70000, type: "serial" },
      systemOverlay: ["bad name"],
      profiles: ["no/such"],
      root: "disk",
    });
    expect(r.status).toBe(400);
    expect(r.fields.sort()).toEqual(
      [
        "networkDevices.default.hwaddr",
        "networkDevices.default.gateway",
        "networkDevices.default.netmask",
        "networkDevices.ib0.ipaddr",
        "networkDevices.ib0.mtu",
        "networkDevices.ib0.device",
        "ipmi.ipaddr",
        "ipmi.port",
        "ipmi.type",
        "overlay:bad name",
        "profiles",
        "root",
      ].sort(),
    );
  });

  test("types the schema checks name their path", async () => {
    expect((await fieldsOf({ ipmi: { port: "abc" }, networkDevices: { default: { mtu: "big" } } })).fields.sort()).toEqual([
      "ipmi.port",
      "networkDevices.default.mtu",
    ]);
  });

  test("after the cascade: a missing netmask, a missing profile, a missing image, an address another node holds", async () => {
    expect((await fieldsOf({ networkDevices: { ib0: { ipaddr: "10.3.0.1" } } })).fields).toEqual(["networkDevices.ib0.netmask"]);
    expect((await fieldsOf({ profiles: ["nosuch"] })).fields).toEqual(["profiles"]);
    expect((await fieldsOf({ image: "rocky-none" })).fields).toEqual(["image"]);
    const dup = await fieldsOf({ networkDevices: { default: { hwaddr: "52:54:00:00:00:01", ipaddr: "10.0.0.5" } }, ipmi: { ipaddr: "10.1.0.5" } });
    expect(dup.status).toBe(409);
    expect(dup.fields.sort()).toEqual(["ipmi.ipaddr", "networkDevices.default.hwaddr", "networkDevices.default.ipaddr"]);
  });

  test("a refused change changes nothing", async () => {
    await fieldsOf({ networkDevices: { default: { hwaddr: "zz" } }, comment: "half" });
    expect(h.svc.nodes.getNode("f2").own.comment).toBeUndefined();
  });
});

describe("secrets", () => {
  test("the BMC password is masked in a node's own fields, resolved fields and provenance", async () => {
    const text = await (await h.req("GET", "/nodes/f1")).text();
    expect(text).not.toContain("bmc-secret");
    const n = JSON.parse(text);
    expect(n.own.ipmi.password).toBe("********");
    expect(n.conf.ipmi.password).toBe("********");
    expect(n.provenance.find((p: { field: string }) => p.field === "Ipmi.Password")).toMatchObject({ source: "--", value: "********", secret: true });
  });

  test("and in profiles", async () => {
    expect((await h.req("PATCH", "/profiles/default", { set: { ipmi: { password: "profile-secret" } } })).status).toBe(200);
    expect(await (await h.req("GET", "/profiles")).text()).not.toContain("profile-secret");
    expect(await (await h.req("GET", "/profiles/default")).text()).not.toContain("profile-secret");
    expect(await (await h.req("GET", "/nodes/f2")).text()).not.toContain("profile-secret");
    expect(h.svc.nodes.getNode("f2").conf.ipmi?.password).toBe("profile-secret");
  });
});
