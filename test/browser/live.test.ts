import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { formatProgress } from "../../src/domain/stream-progress";
import { type Harness, PASSWORD, harness } from "../unit/api/harness";
import { CHROMIUM, CHROMIUM_ARGS, missing } from "./browser";

/**
 * Honest live status on the nodes page, in headless Chromium against an in-process server on loopback:
 * overdue with no new event, stuck stages, the rack grid's colours, the MAC column, stream progress, the
 * banner while the server is away and the catch-up after, a viewer's page, and no request off the server.
 */

let h: Harness;
let server: ReturnType<typeof Bun.serve>;
let port = 0;
let ctx: BrowserContext;
let page: Page;
let profile: string;
let closing = false;
const shots = process.env.DROVER_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "drover-shots-"));
const offsite: string[] = [];
let base = "";
const MiB = 1048576;

const serve = () => Bun.serve({ port, hostname: "127.0.0.1", fetch: h.app.fetch, idleTimeout: 0 });
const ev = (node: string, stage: string, at = Date.now(), detail?: string) =>
  h.svc.bootState.record({ node, mac: "", stage, at, ...(detail ? { detail } : {}) });

beforeAll(async () => {
  if (missing) return;
  h = await harness();
  Object.defineProperty(h.clock, "now", { get: () => Date.now() });
  // A short heartbeat interval: overdue after 3 missed = 3 s.
  h.svc.bootStatus.heartbeatSeconds = 1;
  await h.auth.setPassword("ops", PASSWORD, "viewer");
  expect((await h.req("POST", "/nodes", { names: "r[001-240]" })).status).toBe(201);
  expect((await h.req("POST", "/nodes", { names: "mac01", set: { networkDevices: { default: { hwaddr: "52:54:00:ab:cd:ef" } } } })).status).toBe(201);
  const now = Date.now();
  for (let i = 1; i <= 40; i++) ev(`r${String(i).padStart(3, "0")}`, "booted", now);
  for (let i = 41; i <= 100; i++) {
    ev(`r${String(i).padStart(3, "0")}`, "booted", now);
    ev(`r${String(i).padStart(3, "0")}`, "heartbeat", now + 60_000); // agent up (fresh: a minute ahead keeps it so)
  }
  for (let i = 101; i <= 130; i++) ev(`r${String(i).padStart(3, "0")}`, "kernel", now + 600_000);
  for (let i = 131; i <= 140; i++) ev(`r${String(i).padStart(3, "0")}`, "error", now, "no image");
  ev("r141", "image", now + 600_000, formatProgress({ format: "zstd", bytes: 41 * MiB, total: 100 * MiB, rate: 5 * MiB }));
  ev("r142", "image", now - 120_000, formatProgress({ format: "zstd", bytes: 10 * MiB, total: 100 * MiB, rate: 5 * MiB })); // stuck
  server = serve();
  port = server.port!;
  base = `http://127.0.0.1:${port}`;
  const { chromium } = await import("playwright-core");
  profile = mkdtempSync(join(tmpdir(), "drover-chromium-"));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  // A step that waits fails on its own, naming what it waited for, well inside the test's time.
  page.setDefaultTimeout(10_000);
  page.on("crash", () => console.error("chromium: the page crashed"));
  ctx.on("close", () => closing || console.error("chromium: the browser went away before the tests ended"));
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) offsite.push(r.url());
  });
  mkdirSync(shots, { recursive: true });
}, 60_000);

afterAll(async () => {
  if (missing) return;
  closing = true;
  await ctx?.close();
  server?.stop(true);
  h?.cleanup();
  rmSync(profile, { recursive: true, force: true });
});

async function login(user: string) {
  await page.goto(`${base}/ui/`);
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("[data-live=true]").waitFor();
}

test.skipIf(!!missing)(
  "stream progress and a stuck stage are shown; the MAC column is not clipped",
  async () => {
    await login("admin");
    await page.getByLabel("filter nodes").fill("r14");
    await expect(page.locator('[data-node="r141"]').textContent()).resolves.toContain("image 41% · 5.0 MiB/s");
    await page.locator('[data-node="r142"] [data-stuck]').waitFor();
    expect(await page.locator('[data-node="r142"]').textContent()).toContain("stuck");
    expect(await page.locator('[data-node="r141"] [data-stuck]').count()).toBe(0);
    await page.getByLabel("filter nodes").fill("");
    writeFileSync(join(shots, "nodes-table.png"), await page.screenshot());
    await page.getByLabel("filter nodes").fill("mac01");
    const mac = page.locator('[data-node="mac01"] .mac');
    expect(await mac.textContent()).toBe("52:54:00:ab:cd:ef");
    const fit = await mac.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(fit.scroll).toBeLessThanOrEqual(fit.client);
    await page.getByLabel("filter nodes").fill("");
  },
  30_000,
);

