import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { type Harness, PASSWORD, harness } from "../unit/api/harness";
import { CHROMIUM, CHROMIUM_ARGS, saveScreenshot } from "./browser";

/**
 * What the newer browser stories share (power.test.ts, node-form.test.ts): Debian's Chromium, headless, with
 * the flags ui.test.ts uses, a fresh profile, against an in-process server on loopback; screenshots in
 * DROVER_SCREENSHOTS (default: a temporary directory), each checked not to be blank; every console error and
 * every request that leaves the server collected for the last test to check.
 */
export { missing } from "./browser";

export interface Lab {
  h: Harness;
  page: Page;
  base: string;
  shots: string;
  problems: string[];
  screenshot(name: string): Promise<void>;
  login(user: string, password?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startLab(): Promise<Lab> {
  const h = await harness();
  // The cookie's expiry must be in the browser's future: the real clock, not the unit tests' fixed one.
  Object.defineProperty(h.clock, "now", { get: () => Date.now() });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: h.app.fetch, idleTimeout: 0 });
  const base = `http://127.0.0.1:${server.port}`;
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "drover-chromium-"));
  const ctx: BrowserContext = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(10_000);
  let closing = false;
  const problems: string[] = [];
  page.on("crash", () => console.error("chromium: the page crashed"));
  ctx.on("close", () => closing || console.error("chromium: the browser went away before the tests ended"));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // Answers the tests provoke on purpose (validation 400s, a 409) are logged by Chromium as failed loads.
    if (m.type() === "error" && !/status of (400|409)/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`request off the server: ${r.url()}`);
  });
  const shots = process.env.DROVER_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "drover-shots-"));
  mkdirSync(shots, { recursive: true });
  return {
    h,
    page,
    base,
    shots,
    problems,
    screenshot: (name: string) => saveScreenshot(page, shots, name),
    async login(user: string, password = PASSWORD) {
      await page.goto(`${base}/ui/`);
      await page.locator('form[aria-label="log in"], header button:has-text("Log out")').first().waitFor();
      if (await page.getByRole("button", { name: "Log out" }).count()) {
        await page.getByRole("button", { name: "Log out" }).click();
      }
      await page.getByLabel("User").fill(user);
      await page.getByLabel("Password").fill(password);
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
}
