// bench/ui.ts: the web page and the API with 10,000 nodes.
// Figures: GET /api/v1/nodes over a loopback socket (first answer after a change, and steady state), and the
// time until the nodes page is interactive in headless Chromium (navigation start → rows rendered and the
// filter narrowing them). Targets (issue 6): page ≤ 1 s, /api/v1/nodes ≤ 200 ms.
// Usage: bun bench/ui.ts [COUNT]   (needs /usr/bin/chromium for the page figure)
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiDeps, createServices } from "../src/app";
import { createApp } from "../src/http/app";
import { AuthService } from "../src/services/auth";
import { sqliteAuthStore } from "../src/store/auth-store";
import { ServeSettings, memorySettingsStorage } from "../src/config/settings";

const COUNT = Number(process.argv[2] ?? 10_000);
const CHROMIUM = "/usr/bin/chromium";
const dir = mkdtempSync(join(tmpdir(), "drover-bench-ui-"));
const svc = createServices(dir);
const auth = new AuthService(sqliteAuthStore(svc.store.db));
await auth.setPassword("admin", "bench-password");
const names = Array.from({ length: COUNT }, (_, i) => `n${String(i + 1).padStart(5, "0")}`);
let t = performance.now();
svc.nodes.addNodes(names, { set: { networkDevices: { default: { ipaddr: "10.0.0.1", netmask: "255.255.0.0" } } } });
console.log(`added ${COUNT} nodes in ${Math.round(performance.now() - t)} ms`);
for (let i = 0; i < COUNT; i += 3) svc.bootState.record({ node: names[i]!, mac: "52:54:00:00:00:00", stage: i % 2 ? "booted" : "kernel", at: Date.now() });

const app = createApp({
  startedAt: new Date(),
  stats: () => svc.nodes.counts(),
  services: () => ({}),
  api: apiDeps(svc, {
    auth,
    settings: new ServeSettings({ flags: {}, explicit: new Set(), dataDir: svc.dataDir, storage: memorySettingsStorage() }),
    version: "bench",
  }),
});
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch, idleTimeout: 0 });
const base = `http://127.0.0.1:${server.port}`;
const login = await fetch(`${base}/api/v1/auth/login`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ user: "admin", password: "bench-password" }),
});
const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
const { csrf } = (await login.json()) as { csrf: string };

const timeGet = async (path: string) => {
  const t0 = performance.now();
  const r = await fetch(`${base}${path}`, { headers: { cookie } });
  const body = await r.arrayBuffer();
  return { ms: performance.now() - t0, bytes: body.byteLength, status: r.status };
};
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cold = await timeGet("/api/v1/nodes");
const warm: number[] = [];
for (let i = 0; i < 20; i++) warm.push((await timeGet("/api/v1/nodes")).ms);
await fetch(`${base}/api/v1/nodes/${names[5]}`, {
  method: "PATCH",
  headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json" },
  body: JSON.stringify({ set: { comment: "changed" } }),
});
const afterChange = await timeGet("/api/v1/nodes");
const status: number[] = [];
for (let i = 0; i < 10; i++) status.push((await timeGet("/api/v1/status/nodes")).ms);
console.log(
  `GET /api/v1/nodes (${COUNT} nodes, ${(cold.bytes / 1024).toFixed(0)} KiB): first ${cold.ms.toFixed(0)} ms, steady median ${median(warm).toFixed(1)} ms, after one node changed ${afterChange.ms.toFixed(0)} ms (target ≤ 200 ms)`,
);
console.log(`GET /api/v1/status/nodes: median ${median(status).toFixed(1)} ms`);

if (!existsSync(CHROMIUM)) {
  console.log(`page: skipped, ${CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)`);
} else {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "drover-bench-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  await ctx.addCookies([{ name: "drover_session", value: cookie.split("=")[1]!, url: base, httpOnly: true, sameSite: "Strict" }]);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.goto("about:blank");
    await page.goto(`${base}/ui/#/nodes`);
    // Interactive: the last node can be found with the filter, and the table shows it.
    await page.locator(`[data-node="${names[0]}"]`).waitFor();
    await page.getByLabel("filter nodes").fill(names[COUNT - 1]!);
    await page.locator(`[data-node="${names[COUNT - 1]}"]`).waitFor();
    runs.push(await page.evaluate(() => performance.now()));
    const rows = await page.locator("[data-node]").count();
    if (rows !== 1) throw new Error(`filter left ${rows} rows`);
  }
  const domRows = await (async () => {
    await page.getByLabel("filter nodes").fill("");
    return page.locator("[data-node]").count();
  })();
  console.log(
    `nodes page interactive (navigation → rows rendered → filter answered): median ${median(runs).toFixed(0)} ms of 5 loads, rows in the DOM: ${domRows} of ${COUNT} (target ≤ 1000 ms)`,
  );
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
server.stop(true);

// The first request to a freshly started `drover serve` (from source, same runtime as dist/drover) over the
// same data dir: right when HTTP answers (racing the start-up warm-up), and 3 s after start.
const token = auth.createToken("bench").token;
async function firstAfterStart(waitMs: number): Promise<number> {
  // A fixed port, as in production (with --port 0 drover learns its port only after listening).
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const fixed = probe.port;
  probe.stop(true);
  const p = Bun.spawn(["bun", join(import.meta.dir, "../src/main.ts"), "-d", dir, "serve", "--port", String(fixed), "--listen", "127.0.0.1", "--no-tftp"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  try {
    const reader = p.stderr.getReader();
    let log = "";
    let port = 0;
    while (!port) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`drover serve exited: ${log}`);
      log += new TextDecoder().decode(value);
      port = Number(/HTTP on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1] ?? 0);
    }
    if (waitMs) await Bun.sleep(waitMs);
    const t0 = performance.now();
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`GET /api/v1/nodes: ${r.status}`);
    return performance.now() - t0;
  } finally {
    p.kill("SIGTERM");
    await p.exited;
  }
}
const atOnce: number[] = [];
const later: number[] = [];
for (let i = 0; i < 3; i++) {
  atOnce.push(await firstAfterStart(0));
  later.push(await firstAfterStart(3000));
}
console.log(
  `GET /api/v1/nodes, first request to a fresh drover serve: as soon as HTTP answers median ${median(atOnce).toFixed(0)} ms, 3 s after start median ${median(later).toFixed(0)} ms (3 starts each; target ≤ 200 ms)`,
);
svc.close();
rmSync(dir, { recursive: true, force: true });
