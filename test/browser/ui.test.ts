import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { type Harness, PASSWORD, harness } from "../unit/api/harness";
import { CHROMIUM, CHROMIUM_ARGS, missing, saveScreenshot } from "./browser";

/**
 * The web page in Debian's Chromium, headless, against an in-process server on loopback. Chromium runs with
 * every flag that keeps it off the internet and a fresh profile directory. Screenshots go to
 * DROVER_SCREENSHOTS (default: a temporary directory) and are checked for content.
 */
if (missing) console.warn(`skipping browser tests: ${missing}`);

let h: Harness;
let server: ReturnType<typeof Bun.serve>;
let ctx: BrowserContext;
let page: Page;
let profile: string;
let closing = false;
const shots = process.env.DROVER_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "drover-shots-"));
const problems: string[] = [];
let base = "";

beforeAll(async () => {
  if (missing) return;
  h = await harness();
  // The cookie's expiry must be in the browser's future: the real clock, not the unit tests' fixed one.
  Object.defineProperty(h.clock, "now", { get: () => Date.now() });
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: h.app.fetch, idleTimeout: 0 });
  base = `http://127.0.0.1:${server.port}`;
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
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // Responses the test provokes on purpose (a validation error) are logged by Chromium as failed loads.
    if (m.type() === "error" && !/status of 400/.test(m.text())) problems.push(`console: ${m.text()}`);
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

const screenshot = (name: string) => saveScreenshot(page, shots, name);

test.skipIf(!!missing)(
  "log in",
  async () => {
    await page.goto(`${base}/ui/`);
    await page.getByLabel("Password").fill(PASSWORD);
    await screenshot("login");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: /^Nodes/ }).waitFor();
    await page.locator("[data-live=true]").waitFor();
    await screenshot("nodes-empty");
  },
  30_000,
);

test.skipIf(!!missing)(
  "add a node through the form: a validation error first, then the node",
  async () => {
    await page.getByRole("button", { name: "Add node" }).click();
    const form = page.getByRole("form", { name: "add node" });
    await form.getByLabel("Names (hostlist)").fill("web01");
    await form.getByLabel("MAC").fill("not-a-mac");
    await form.getByRole("button", { name: "Add" }).click();
    const alert = form.getByRole("alert");
    await alert.waitFor();
    expect((await alert.textContent())!.toLowerCase()).toContain("mac");
    await screenshot("add-node-error");
    await form.getByLabel("MAC").fill("52:54:00:12:34:56");
    await form.getByLabel("IP address").fill("10.9.0.11/24");
    await form.getByRole("button", { name: "Add" }).click();
    await page.locator('[data-node="web01"]').waitFor();
    expect(h.svc.nodes.getNode("web01").conf.networkDevices?.default?.hwaddr).toBe("52:54:00:12:34:56");
  },
  30_000,
);

test.skipIf(!!missing)(
  "a node's status changes live when boot events arrive",
  async () => {
    const badge = page.locator('[data-node="web01"] [data-state]');
    expect(await badge.getAttribute("data-state")).toBe("never seen");
    h.svc.bootState.record({ node: "web01", mac: "52:54:00:12:34:56", stage: "kernel", at: Date.now() });
    await page.locator('[data-node="web01"] [data-state="booting"]').waitFor();
    expect(await page.locator('[data-node="web01"]').textContent()).toContain("kernel");
    h.svc.bootState.record({ node: "web01", mac: "52:54:00:12:34:56", stage: "booted", at: Date.now() });
    await page.locator('[data-node="web01"] [data-state="booted"]').waitFor();
    await screenshot("nodes-live");
  },
  30_000,
);

test.skipIf(!!missing)(
  "the node page shows fields with their source and the boot history",
  async () => {
    await page.getByRole("link", { name: "web01" }).click();
    await page.getByRole("heading", { name: /web01/ }).waitFor();
    await page.getByRole("table", { name: "boot events" }).getByText("booted").waitFor();
    expect(await page.getByRole("cell", { name: "node", exact: true }).count()).toBeGreaterThan(0);
    expect(await page.getByRole("cell", { name: "default", exact: true }).count()).toBeGreaterThan(0);
    await screenshot("node-page");
  },
  30_000,
);

test.skipIf(!!missing)(
  "accept a discovered MAC as a new node",
  async () => {
    h.svc.bootState.record({ mac: "52:54:00:77:00:01", stage: "dhcp", at: Date.now() });
    await page.getByRole("link", { name: /Discovery/ }).click();
    const row = page.locator('tr[data-mac="52:54:00:77:00:01"]');
    await row.waitFor();
    await row.getByLabel("new node name").fill("found01");
    await row.getByRole("button", { name: "Accept" }).click();
    await page.getByRole("status").getByText("52:54:00:77:00:01 is now node found01").waitFor();
    // The message is shown when the accept answers; the inbox reloads just after it.
    await row.waitFor({ state: "detached" });
    expect(await row.count()).toBe(0);
    expect(h.svc.nodes.getNode("found01").conf.networkDevices?.default?.hwaddr).toBe("52:54:00:77:00:01");
    await screenshot("discovery");
  },
  30_000,
);