test.skipIf(!!missing)(
  "an agent-up node turns overdue with no new event",
  async () => {
    ev("mac01", "booted");
    ev("mac01", "heartbeat");
    await page.getByLabel("filter nodes").fill("mac01");
    await page.locator('[data-node="mac01"] [data-state="booted"]').waitFor();
    const t0 = Date.now();
    await page.locator('[data-node="mac01"] [data-state="overdue"]').waitFor({ timeout: 10_000 });
    expect(Date.now() - t0).toBeGreaterThan(1500); // 3 heartbeats of 1 s: not at once
    expect(await page.locator('[data-node="mac01"]').textContent()).toContain("no heartbeat for");
    // "last seen" moves on by itself too.
    const a = await page.locator('[data-node="mac01"] [data-ago]').textContent();
    await page.waitForTimeout(2100);
    expect(await page.locator('[data-node="mac01"] [data-ago]').textContent()).not.toBe(a);
    await page.getByLabel("filter nodes").fill("");
  },
  30_000,
);

test.skipIf(!!missing)(
  "the grid shows every node, coloured by state like the chips; a cell opens its node",
  async () => {
    await page.getByRole("button", { name: "Grid", exact: true }).click();
    const grid = page.getByRole("list", { name: "nodes by state" });
    await grid.waitFor();
    expect(await grid.locator(".cell").count()).toBe(241);
    const counts = await grid.evaluate((g) => {
      const c: Record<string, number> = {};
      g.querySelectorAll<HTMLElement>(".cell").forEach((el) => void (c[el.dataset.cls!] = (c[el.dataset.cls!] ?? 0) + 1));
      return c;
    });
    // mac01 is overdue by now; the agent-up nodes' heartbeats are a minute ahead; the booting ones ten minutes.
    expect(counts).toEqual({ booted: 40, agent: 60, booting: 32, error: 10, overdue: 1, never: 98 });
    const colours = await page.evaluate(() => {
      const out: Record<string, [string, string]> = {};
      for (const cls of ["booted", "agent", "booting", "overdue", "error", "never"]) {
        const cell = document.querySelector<HTMLElement>(`.grid .cell[data-cls="${cls}"]:not(.stuck)`)!;
        const dot = document.querySelector<HTMLElement>(`[data-chip="${cls}"] .dot`)!;
        out[cls] = [getComputedStyle(cell).backgroundColor, getComputedStyle(dot).backgroundColor];
      }
      return out;
    });
    for (const [cls, [cell, dot]] of Object.entries(colours)) expect({ cls, cell }).toEqual({ cls, cell: dot });
    for (const [cls, n] of [
      ["booted", 40],
      ["agent", 60],
      ["never", 98],
    ] as const)
      expect(await page.locator(`[data-chip="${cls}"]`).textContent()).toEndWith(` ${n}`);
    expect(new Set(Object.values(colours).map(([c]) => c)).size).toBe(6);
    expect(await grid.locator(".cell.stuck").count()).toBe(1);
    writeFileSync(join(shots, "nodes-grid.png"), await page.screenshot());
    await grid.locator('[data-node="r131"]').click();
    await page.getByRole("heading", { name: /r131/ }).waitFor();
    await page.goBack();
    await grid.waitFor();
  },
  30_000,
);

test.skipIf(!!missing)(
  "a banner while the server is away; the list catches up when it is back",
  async () => {
    server.stop(true);
    await page.locator("[data-lost]").waitFor({ timeout: 15_000 });
    writeFileSync(join(shots, "nodes-lost.png"), await page.screenshot());
    // Events while the page cannot hear them.
    ev("r200", "booted", Date.now() + 600_000);
    ev("r131", "kernel", Date.now() + 600_000);
    server = serve();
    await page.locator("[data-lost]").waitFor({ state: "detached", timeout: 20_000 });
    const grid = page.getByRole("list", { name: "nodes by state" });
    expect(await grid.locator('[data-node="r200"]').getAttribute("data-cls")).toBe("booted");
    expect(await grid.locator('[data-node="r131"]').getAttribute("data-cls")).toBe("booting");
    await page.locator("[data-live=true]").waitFor();
  },
  60_000,
);

test.skipIf(!!missing)(
  "a viewer sees the grid and the status but no edit controls; nothing was fetched off the server",
  async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await login("ops");
    await page.getByRole("list", { name: "nodes by state" }).waitFor();
    // The grid is drawn before the node list has arrived after a fresh login: wait for its last cell.
    await page.locator(".grid .cell").nth(240).waitFor();
    expect(await page.locator(".grid .cell").count()).toBe(241);
    expect(await page.getByRole("button", { name: "Add node" }).isVisible()).toBe(false);
    await page.getByRole("button", { name: "Table", exact: true }).click();
    await page.getByRole("checkbox", { name: "select r001" }).check();
    await page.getByRole("region", { name: "bulk actions" }).waitFor();
    expect(await page.getByRole("button", { name: "Delete" }).isVisible()).toBe(false);
    expect(await page.getByLabel("Set profile").isVisible()).toBe(false);
    expect(offsite).toEqual([]);
  },
  30_000,
);
