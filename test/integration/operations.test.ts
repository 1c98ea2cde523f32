import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli";
import { type NotifyListener, listenNotifySocket } from "../helpers/notify-socket";

// `drover serve` as systemd runs it (from source, loopback only): Type=notify readiness and watchdog over a
// NOTIFY_SOCKET this test listens on, one server per data dir, the first admin password in a 0600 file.
const main = join(import.meta.dir, "../../src/main.ts");
const t = tempDir("drover-ops-");
const data = join(t.dir, "data");
let notify: NotifyListener;
let proc: Subprocess<"ignore", "pipe", "pipe">;
let log = "";
let port = 0;

const serve = (env: Record<string, string> = {}) =>
  Bun.spawn([process.execPath, main, "-d", data, "serve", "--port", "0", "--listen", "127.0.0.1", "--tftp-port", "0"], {
    env: { PATH: process.env.PATH!, HOME: t.dir, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });

beforeAll(async () => {
  notify = listenNotifySocket(join(t.dir, "notify.sock"));
  proc = serve({ NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: "200000" });
  const reader = proc.stderr.getReader();
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      log += new TextDecoder().decode(value);
    }
  })();
  const end = Date.now() + 20_000;
  while (!/DHCP is off until/.test(log)) {
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`serve did not start:\n${log}`);
    await Bun.sleep(30);
  }
  port = Number(/HTTP on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)![1]);
});

afterAll(async () => {
  if (proc.exitCode === null) proc.kill("SIGKILL");
  notify.close();
  t.cleanup();
});

describe("drover serve under a service manager", () => {
  test("READY=1 with a status line once every server listens, then WATCHDOG=1 at half of WATCHDOG_USEC", async () => {
    const ready = await notify.waitFor(/READY=1/);
    expect(ready).toContain(`MAINPID=${proc.pid}`);
    expect(ready).toMatch(new RegExp(`STATUS=serving: HTTP :${port}, TFTP :\\d+, DHCP off`));
    await notify.waitFor(/^WATCHDOG=1$/, 2000);
    const n = notify.messages.filter((m) => m === "WATCHDOG=1").length;
    await Bun.sleep(450);
    expect(notify.messages.filter((m) => m === "WATCHDOG=1").length).toBeGreaterThan(n);
  });

  test("TFTP listens on the --listen address", () => {
    expect(log).toMatch(/drover: TFTP on 127\.0\.0\.1:\d+/);
  });

  test("the first admin password is in a 0600 file in the data dir, not in the log", async () => {
    const file = join(data, "admin-password");
    expect(log).toContain(`drover: created the web/API account 'admin'; its password is in ${file} (mode 0600)`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = readFileSync(file, "utf8").trim();
    expect(password.length).toBeGreaterThan(11);
    expect(log).not.toContain(password);
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "admin", password }),
    });
    expect(r.status).toBe(200);
  });

  test("a second server on the same data dir is refused, naming the holder's PID (exit 5)", async () => {
    const second = serve();
    expect(await second.exited).toBe(5);
    const err = await new Response(second.stderr).text();
    expect(err).toContain(`drover: another drover serve (PID ${proc.pid}) is running on data dir ${data} (lock ${join(data, "serve.lock")})`);
  });

  test("/healthz and /readyz answer 200 once serving; /metrics counts HTTP by route pattern and a real TFTP transfer", async () => {
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${port}/status`)).text();
    const tftpPort = Number(/drover: TFTP on 127\.0\.0\.1:(\d+)/.exec(log)![1]);
    const curl = Bun.which("curl");
    if (curl) expect(Bun.spawnSync([curl, "-sS", "-o", join(t.dir, "undionly.kpxe"), `tftp://127.0.0.1:${tftpPort}/undionly.kpxe`]).exitCode).toBe(0);
    // The transfer is counted when it ends (the data plane reports it a moment after curl has its last block).
    let text = "";
    for (let i = 0; i < 50; i++) {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (!curl || text.includes('drover_tftp_transfers_total{outcome="ok"} 1')) break;
      await Bun.sleep(50);
    }
    expect(text).toContain('drover_http_requests_total{code="200",method="GET",route="/status"} 3');
    expect(text).toContain('drover_http_requests_total{code="200",method="GET",route="/readyz"} 1');
    expect(text).toMatch(/drover_http_request_duration_seconds_count\{route="\/status"\} 3/);
    expect(text).toContain('drover_nodes{state="never seen"} 0');
    expect(text).toMatch(/\nprocess_resident_memory_bytes \d+/);
    if (curl) {
      expect(text).toContain('drover_tftp_transfers_total{outcome="ok"} 1');
      expect(text).toContain(`drover_tftp_bytes_total ${statSync(join(t.dir, "undionly.kpxe")).size}`);
    } else console.warn("operations.test: TFTP counters not checked: no curl (apt: curl)");
  });

  test("SIGTERM: STOPPING=1, exit 0, the lock is gone and a new server can start", async () => {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await notify.waitFor(/STOPPING=1/, 2000);
    expect(existsSync(join(data, "serve.lock"))).toBe(false);
  });
});
