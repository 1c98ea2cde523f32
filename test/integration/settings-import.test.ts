import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli";

// `drover settings import` while `drover serve` runs on the same data dir (from source, loopback only): the
// import saves the settings and signals the server (SIGHUP), which puts them into effect and logs it.
const main = join(import.meta.dir, "../../src/main.ts");
const t = tempDir("drover-import-");
afterAll(() => t.cleanup());

test("a running drover serve takes the imported settings at once (SIGHUP reload)", { timeout: 30_000 }, async () => {
  const data = join(t.dir, "data");
  const env = { PATH: process.env.PATH!, HOME: t.dir };
  const proc = Bun.spawn([process.execPath, main, "-d", data, "serve", "--port", "0", "--listen", "127.0.0.1", "--tftp-port", "0"], {
    env,
    stdout: "ignore",
    stderr: "pipe",
  });
  let log = "";
  void (async () => {
    const r = proc.stderr.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      log += new TextDecoder().decode(value);
    }
  })();
  const wait = async (re: RegExp) => {
    const end = Date.now() + 20_000;
    while (!re.test(log)) {
      if (proc.exitCode !== null || Date.now() > end) throw new Error(`no ${re} in:\n${log}`);
      await Bun.sleep(30);
    }
  };
  try {
    await wait(/DHCP is off until/);
    writeFileSync(join(t.dir, "warewulf.conf"), "warewulf:\n  update interval: 17\n");
    const r = Bun.spawnSync([process.execPath, main, "-d", data, "settings", "import", join(t.dir, "warewulf.conf")], { env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(
      new RegExp(`the drover serve running on this data dir \\(PID ${proc.pid}\\) was told to put them into effect \\(SIGHUP\\)`),
    );
    await wait(/saved settings reloaded \(changed by settings import \([^)]*\)\): pollSeconds: \(default\) → 17/);
    expect(proc.exitCode).toBeNull(); // SIGHUP reloads, it does not stop the server
  } finally {
    proc.kill("SIGKILL");
  }
});