test.skipIf(!!missing)(
  "edit an overlay file and see the rendered preview",
  async () => {
    h.svc.overlays.writeFile("motd", "etc/motd.eta", "hello\n");
    await page.getByRole("link", { name: "Overlays" }).click();
    await page.getByRole("button", { name: /^motd/ }).click();
    await page.getByRole("button", { name: "etc/motd.eta" }).click();
    const editor = page.getByLabel("file content");
    await expect(editor).toBeDefined();
    await page.waitForFunction(() => (document.querySelector("textarea") as HTMLTextAreaElement | null)?.value === "hello\n");
    await editor.fill("welcome to <%= it.node.name %>\n");
    await page.getByLabel("Preview for node").fill("web01");
    await page.getByRole("button", { name: "Save" }).click();
    // Checked before it was written: rendered for the preview node (overlay-save.test.ts has the refusals).
    await page.getByRole("status").getByText("Saved etc/motd.eta · rendered for web01 without errors").waitFor();
    await page.getByLabel("render preview").getByText("welcome to web01").waitFor();
    expect(new TextDecoder().decode(h.svc.overlays.readFile("motd", "etc/motd.eta").data)).toBe("welcome to <%= it.node.name %>\n");
    await screenshot("overlay-preview");
  },
  30_000,
);

test.skipIf(!!missing)(
  "overlays: create one (a bad name first), add a file, see it in the tree, delete the file and the overlay",
  async () => {
    const create = page.getByRole("form", { name: "new overlay" });
    await create.getByLabel("New overlay").fill("bad name!");
    await create.getByRole("button", { name: "Create overlay" }).click();
    expect(await create.getByRole("alert").textContent()).toContain("Use letters, digits");
    await create.getByLabel("New overlay").fill("tools");
    await create.getByLabel("New overlay").press("Enter");
    await page.getByRole("status").getByText("Created overlay tools.").waitFor();
    expect(
      await page
        .getByLabel("overlays")
        .getByRole("button", { name: /^tools/ })
        .getAttribute("aria-current"),
    ).toBe("true");
    const newFile = page.getByRole("form", { name: "new file" });
    await newFile.getByLabel("Mode").fill("9x");
    await newFile.getByLabel("New file path").fill("etc/tools.conf");
    await newFile.getByRole("button", { name: "Add file" }).click();
    expect(await newFile.getByRole("alert").textContent()).toContain("octal");
    await newFile.getByLabel("Mode").fill("640");
    await newFile.getByRole("button", { name: "Add file" }).click();
    await page.getByLabel("files").getByRole("button", { name: "etc/tools.conf" }).waitFor();
    expect(h.svc.overlays.readFile("tools", "etc/tools.conf").mode & 0o777).toBe(0o640);
    await screenshot("overlay-new-file");
    // The new file is open in the editor; delete it, after confirming.
    await page.getByRole("button", { name: "Delete file" }).click();
    const confirm = page.getByRole("alertdialog");
    expect(await confirm.textContent()).toContain("Delete etc/tools.conf from tools?");
    await confirm.getByRole("button", { name: "Delete file" }).click();
    await page.getByRole("status").getByText("Deleted etc/tools.conf from tools.").waitFor();
    expect(await page.getByLabel("files").getByRole("button", { name: "etc/tools.conf" }).count()).toBe(0);
    // A node uses the overlay: the confirmation names it, and deleting anyway forces.
    h.svc.nodes.addNodes(["ov01"], { set: { systemOverlay: ["tools"] } });
    await page.getByRole("button", { name: "Delete overlay" }).click();
    expect(await confirm.textContent()).toContain("Still used by ov01.");
    await screenshot("overlay-delete-confirm");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await confirm.count()).toBe(0);
    await page.getByRole("button", { name: "Delete overlay" }).click();
    await confirm.getByRole("button", { name: "Delete anyway" }).click();
    await page.getByRole("status").getByText("Deleted overlay tools.").waitFor();
    expect(
      await page
        .getByLabel("overlays")
        .getByRole("button", { name: /^tools/ })
        .count(),
    ).toBe(0);
    h.svc.nodes.deleteNodes(["ov01"]);
  },
  30_000,
);

