import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IpmitoolDriver, type ProcessRunner, parseSensorList } from "../../../src/power/ipmitool";
import { type BmcTarget, PowerError } from "../../../src/power/types";

const target: BmcTarget = { node: "n7", type: "ipmi", address: "10.1.0.7", username: "root", password: "Hunter2!", insecure: false, tags: {} };

/** A fake ipmitool: records each call and answers from a script. */
function fake(answer: (argv: readonly string[]) => { code?: number; stdout?: string; stderr?: string; timedOut?: boolean }) {
  const calls: { argv: readonly string[]; env: Record<string, string> }[] = [];
  const runner: ProcessRunner = async (argv, env) => {
    calls.push({ argv, env });
    const a = answer(argv);
    return { code: a.code ?? 0, stdout: a.stdout ?? "", stderr: a.stderr ?? "", timedOut: a.timedOut ?? false };
  };
  return { calls, driver: new IpmitoolDriver(undefined, runner) };
}

test("the password goes in IPMI_PASSWORD, never on the command line", async () => {
  const f = fake(() => ({ stdout: "Chassis Power Control: Up/On\n", stderr: "Unable to Get Channel Cipher Suites\n" }));
  const r = await f.driver.run(target, "on", { timeoutMs: 1000 });
  expect(r.message).toBe("Chassis Power Control: Up/On");
  expect(f.calls[0]!.env).toEqual({ IPMI_PASSWORD: "Hunter2!" });
  expect(f.calls[0]!.argv).toContain("-E");
  expect(f.calls[0]!.argv.join(" ")).not.toContain("Hunter2!");
});

test("status parses the power state", async () => {
  const f = fake(() => ({ stdout: "Chassis Power is off\n" }));
  expect(await f.driver.run(target, "status", { timeoutMs: 1000 })).toEqual({ state: "off", message: "Chassis Power is off" });
});

test("cycle --pxe sets the boot device first, then cycles", async () => {
  const f = fake(() => ({ stdout: "ok\n" }));
  await f.driver.run(target, "cycle", { timeoutMs: 1000, pxe: true });
  expect(f.calls.map((c) => c.argv.slice(-3).join(" "))).toEqual(["chassis bootdev pxe", "chassis power cycle"]);
});

test("a rejected session is an auth failure with advice; an echoed password is masked", async () => {
  const f = fake(() => ({ code: 1, stderr: "Error: Unable to establish IPMI v2 / RMCP+ session (password Hunter2!)\n" }));
  const e = await f.driver.run(target, "on", { timeoutMs: 1000 }).catch((x) => x);
  expect(e).toBeInstanceOf(PowerError);
  expect(e.kind).toBe("auth");
  expect(e.message).toContain("--ipmipass");
  expect(e.message).not.toContain("Hunter2!");
});

test("a timeout says so", async () => {
  const f = fake(() => ({ code: 143, timedOut: true }));
  const e = await f.driver.run(target, "on", { timeoutMs: 2000 }).catch((x) => x);
  expect(e.kind).toBe("timeout");
  expect(e.message).toContain("within 2 s");
});

test("no password: refused before running ipmitool", async () => {
  const f = fake(() => ({}));
  const e = await f.driver.run({ ...target, password: undefined }, "on", { timeoutMs: 1000 }).catch((x) => x);
  expect(e.message).toContain("drover node set n7 --ipmipass");
  expect(f.calls.length).toBe(0);
});

test("plan masks the password", () => {
  const f = fake(() => ({}));
  const [p] = f.driver.plan(target, "off", {});
  expect(p!.display).toBe("IPMI_PASSWORD=******** ipmitool -I lanplus -H 10.1.0.7 -U root -E chassis power off");
});

test("ipmitool missing is a clear error", async () => {
  // A template whose program does not exist, through the real spawn runner.
  const dir = mkdtempSync(join(tmpdir(), "drover-tpl-"));
  try {
    writeFileSync(join(dir, "x.tmpl"), "base: drover-no-such-ipmitool -H {{ipaddr}} -E\n");
    const e = await new IpmitoolDriver(dir).run({ ...target, template: "x" }, "status", { timeoutMs: 5000 }).catch((x) => x);
    expect(e).toBeInstanceOf(PowerError);
    expect(e.kind).toBe("missing-tool");
    expect(e.message).toContain("apt-get install ipmitool");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sensor list parsing", () => {
  const rows = parseSensorList("CPU Temp         | 42.000     | degrees C  | ok    | na | na\nFAN1 | 5400.000 | RPM | ok | na\n\ngarbage\n");
  expect(rows).toEqual([
    { name: "CPU Temp", value: "42.000", unit: "degrees C", status: "ok" },
    { name: "FAN1", value: "5400.000", unit: "RPM", status: "ok" },
  ]);
});
