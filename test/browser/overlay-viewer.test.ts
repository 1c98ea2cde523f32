import { afterAll, beforeAll, expect, test } from "bun:test";
import { PASSWORD } from "../unit/api/harness";
import { type BrowserRun, missing, openBrowser } from "./browser";

/**
 * A viewer on the Overlays page and a node's page: overlay file contents and rendered overlays are for admins
 * (they hold the nodes' secrets; the API refuses a viewer). The viewer sees the overlays, who uses them, the
 * files with their modes and sizes, and a note saying only admins see contents; the page never asks for them,
 * so there is no error and no empty editor. The same page shows an admin the contents.
 */
if (missing) console.warn(`skipping browser tests: ${missing}`);
let b: BrowserRun;
const MUNGE = "munge-key-0123456789abcdef";
/** Every API request the page made (path and query). */
const asked: string[] = [];

beforeAll(async () => {
  if (missing) return;
  // No refusal is provoked: a 403 in the console would be the page asking for what a viewer may not read.
  b = await openBrowser({ logOutFirst: true, provoked: [] });
  await b.h.auth.setPassword("ops", PASSWORD, "viewer");
  b.h.svc.overlays.create("secrets");
  b.h.svc.overlays.writeFile("secrets", "etc/munge/munge.key", `${MUNGE}\n`, { mode: 0o400 });
  b.h.svc.nodes.addNodes(["keys01"], { set: { systemOverlay: ["secrets"] } });
  b.page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/api/v1/")) asked.push(`${u.pathname}${u.search}`);
  });
}, 60_000);
afterAll(async () => {
  if (!missing) await b.close();
});

async function openMungeKey() {
  const { page } = b;
  await page.getByRole("link", { name: "Overlays" }).click();
  await page
    .getByLabel("overlays")
    .getByRole("button", { name: /^secrets site · 1 using/ })
    .click();
  await page.getByLabel("files").getByRole("button", { name: "etc/munge/munge.key" }).click();
}

test.skipIf(!!missing)(
  "a viewer sees overlays, files, modes and sizes, and a note instead of the contents",
  async () => {
    const { page } = b;
    await b.login("ops");
    await openMungeKey();
    const file = page.getByLabel("file", { exact: true });
    await file.getByText("Only admins see file contents and rendered previews").waitFor();
    expect(await file.textContent()).toContain(`secrets/etc/munge/munge.key · mode 400 · ${MUNGE.length + 1} bytes`);
    expect(await page.locator("#overlay-editor").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Render" }).count()).toBe(0);
    expect(await page.locator("main").textContent()).not.toContain(MUNGE);
    await b.screenshot("overlay-viewer");
  },
  30_000,
);

test.skipIf(!!missing)(
  "a viewer on a node's page sees which overlays it uses, not the rendered files",
  async () => {
    const { page } = b;
    await page.goto(`${b.base}/ui/#/node/keys01`);
    const card = page.getByLabel("rendered overlays");
    await card.getByText("Only admins see the rendered files and their contents").waitFor();
    expect(await card.textContent()).toContain("System overlays: ");
    expect(await card.textContent()).toContain("secrets");
    expect(await page.locator("main").textContent()).not.toContain(MUNGE);
    await card.scrollIntoViewIfNeeded();
    await b.screenshot("node-overlays-viewer");
    // The page never asked for what the API refuses a viewer.
    expect(asked.filter((p) => /\/overlay\?|\/file\?|\/render\?/.test(p))).toEqual([]);
  },
  30_000,
);

test.skipIf(!!missing)(
  "an admin on the same page gets the contents in the editor",
  async () => {
    const { page } = b;
    await b.login("admin");
    await openMungeKey();
    await page.waitForFunction((t) => (document.querySelector("#overlay-editor") as HTMLTextAreaElement | null)?.value === t, `${MUNGE}\n`);
    expect(await page.locator("[data-admin-only]").count()).toBe(0);
    expect(asked).toContain("/api/v1/overlays/secrets/file?path=etc%2Fmunge%2Fmunge.key");
  },
  30_000,
);

test.skipIf(!!missing)("no console errors (no refusal), no request off the server", () => {
  expect(b.problems).toEqual([]);
});
