import { expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { type Harness, PASSWORD, harness } from "../unit/api/harness";

/**
 * One browser test file's setup (every story but ui.test.ts and live.test.ts, which build their own from
 * CHROMIUM, CHROMIUM_ARGS and saveScreenshot): Debian's Chromium, headless, with every flag that keeps it off
 * the internet and a fresh profile, against an in-process server on loopback. Screenshots are kept as test
 * artifacts in DROVER_SCREENSHOTS (default test/.work/screenshots/, ignored by git) and checked for content.
 * Every request off the server, page error and console error is collected in `problems` (the refusals a test
 * provokes on purpose are not; see `BrowserOptions.provoked`).
 */
export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];
export const missing = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium` : undefined;
export const SHOTS = process.env.DROVER_SCREENSHOTS ?? join(import.meta.dir, "../.work/screenshots");

export interface BrowserOptions {
  colorScheme?: "light" | "dark";
  /** Default en-US, a 12-hour locale: the page must show 24-hour times whatever the browser's. */
  locale?: string;
  /** Default 1280×800. */
  viewport?: { width: number; height: number };
  /** `login` logs out first when the page shows a session, so one file can log in as another user. */
  logOutFirst?: boolean;
  /**
   * The HTTP statuses the tests provoke on purpose, which Chromium logs as console errors ("status of 409");
   * any other console error is a problem. Default: every 4xx.
   */
  provoked?: number[];
}

export interface BrowserRun {
  h: Harness;
  page: Page;
  ctx: BrowserContext;
  base: string;
  /** Where `screenshot` saves. */
  shots: string;
  problems: string[];
  /** Saves `NAME.png` and checks it is not blank (many distinct colours). */
  screenshot(name: string): Promise<void>;
  login(user?: string): Promise<void>;
  close(): Promise<void>;
}

export async function openBrowser(opts: BrowserOptions = {}): Promise<BrowserRun> {
  const h = await harness();
  // The cookie's expiry must be in the browser's future: the real clock, not the unit tests' fixed one.
  Object.defineProperty(h.clock, "now", { get: () => Date.now() });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: h.app.fetch, idleTimeout: 0 });
  const base = `http://127.0.0.1:${server.port}`;
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "drover-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    locale: opts.locale ?? "en-US",
    ...(opts.colorScheme ? { colorScheme: opts.colorScheme } : {}),
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  // An empty list provokes nothing: every "status of …" console error is a problem.
  const provoked = opts.provoked?.length === 0 ? /(?!)/ : new RegExp(`status of ${opts.provoked ? `(${opts.provoked.join("|")})` : "4\\d\\d"}`);
  let closing = false;
  page.on("crash", () => console.error("chromium: the page crashed"));
  ctx.on("close", () => closing || console.error("chromium: the browser went away before the tests ended"));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !provoked.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`request off the server: ${r.url()}`);
  });
  mkdirSync(SHOTS, { recursive: true });
  const run: BrowserRun = {
    h,
    page,
    ctx,
    base,
    shots: SHOTS,
    problems,
    screenshot: (name) => saveScreenshot(page, SHOTS, name),
    async login(user = "admin") {
      await page.goto(`${base}/ui/`);
      if (opts.logOutFirst) {
        await page.locator('form[aria-label="log in"], header button:has-text("Log out")').first().waitFor();
        if (await page.getByRole("button", { name: "Log out" }).count()) {
          await page.getByRole("button", { name: "Log out" }).click();
        }
      }
      await page.getByLabel("User").fill(user);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.locator("[data-live=true]").waitFor();
    },
    async close() {
      closing = true;
      await ctx.close();
      server.stop(true);
      h.cleanup();
      rmSync(profile, { recursive: true, force: true });
    },
  };
  return run;
}

/** Saves `DIR/NAME.png` and checks it is not blank: the decoded image must have many distinct colours. */
export async function saveScreenshot(page: Page, dir: string, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: false });
  writeFileSync(join(dir, `${name}.png`), png);
  const colours = await page.evaluate(async (b64: string) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext("2d")!;
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return seen.size;
  }, png.toString("base64"));
  expect({ name, colours: colours > 8 }).toEqual({ name, colours: true });
}
