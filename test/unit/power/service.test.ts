import { expect, test } from "bun:test";
import type { Conf } from "../../../src/domain/conf";
import { DroverError } from "../../../src/domain/errors";
import { type BmcTarget, type PowerAction, type PowerDriver, PowerError } from "../../../src/power/types";
import { PowerService } from "../../../src/services/power";

/** The service as the web API will use it: a fixed node source and fake drivers. */
const nodes: Record<string, Conf> = {
  n1: { ipmi: { ipaddr: "10.0.0.1", username: "u", password: "SeCrEt" } },
  n2: { ipmi: { ipaddr: "10.0.0.2/24", username: "u", password: "SeCrEt", type: "redfish" } },
  n3: { ipmi: { type: "none" } },
  n4: { ipmi: { username: "u" } },
};
const source = {
  listNodes: (patterns: readonly string[]) =>
    Object.entries(nodes)
      .filter(([n]) => patterns.length === 0 || patterns.some((p) => (p.endsWith("*") ? n.startsWith(p.slice(0, -1)) : p === n)))
      .map(([name, conf]) => ({ name, conf })),
};

function recorder(behaviour: (t: BmcTarget, a: PowerAction) => string) {
  const seen: { node: string; action: PowerAction; address: string; pxe?: boolean }[] = [];
  const d: PowerDriver = {
    run: async (t, a, o) => {
      seen.push({ node: t.node, action: a, address: t.address, pxe: o.pxe });
      return { state: a === "status" ? "on" : undefined, message: behaviour(t, a) };
    },
    sensors: async () => [],
    plan: (t, a) => [{ display: `${t.type} ${a} ${t.address}` }],
  };
  return { d, seen };
}

test("each node goes to the driver of its BMC type; none and missing address are per-node failures that say what to do", async () => {
  const ipmi = recorder(() => "ok");
  const redfish = recorder(() => "ok");
  const svc = new PowerService(source, { drivers: { ipmi: ipmi.d, redfish: redfish.d } });
  const res = await svc.run([], "cycle", { all: true, pxe: true });
  expect(ipmi.seen).toEqual([{ node: "n1", action: "cycle", address: "10.0.0.1", pxe: true }]);
  expect(redfish.seen).toEqual([{ node: "n2", action: "cycle", address: "10.0.0.2", pxe: true }]);
  expect(res.map((r) => [r.node, r.bmc, r.ok])).toEqual([
    ["n1", "ipmi", true],
    ["n2", "redfish", true],
    ["n3", "none", false],
    ["n4", "ipmi", false],
  ]);
  expect(res[2]!.message).toContain("--bmctype ipmi or redfish");
  expect(res[3]!.message).toContain("drover node set n4 --ipmiaddr");
});

test("driver messages and errors are scrubbed of the password", async () => {
  const leaky: PowerDriver = {
    run: async (t, a) => {
      if (a === "off") throw new PowerError("bmc", `BMC said: bad password ${t.password}`);
      return { message: `used ${t.password}` };
    },
    sensors: async () => [],
    plan: () => [],
  };
  const svc = new PowerService(source, { drivers: { ipmi: leaky } });
  const on = await svc.run(["n1"], "on");
  const off = await svc.run(["n1"], "off");
  expect(JSON.stringify([on, off])).not.toContain("SeCrEt");
  expect(off[0]!.message).toBe("BMC said: bad password ********");
});

test("an unexpected exception in a driver is one node's failure, not the run's", async () => {
  const boom: PowerDriver = {
    run: async () => {
      throw new TypeError("oops");
    },
    sensors: async () => [],
    plan: () => [],
  };
  const ok = recorder(() => "fine");
  const res = await new PowerService(source, { drivers: { ipmi: boom, redfish: ok.d } }).run(["n1", "n2"], "on");
  expect(res.map((r) => r.ok)).toEqual([false, true]);
  expect(res[0]!.message).toContain("unexpected error: oops");
});

test("bad requests are refused before any BMC is contacted", async () => {
  const ipmi = recorder(() => "ok");
  const svc = new PowerService(source, { drivers: { ipmi: ipmi.d } });
  await expect(svc.run([], "on")).rejects.toThrow(DroverError);
  await expect(svc.run(["n1"], "on", { pxe: true })).rejects.toThrow(/--pxe goes with 'power cycle'/);
  await expect(svc.run(["n1"], "on", { fanout: 0 })).rejects.toThrow(/--fanout/);
  expect(ipmi.seen).toEqual([]);
});

test("plan describes without running, and carries the reason a node cannot run", () => {
  const ipmi = recorder(() => "ok");
  const svc = new PowerService(source, { drivers: { ipmi: ipmi.d } });
  const plan = svc.plan(["n*"], "status");
  expect(plan.map((p) => [p.node, p.commands.length, !!p.error])).toEqual([
    ["n1", 1, false],
    ["n2", 1, false],
    ["n3", 0, true],
    ["n4", 0, true],
  ]);
  expect(plan[0]!.commands).toEqual(["ipmi status 10.0.0.1"]);
  // n2 uses the real Redfish driver's plan: the requests it would send, the password masked.
  expect(plan[1]!.commands[0]).toContain("GET https://10.0.0.2/redfish/v1/Systems (user u, password ********)");
  expect(ipmi.seen).toEqual([]);
});

test("the stagger goes through the injected sleep, once between consecutive starts", async () => {
  const slept: number[] = [];
  const ipmi = recorder(() => "ok");
  const svc = new PowerService(source, { drivers: { ipmi: ipmi.d, redfish: ipmi.d }, sleep: async (ms) => void slept.push(ms) });
  await svc.run(["n1", "n2"], "on", { staggerMs: 300 });
  expect(slept).toEqual([300]);
});

test("console: IPMI only, one node, password in the environment", () => {
  const svc = new PowerService(source);
  const c = svc.console("n1");
  expect(c.argv.slice(-2)).toEqual(["sol", "activate"]);
  expect(c.env).toEqual({ IPMI_PASSWORD: "SeCrEt" });
  expect(c.display).not.toContain("SeCrEt");
  expect(() => svc.console("n2")).toThrow(/Redfish BMC/);
  expect(() => svc.console("n3")).toThrow(/BMC type 'none'/);
});
