import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { drover, tempDir } from "../helpers/cli";
import { type RedfishLab, haveOpenssl, startRedfishLab } from "../helpers/redfish-server";

/**
 * Fan-out against 200 simulated Redfish BMCs (one in-process HTTPS server on 127.0.0.1–127.0.0.200 that
 * counts requests in flight): never more than --fanout at once, starts in order and --stagger apart,
 * and one broken BMC neither stops the rest nor goes unreported.
 */
const PASSWORD = "fanout-pw";
const N = 200;
const skip = !haveOpenssl();
if (skip) console.warn("power-fanout: skipped: needs openssl to make the BMCs' certificate (apt-get install openssl)");

describe.skipIf(skip)("power fan-out over 200 BMCs", () => {
  let lab: RedfishLab;
  let dir: string;
  let cleanup: () => void;

  beforeAll(async () => {
    // Each request is held 10 ms so that operations overlap and the limit is what bounds them.
    lab = await startRedfishLab({ count: N, username: "admin", password: PASSWORD, delayMs: 10 });
    ({ dir, cleanup } = tempDir());
    const r = await drover(
      dir,
      "node",
      "add",
      "n[001-200]",
      "--ipmiaddr",
      "127.0.0.1",
      "--ipmiport",
      String(lab.port),
      "--ipmiuser",
      "admin",
      "--ipmipass",
      PASSWORD,
      "--bmctype",
      "redfish",
      "--bmcinsecure",
    );
    expect(r.code).toBe(0);
    // n050's BMC rejects drover's credentials.
    expect((await drover(dir, "node", "set", "n050", "--ipmipass", "wrong-one")).code).toBe(0);
  });
  afterAll(async () => {
    await lab?.stop();
    cleanup?.();
  });

  const reset = () => {
    lab.maxInFlight = 0;
    lab.requests.length = 0;
    for (const s of lab.systems.values()) s.resets.length = 0;
  };

  test("power cycle -a --fanout 10: at most 10 BMCs at once, all others done, the failure named", async () => {
    reset();
    const r = await drover(dir, "power", "cycle", "-a", "--fanout", "10", "--json");
    expect(lab.maxInFlight).toBeLessThanOrEqual(10);
    expect(lab.maxInFlight).toBeGreaterThan(1);
    expect(r.code).toBe(6);
    expect(r.err).toContain("failed on 1 of 200 nodes: n050");
    const rows = JSON.parse(r.out) as { node: string; ok: boolean }[];
    expect(rows.length).toBe(N);
    expect(rows.filter((x) => !x.ok).map((x) => x.node)).toEqual(["n050"]);
    const cycled = [...lab.systems.values()].filter((s) => s.resets.join() === "PowerCycle").map((s) => s.address);
    expect(cycled.length).toBe(N - 1);
    expect(cycled).not.toContain("127.0.0.50");
  });

  test("the counter does see concurrency: with --fanout 100 far more than 10 are in flight", async () => {
    reset();
    const r = await drover(dir, "power", "status", "n[001-200]", "--fanout", "100");
    expect(r.err).toContain("n050");
    expect(lab.maxInFlight).toBeGreaterThan(10);
    expect(lab.maxInFlight).toBeLessThanOrEqual(100);
  });

  test("--stagger: operations start in node order, spaced by at least the stagger", async () => {
    reset();
    const stagger = 25;
    const r = await drover(dir, "power", "on", "n[001-012]", "--stagger", String(stagger));
    expect(r.code).toBe(0);
    const firstSeen = new Map<string, number>();
    for (const q of lab.requests) if (!firstSeen.has(q.address)) firstSeen.set(q.address, q.at);
    const starts = [...firstSeen.entries()];
    expect(starts.map(([a]) => a)).toEqual(Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 1}`));
    // Arrival times at the BMCs: one request delayed on a loaded machine shortens the next gap without the
    // stagger being broken, so the whole span must hold the stagger 11 times over (a few ms of slack: timers
    // may fire a little early), and no two starts may come together.
    const span = starts.at(-1)![1] - starts[0]![1];
    expect(span).toBeGreaterThanOrEqual((starts.length - 1) * stagger - 5);
    for (let i = 1; i < starts.length; i++) expect(starts[i]![1] - starts[i - 1]![1]).toBeGreaterThan(stagger / 2);
  });

  test("fanout and stagger reject nonsense", async () => {
    expect((await drover(dir, "power", "on", "n001", "--fanout", "0")).code).toBe(2);
    expect((await drover(dir, "power", "on", "n001", "--stagger", "-3")).code).toBe(2);
  });
});
