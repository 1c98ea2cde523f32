import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type RedfishLab, haveOpenssl, startRedfishLab } from "../../helpers/redfish-server";
import { type Harness, harness } from "./harness";

/**
 * Power for the page: jobs that report each node as it finishes, and the last known power state with its age.
 * The BMCs are test/helpers/redfish-server.ts on loopback (real HTTPS), held 150 ms per request and started
 * 100 ms apart so a job is seen half done.
 */
const skip = !haveOpenssl();
if (skip) console.warn("api power jobs: skipped: needs openssl for the simulated BMCs' certificate (apt-get install openssl)");

let h: Harness;
let lab: RedfishLab;
const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as any });

beforeAll(async () => {
  if (skip) return;
  h = await harness();
  lab = await startRedfishLab({ count: 3, username: "root", password: "pw-Rf1", delayMs: 150 });
  const set = { ipmi: { ipaddr: "127.0.0.1", port: lab.port, username: "root", password: "pw-Rf1", type: "redfish", insecure: true } };
  expect((await h.req("POST", "/nodes", { names: "b[1-3]", set })).status).toBe(201);
  expect((await h.req("POST", "/nodes", { names: "nobmc" })).status).toBe(201);
});
afterAll(async () => {
  await lab?.stop();
  h?.cleanup();
});

async function follow(id: string) {
  const seen: number[] = [];
  for (let i = 0; i < 200; i++) {
    const j = (await json(await h.req("GET", `/power-jobs/${id}`))).body;
    seen.push(j.done);
    if (j.state === "done") return { job: j, seen };
    await Bun.sleep(20);
  }
  throw new Error(`power job ${id} did not finish`);
}

describe.skipIf(skip)("power jobs", () => {
  test("a job answers 202 with its nodes, counts them as they finish, and ends with one result per node in order", async () => {
    const r = await json(await h.req("POST", "/power-jobs", { action: "cycle", nodes: "b[1-3],nobmc", pxe: true, staggerMs: 100 }));
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ action: "cycle", pxe: true, staggerMs: 100, nodes: ["b1", "b2", "b3", "nobmc"], total: 4, state: "running", user: "admin" });
    // The cheap poll: counts without the node list and results.
    const light = (await json(await h.req("GET", `/power-jobs/${r.body.id}?results=false`))).body;
    expect(light).toMatchObject({ id: r.body.id, total: 4 });
    expect(light.results).toBeUndefined();
    expect(light.nodes).toBeUndefined();
    const { job, seen } = await follow(r.body.id);
    expect(job.failed).toBe(1);
    // Progress was reported part way (neither nothing nor everything).
    expect(seen.some((d) => d > 0 && d < 4)).toBe(true);
    expect(job.done).toBe(4);
    expect(job.results.map((x: any) => [x.node, x.ok])).toEqual([
      ["b1", true],
      ["b2", true],
      ["b3", true],
      ["nobmc", false],
    ]);
    expect(job.results[3].message).toContain("--ipmiaddr");
    for (const a of ["127.0.0.1", "127.0.0.2", "127.0.0.3"]) {
      expect(lab.systems.get(a)!.bootTarget).toBe("Pxe");
      expect(lab.systems.get(a)!.resets).toEqual(["PowerCycle"]);
    }
    expect(JSON.stringify(job)).not.toContain("pw-Rf1");
  });

  test("bad requests are refused before anything runs: --pxe with another action, an unknown node, an unknown action", async () => {
    let r = await json(await h.req("POST", "/power-jobs", { action: "on", nodes: "b1", pxe: true }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("--pxe goes with 'power cycle'");
    r = await json(await h.req("POST", "/power-jobs", { action: "on", nodes: "zz9" }));
    expect(r.status).toBe(404);
    r = await json(await h.req("POST", "/power-jobs", { action: "explode", nodes: "b1" }));
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("body.action");
    expect((await h.req("GET", "/power-jobs/nope")).status).toBe(404);
    expect(lab.systems.get("127.0.0.1")!.resets).toEqual(["PowerCycle"]);
  });

  test("power states: what status read and when, an action sent since, a failed status without a state", async () => {
    let s = (await json(await h.req("GET", "/power/states"))).body;
    // The cycle above was an action, not a status: no state is claimed, only that a cycle was sent.
    expect(s.states.b1.state).toBeUndefined();
    expect(s.states.b1.lastAction).toMatchObject({ action: "cycle", ok: true });
    const before = Date.now();
    const { job } = await follow((await json(await h.req("POST", "/power-jobs", { action: "status", nodes: "b1,b2,nobmc" }))).body.id);
    expect(job.results.map((x: any) => x.state)).toEqual(["on", "on", undefined]);
    s = (await json(await h.req("GET", "/power/states"))).body;
    expect(s.states.b1).toMatchObject({ state: "on", ok: true });
    expect(s.states.b1.at).toBeGreaterThanOrEqual(before);
    expect(s.now).toBeGreaterThanOrEqual(s.states.b1.at);
    expect(s.states.nobmc).toMatchObject({ ok: false });
    expect(s.states.nobmc.state).toBeUndefined();
    expect(s.states.b3.state).toBeUndefined();
    // The synchronous route records too: an off after the status is an action newer than the reading.
    const off = await json(await h.req("POST", "/power/off", { nodes: "b2" }));
    expect(off.body).toEqual([expect.objectContaining({ node: "b2", ok: true })]);
    s = (await json(await h.req("GET", "/power/states"))).body;
    expect(s.states.b2).toMatchObject({ state: "on", lastAction: { action: "off", ok: true } });
    expect(s.states.b2.lastAction.at).toBeGreaterThanOrEqual(s.states.b2.at);
  });

  test("a viewer can follow jobs and read states but not start a job", async () => {
    await h.auth.setPassword("ops", "viewer pass 1", "viewer");
    const v = await h.login("ops", "viewer pass 1");
    expect((await h.req("POST", "/power-jobs", { action: "status", nodes: "b1" }, v)).status).toBe(403);
    expect((await h.req("GET", "/power/states", undefined, v)).status).toBe(200);
  });
});