test.skipIf(!!missing)(
  "overlays: a built-in cannot be deleted (the reason is shown); a site copy of one reverts to it",
  async () => {
    await page
      .getByLabel("overlays")
      .getByRole("button", { name: /^hostname/ })
      .click();
    const del = page.getByRole("button", { name: "Delete overlay" });
    await del.waitFor();
    expect(await del.isDisabled()).toBe(true);
    expect(await page.locator("#builtin-why").textContent()).toContain("cannot be deleted");
    h.svc.overlays.writeFile("issue", "etc/issue", "site issue\n");
    await page.reload();
    await page
      .getByLabel("overlays")
      .getByRole("button", { name: /^issue site, shadows built-in/ })
      .click();
    await page.getByRole("button", { name: "Revert to built-in" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Revert to built-in" }).click();
    await page.getByRole("status").getByText("issue is the built-in again.").waitFor();
    await page
      .getByLabel("overlays")
      .getByRole("button", { name: /^issue built-in/ })
      .waitFor();
  },
  30_000,
);

test.skipIf(!!missing)(
  "settings: a bad pool is refused in place, a good one is in effect at once and still there after a reload",
  async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    const form = page.getByRole("form", { name: "server settings" });
    await form.waitFor();
    expect(await form.getByLabel("DHCP mode").inputValue()).toBe("off");
    await form.getByLabel("DHCP mode").selectOption("authoritative");
    await form.getByRole("checkbox", { name: /eth1/ }).check();
    await form.getByLabel("Pool start").fill("10.0.0.250");
    await form.getByLabel("Pool end").fill("10.0.0.200");
    await form.getByRole("button", { name: "Save" }).click();
    const err = form.locator("#note-pool");
    await err.waitFor();
    expect(await err.textContent()).toContain("is not an address range");
    expect(await form.getByLabel("Pool start").getAttribute("aria-invalid")).toBe("true");
    expect(h.settings.config.dhcp.mode).toBe("off");
    expect(h.applied).toHaveLength(0);
    await screenshot("settings-error");
    // Fixed, and saved from the keyboard (Enter in a field submits the form).
    await form.getByLabel("Pool start").fill("10.0.0.100");
    await form.getByLabel("Pool end").fill("10.0.0.199");
    await form.getByLabel("Pool end").press("Enter");
    await form
      .getByRole("status")
      .getByText(/Saved and in effect: .*pool: \(default\) → 10.0.0.100-10.0.0.199/)
      .waitFor();
    expect(h.settings.config.dhcp.interfaces).toEqual([
      { name: "eth1", serverIp: "10.0.0.1", network: "10.0.0.0", netmask: "255.255.255.0", pool: { start: "10.0.0.100", end: "10.0.0.199" } },
    ]);
    expect(h.applied).toHaveLength(1);
    await page.reload();
    await form.waitFor();
    expect(await form.getByLabel("DHCP mode").inputValue()).toBe("authoritative");
    expect(await form.getByLabel("Pool start").inputValue()).toBe("10.0.0.100");
    expect(await form.getByRole("checkbox", { name: /eth1/ }).isChecked()).toBe(true);
    await page.getByText(/Last change .* by admin/).waitFor();
    expect(await page.getByRole("table", { name: "restart-only settings" }).textContent()).toContain("--port");
    await screenshot("settings-saved");
  },
  30_000,
);

test.skipIf(!!missing)(
  "settings: a field fixed on the command line is disabled with the reason",
  async () => {
    const { ServeSettings, memorySettingsStorage } = await import("../../src/config/settings");
    const { HOST } = await import("../unit/api/harness");
    const real = h.deps.settings;
    h.deps.settings = new ServeSettings({
      flags: { dns: ["10.0.0.53"], leaseTime: "86400", pollInterval: "60" },
      explicit: new Set(["dns"]),
      dataDir: h.svc.dataDir,
      storage: memorySettingsStorage(),
      hosts: () => HOST,
    });
    try {
      await page.reload();
      const dns = page.getByRole("form", { name: "server settings" }).getByLabel("DNS servers");
      await dns.waitFor();
      expect(await dns.isDisabled()).toBe(true);
      expect(await dns.inputValue()).toBe("10.0.0.53");
      expect(await page.locator("#note-dns").textContent()).toBe("set by --dns on the command line; restart drover serve without it to change it here");
    } finally {
      h.deps.settings = real;
    }
  },
  30_000,
);

test.skipIf(!!missing)(
  "settings on a phone-sized screen: no sideways scrolling, Save reachable",
  async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.reload();
    const save = page.getByRole("form", { name: "server settings" }).getByRole("button", { name: "Save" });
    await save.scrollIntoViewIfNeeded();
    expect(await save.isVisible()).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await screenshot("settings-phone");
    await page.setViewportSize({ width: 1280, height: 800 });
  },
  30_000,
);

test.skipIf(!!missing)(
  "on a phone-sized screen the nodes page still works",
  async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.getByRole("link", { name: "Nodes" }).click();
    await page.locator('[data-node="web01"]').waitFor();
    await page.getByLabel("filter nodes").fill("found");
    await page.locator('[data-node="found01"]').waitFor();
    expect(await page.locator('[data-node="web01"]').count()).toBe(0);
    await screenshot("nodes-phone");
    await page.setViewportSize({ width: 1280, height: 800 });
  },
  30_000,
);

test.skipIf(!!missing)("no console errors", () => {
  expect(problems).toEqual([]);
  console.log(`screenshots in ${shots}`);
});
