import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { drover, tempDir } from "../helpers/cli";
import { type RedfishLab, haveOpenssl, startRedfishLab } from "../helpers/redfish-server";

/**
 * `drover power` against simulated Redfish BMCs over real HTTPS on loopback (test/helpers/redfish-server.ts):
 * certificate checks, each verb, --pxe, --show, and failures that name the node.
 */
const PASSWORD = "Rf-s3cret-pw";
const skip = !haveOpenssl();
if (skip) console.warn("power-redfish: skipped: needs openssl to make the BMCs' certificate (apt-get install openssl)");

describe.skipIf(skip)("power over Redfish", () => {
  let lab: RedfishLab;
  let dir: string;
  let cleanup: () => void;

  beforeAll(async () => {
    lab = await startRedfishLab({ count: 4, username: "root", password: PASSWORD });
    ({ dir, cleanup } = tempDir());
    // rf1..rf3 trust the BMC's self-signed certificate; strict does not.
    const add = await drover(
      dir,
      "node",
      "add",
      "rf[1-3]",
      "--ipmiaddr",
      "127.0.0.1",
      "--ipmiport",
      String(lab.port),
      "--ipmiuser",
      "root",
      "--ipmipass",
      PASSWORD,
      "--bmctype",
      "redfish",
      "--bmcinsecure",
    );
    expect(add.code).toBe(0);
    const strict = await drover(
      dir,
      "node",
      "add",
      "strict",
      "--ipmiaddr",
      "127.0.0.4",
      "--ipmiport",
      String(lab.port),
      "--ipmiuser",
      "root",
      "--ipmipass",
      PASSWORD,
      "--bmctype",
      "redfish",
    );
    expect(strict.code).toBe(0);
  });
  afterAll(async () => {
    await lab?.stop();
    cleanup?.();
  });

  test("a self-signed certificate is refused unless the node says --bmcinsecure, with the flag named", async () => {
    const r = await drover(dir, "power", "status", "strict");
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("FAILED");
    expect(r.out).toContain("--bmcinsecure");
    expect(r.err).toContain("strict");
    expect(lab.systems.get("127.0.0.4")!.resets).toEqual([]);

    const ok = await drover(dir, "power", "status", "rf1");
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/rf1\s+redfish\s+off/);
  });

  test("each verb sends its ResetType and status reads PowerState", async () => {
    const sys = lab.systems.get("127.0.0.1")!;
    const expected: [string, string, "On" | "Off"][] = [
      ["on", "On", "On"],
      ["soft", "GracefulShutdown", "Off"],
      ["on", "On", "On"],
      ["reset", "ForceRestart", "On"],
      ["cycle", "PowerCycle", "On"],
      ["off", "ForceOff", "Off"],
    ];
    for (const [verb, resetType, state] of expected) {
      const before = sys.resets.length;
      const r = await drover(dir, "power", verb, "rf1");
      expect({ verb, code: r.code, err: r.err }).toEqual({ verb, code: 0, err: "" });
      expect(sys.resets.slice(before)).toEqual([resetType]);
      const st = await drover(dir, "power", "status", "rf1", "--json");
      expect(JSON.parse(st.out)).toEqual([{ node: "rf1", bmc: "redfish", ok: true, state: state.toLowerCase(), message: `PowerState ${state}` }]);
    }
  });

  test("cycle --pxe sets a one-time PXE boot override before the cycle", async () => {
    const sys = lab.systems.get("127.0.0.2")!;
    const r = await drover(dir, "power", "cycle", "rf2", "--pxe");
    expect(r.code).toBe(0);
    expect(sys.bootTarget).toBe("Pxe");
    expect(sys.bootEnabled).toBe("Once");
    expect(sys.resets).toEqual(["PowerCycle"]);
    const patchAt = lab.requests.findIndex((q) => q.address === "127.0.0.2" && q.method === "PATCH");
    const postAt = lab.requests.findIndex((q) => q.address === "127.0.0.2" && q.method === "POST");
    expect(patchAt).toBeGreaterThan(-1);
    expect(patchAt).toBeLessThan(postAt);
  });

  test("a BMC without PowerCycle is cycled with ForceOff then On", async () => {
    const sys = lab.systems.get("127.0.0.3")!;
    sys.noPowerCycle = true;
    sys.powerState = "On";
    const r = await drover(dir, "power", "cycle", "rf3");
    expect(r.code).toBe(0);
    expect(sys.resets).toEqual(["ForceOff", "On"]);
    sys.noPowerCycle = false;
  });

  test("--pxe only goes with cycle", async () => {
    const r = await drover(dir, "power", "on", "rf1", "--pxe");
    expect(r.code).not.toBe(0);
  });

  test("--show prints the requests without sending any, password masked", async () => {
    const n = lab.requests.length;
    const r = await drover(dir, "power", "cycle", "rf[1-3]", "--pxe", "--show");
    expect(r.code).toBe(0);
    expect(lab.requests.length).toBe(n);
    expect(r.out).toContain(`https://127.0.0.2:${lab.port}`);
    expect(r.out).toContain("BootSourceOverrideTarget");
    expect(r.out).toContain("PowerCycle");
    expect(r.out).toContain("********");
    expect(r.out + r.err).not.toContain(PASSWORD);
  });

  test("a wrong password fails clearly and the password never shows", async () => {
    const set = await drover(dir, "node", "set", "rf3", "--ipmipass", "not-the-password");
    expect(set.code).toBe(0);
    const r = await drover(dir, "power", "on", "rf[1-3]");
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/rf3\s+redfish\s+FAILED\s+.*401/);
    expect(r.out).toMatch(/rf1\s+redfish\s+ok/);
    expect(r.err).toContain("failed on 1 of 3 nodes: rf3");
    expect(r.out + r.err).not.toContain("not-the-password");
    expect(r.out + r.err).not.toContain(PASSWORD);
    await drover(dir, "node", "set", "rf3", "--ipmipass", PASSWORD);
  });

  test("a BMC error message is reported per node", async () => {
    lab.systems.get("127.0.0.2")!.failWith = 500;
    const r = await drover(dir, "power", "status", "rf[1-2]", "--json");
    lab.systems.get("127.0.0.2")!.failWith = undefined;
    expect(r.code).not.toBe(0);
    const rows = JSON.parse(r.out) as { node: string; ok: boolean; message: string }[];
    expect(rows.map((x) => [x.node, x.ok])).toEqual([
      ["rf1", true],
      ["rf2", false],
    ]);
    expect(rows[1]!.message).toContain("HTTP 500");
    expect(rows[1]!.message).toContain("simulated BMC failure");
  });

  test("node sensors reads Redfish Thermal", async () => {
    const r = await drover(dir, "node", "sensors", "rf1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/rf1\s+CPU1 Temp\s+41\s+degrees C\s+OK/);
    expect(r.out).toMatch(/rf1\s+FAN1\s+5400\s+RPM\s+OK/);
  });

  test("console is refused for Redfish BMCs with what to do instead", async () => {
    const r = await drover(dir, "node", "console", "rf1");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--bmctype ipmi");
  });
});
