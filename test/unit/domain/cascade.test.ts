import { describe, expect, test } from "bun:test";
import { NODE_SOURCE, SUPERSEDED, expandProfiles, findProfileCycle, resolve } from "../../../src/domain/cascade";
import type { Conf } from "../../../src/domain/conf";

const profiles: Record<string, Conf> = {
  base: { comment: "base comment", init: "/sbin/init", kernel: { args: ["quiet"] }, tags: { site: "lab", rack: "r1" }, runtimeOverlay: ["hosts"] },
  net: { profiles: ["base"], networkDevices: { default: { netmask: "255.255.255.0", gateway: "10.0.0.1", type: "ethernet" } } },
  gpu: { profiles: ["base"], kernel: { args: ["nouveau.modeset=0"] }, tags: { rack: "r9", gpu: "a100" }, image: "gpu-img" },
  debug: { kernel: { args: ["~quiet", "debug"] }, runtimeOverlay: ["debug"] },
  loopA: { profiles: ["loopB"] },
  loopB: { profiles: ["loopA"] },
};
const lookup = (n: string) => profiles[n];
const field = (r: ReturnType<typeof resolve>, f: string) => r.provenance.find((p) => p.field === f);

describe("profile expansion", () => {
  const cases: [string[], string[]][] = [
    [["base"], ["base"]],
    [["net"], ["base", "net"]],
    [
      ["net", "gpu"],
      ["base", "net", "gpu"],
    ], // base once, depth-first
    [["gpu", "~base"], ["gpu"]],
    [["net", "~net"], ["base"]],
    [["loopA"], ["loopB", "loopA"]], // cycles dropped when resolving (refused on write)
  ];
  for (const [list, want] of cases) test(list.join(","), () => expect(expandProfiles(list, lookup)).toEqual(want));
  test("missing profile is reported, not fatal", () => {
    const problems: string[] = [];
    expect(expandProfiles(["base", "nope"], lookup, problems)).toEqual(["base"]);
    expect(problems[0]).toMatch(/nope/);
  });
  test("cycle detection names the path", () => expect(findProfileCycle("loopA", lookup)).toEqual(["loopA", "loopB", "loopA"]));
});

describe("cascade", () => {
  test("scalars: last writer wins; node supersedes", () => {
    const r = resolve({ profiles: ["net", "gpu"], image: "mine" }, lookup);
    expect(r.conf.image).toBe("mine");
    expect(field(r, "ImageName")).toMatchObject({ source: SUPERSEDED, contributors: ["gpu", NODE_SOURCE] });
    expect(field(r, "Init")).toMatchObject({ source: "base", value: "/sbin/init" });
  });
  test("scalar from the rightmost profile", () => {
    const r = resolve({ profiles: ["net", "gpu"] }, lookup);
    expect(field(r, "ImageName")).toMatchObject({ source: "gpu", value: "gpu-img" });
  });
  test("lists concatenate in order; ~item removes", () => {
    const r = resolve({ profiles: ["gpu", "debug"], kernel: { args: ["console=ttyS0"] } }, lookup);
    expect(r.conf.kernel?.args).toEqual(["nouveau.modeset=0", "debug", "console=ttyS0"]);
    expect(field(r, "Kernel.Args")?.source).toBe(`base,gpu,debug,${NODE_SOURCE}`);
  });
  test("node list item negation", () => {
    const r = resolve({ profiles: ["base", "debug"], runtimeOverlay: ["~hosts"] }, lookup);
    expect(r.conf.runtimeOverlay).toEqual(["debug"]);
  });
  test("maps merge by key", () => {
    const r = resolve({ profiles: ["gpu"], tags: { rack: "r12" } }, lookup);
    expect(r.conf.tags).toEqual({ site: "lab", rack: "r12", gpu: "a100" });
    expect(field(r, "Tags[rack]")?.source).toBe(SUPERSEDED);
    expect(field(r, "Tags[gpu]")?.source).toBe("gpu");
    expect(field(r, "Tags[site]")?.source).toBe("base");
  });
  test("network devices merge per field", () => {
    const r = resolve({ profiles: ["net"], networkDevices: { default: { ipaddr: "10.0.0.5", hwaddr: "52:54:00:00:00:01" } } }, lookup);
    expect(r.conf.networkDevices?.default).toEqual({
      type: "ethernet",
      hwaddr: "52:54:00:00:00:01",
      ipaddr: "10.0.0.5",
      netmask: "255.255.255.0",
      gateway: "10.0.0.1",
    });
    expect(field(r, "NetDevs[default].Netmask")?.source).toBe("net");
    expect(field(r, "NetDevs[default].Ipaddr")?.source).toBe(NODE_SOURCE);
  });
  test("comment and profiles are not inherited", () => {
    const r = resolve({ profiles: ["base"] }, lookup);
    expect(r.conf.comment).toBeUndefined();
    expect(field(r, "Comment")?.source).toBe("");
    expect(r.conf.profiles).toEqual(["base"]);
  });
  test("negated profile contributes nothing", () => {
    const r = resolve({ profiles: ["gpu", "~base"] }, lookup);
    expect(r.conf.tags).toEqual({ rack: "r9", gpu: "a100" });
    expect(r.conf.init).toBeUndefined();
  });
  test("secrets are flagged in provenance", () => {
    const r = resolve({ ipmi: { password: "s3cret" } }, lookup);
    expect(field(r, "Ipmi.Password")).toMatchObject({ secret: true, value: "s3cret" });
  });
});
