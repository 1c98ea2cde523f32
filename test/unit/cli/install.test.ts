import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemdUnit } from "../../../src/cli/install";
import { drover, tempDir } from "../../helpers/cli";

const t = tempDir("drover-install-");
afterAll(() => t.cleanup());
const units = join(t.dir, "units");
const bin = join(t.dir, "bin/drover");
const data = join(t.dir, "state");
mkdirSync(join(t.dir, "bin"));
writeFileSync(bin, "#!/bin/sh\n");
chmodSync(bin, 0o755);

/** systemd-analyze verify (apt: systemd) checks the unit offline: keys, ExecStart, the executable's presence. */
const analyze = Bun.which("systemd-analyze");

test("'drover install' writes a Type=notify unit with the serve arguments, a 0700 data dir, and says how to start it", async () => {
  mkdirSync(data, { mode: 0o755 });
  const r = await drover(data, "install", "--unit-dir", units, "--bin", bin, "--", "-i", "eth1", "--register-pattern", "n[001-099]", "--discovery");
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  const unit = readFileSync(join(units, "drover.service"), "utf8");
  expect(unit).toContain("Type=notify\n");
  expect(unit).toContain("WatchdogSec=30s\n");
  expect(unit).toContain(`ExecStart=${bin} -d ${data} serve -i eth1 --register-pattern "n[001-099]" --discovery\n`);
  expect(unit).toContain("ExecReload=/bin/kill -HUP $MAINPID\n");
  expect(statSync(data).mode & 0o777).toBe(0o700);
  expect(r.out).toContain("systemctl daemon-reload\n  systemctl enable --now drover\n");
  expect(r.out).toContain(`admin password is in ${join(data, "admin-password")}`);
  // Once there, it is not replaced by accident.
  const again = await drover(data, "install", "--unit-dir", units, "--bin", bin);
  expect(again.code).toBe(2);
  expect(again.err).toContain("exists; give --force");
});

test.skipIf(!analyze)("systemd-analyze verify accepts the unit (for /var/lib/drover: StateDirectory=drover, mode 0700)", () => {
  const dir = join(t.dir, "verify");
  mkdirSync(dir);
  writeFileSync(
    join(dir, "drover.service"),
    systemdUnit({ bin, dataDir: "/var/lib/drover", serveArgs: ["-i", "eth1", "--dns", "10.0.0.53", "--relay-subnet", "10.1.0.0/24,router=10.1.0.1", "a b$%"] }),
  );
  expect(readFileSync(join(dir, "drover.service"), "utf8")).toContain("StateDirectory=drover\nStateDirectoryMode=0700\n");
  const v = Bun.spawnSync([analyze!, "verify", "--man=no", join(dir, "drover.service")], { stderr: "pipe", stdout: "pipe" });
  expect({ code: v.exitCode, out: v.stdout.toString() + v.stderr.toString() }).toEqual({ code: 0, out: "" });
  // A broken unit is not accepted silently: the check can fail.
  writeFileSync(join(dir, "drover.service"), systemdUnit({ bin: join(t.dir, "missing"), dataDir: "/var/lib/drover", serveArgs: [] }));
  expect(Bun.spawnSync([analyze!, "verify", "--man=no", join(dir, "drover.service")], { stderr: "pipe" }).exitCode).not.toBe(0);
});

// Starting the unit needs systemd as PID 1; the test machines (containers) do not run it, so the unit is
// checked by systemd-analyze and sd_notify by test/integration/operations.test.ts's own notify socket.
if (!existsSync("/run/systemd/system")) console.warn("install.test: not starting the unit: systemd is not PID 1 on this machine");

test("'drover uninstall' removes the unit and the executable, keeps the data dir", async () => {
  const r = await drover(data, "uninstall", "--unit-dir", units, "--bin", bin);
  expect(r.code).toBe(0);
  expect(existsSync(join(units, "drover.service"))).toBe(false);
  expect(existsSync(bin)).toBe(false);
  expect(existsSync(data)).toBe(true);
  expect(r.out).toContain(`kept the data dir ${data}`);
  expect((await drover(data, "uninstall", "--unit-dir", units)).code).toBe(3);
});
