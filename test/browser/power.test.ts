import { afterAll, beforeAll, expect, test } from "bun:test";
import { type RedfishLab, haveOpenssl, startRedfishLab } from "../helpers/redfish-server";
import { PASSWORD } from "../unit/api/harness";
import { type BrowserRun, missing, openBrowser } from "./browser";

/**
 * Power from the page, in headless Chromium, against simulated Redfish BMCs on loopback (real HTTPS,
 * test/helpers/redfish-server.ts, each request held 150 ms so a staggered job is seen half done): the dialog
 * naming the nodes, PXE next boot and the stagger, progress, the per-node results with the failures, the power
 * column with its age, the node page's power, the dialog's keyboard behaviour, `/` for the filter, and a viewer
 * who sees no power or delete controls.
 */
const skip = missing ?? (haveOpenssl() ? undefined : "openssl is missing (the BMCs' certificate): apt-get install -y openssl");
if (skip) console.warn(`skipping power browser tests: ${skip}`);

let lab: BrowserRun;
let bmcs: RedfishLab;
const BMC_PW = "Rf-page-pw9";

beforeAll(async () => {
  if (skip) return;
  bmcs = await startRedfishLab({ count: 5, username: "root", password: BMC_PW, delayMs: 150, initialPower: "Off" });
  // As node-form.test.ts: a console error for a failed load is allowed only for a 400 or a 409.
  lab = await openBrowser({ viewport: { width: 1280, height: 900 }, logOutFirst: true, provoked: [400, 409] });
  const { h } = lab;
  // rf01..rf05 get BMCs 127.0.0.1..5 (a hostlist increments the address); nobmc and x01..x06 have none.
  const set = { ipmi: { ipaddr: "127.0.0.1", port: bmcs.port, username: "root", password: BMC_PW, type: "redfish", insecure: true } };
  expect((await h.req("POST", "/nodes", { names: "rf[01-05]", set })).status).toBe(201);
  expect((await h.req("POST", "/nodes", { names: "nobmc,x[01-06]" })).status).toBe(201);
  await h.auth.setPassword("ops", PASSWORD, "viewer");
}, 60_000);

afterAll(async () => {
  if (skip) return;
  await lab?.close();
  await bmcs?.stop();
});

test.skipIf(!!skip)(
  "'/' focuses the filter, but not while typing in a field",
  async () => {
    const { page } = lab;
    await lab.login("admin");
    await page.locator('[data-node="rf01"]').waitFor();
    expect(await page.locator('[data-node="rf01"] [data-power]').textContent()).toBe("—");
    await page.locator("body").press("/");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("filter nodes");
    // Typed into the filter, "/" is just a character.
    await page.keyboard.type("rf/");
    expect(await page.getByLabel("filter nodes").inputValue()).toBe("rf/");
    await page.getByLabel("filter nodes").fill("");
    // In another field (the add form), "/" stays there.
    await page.getByRole("button", { name: "Add node" }).click();
    const names = page.getByRole("form", { name: "add node" }).getByLabel("Names (hostlist)");
    await names.click();
    await page.keyboard.type("a/b");
    expect(await names.inputValue()).toBe("a/b");
    await page.getByRole("button", { name: "Add node" }).click();
  },
  30_000,
);

test.skipIf(!!skip)(
  "power cycle with PXE next boot and a stagger: the dialog names the nodes, shows progress, then each node's result",
  async () => {
    const { page } = lab;
    await page.getByRole("checkbox", { name: "select all shown" }).check();
    const bulk = page.getByRole("region", { name: "bulk actions" });
    await bulk.getByText(/12 selected/).waitFor();
    const opener = bulk.getByRole("button", { name: "Power…" });
    await opener.click();
    const dialog = page.getByRole("dialog", { name: "Power: 12 nodes" });
    await dialog.waitFor();
    expect(await dialog.locator("[data-names]").textContent()).toBe("nobmc, rf01, rf02, rf03, rf04, rf05, x01, x02 and 4 more");
    // Focus is in the dialog (moved there once it is shown) and stays there: Tab from the last control comes
    // back to the first.
    await page.waitForFunction(() => !!document.activeElement?.closest('[role="dialog"]'));
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]'))).toBe(true);
    }
    await page.keyboard.press("Shift+Tab");
    expect(await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]'))).toBe(true);
    // Escape closes, and focus is back on the button that opened it.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await page.waitForFunction(() => document.activeElement?.textContent === "Power…");
    await opener.click();

    const pxe = dialog.getByRole("checkbox", { name: /PXE next boot/ });
    expect(await pxe.isDisabled()).toBe(true); // with status (the default), there is no next boot to set
    await dialog.getByRole("combobox", { name: /^Action/ }).selectOption("cycle");
    expect(await pxe.isDisabled()).toBe(false);
    await pxe.check();
    // A bad stagger is refused beside its field, and nothing runs.
    const stagger = dialog.getByLabel(/Stagger/);
    await stagger.fill("soon");
    await dialog.getByRole("button", { name: "Power cycle 12 nodes" }).click();
    expect(await dialog.locator("#stagger-note").textContent()).toContain("whole number of milliseconds");
    expect(await stagger.getAttribute("aria-invalid")).toBe("true");
    await stagger.fill("90000");
    await dialog.getByRole("button", { name: "Power cycle 12 nodes" }).click();
    await dialog.locator("#stagger-note").getByText(/60000/).waitFor();
    expect(bmcs.requests.length).toBe(0);
    await lab.screenshot("power-dialog");

    await stagger.fill("300");
    await dialog.getByRole("button", { name: "Power cycle 12 nodes" }).click();
    // Part way: "n of 12 done" with 0 < n < 12.
    await page.waitForFunction(() => {
      const p = document.querySelector("[data-progress]")?.getAttribute("data-progress") ?? "";
      const [done, total] = p.split("/").map(Number);
      return total === 12 && done! > 0 && done! < 12;
    });
    expect(await dialog.getByRole("status").textContent()).toMatch(/cycle \(PXE next boot\): \d+ of 12 done/);
    await lab.screenshot("power-progress");
    await dialog.getByRole("status").getByText("cycle: 5 ok, 7 failed (nobmc, x01, x02, x03, x04 and 2 more)").waitFor({ timeout: 20_000 });
    const results = dialog.getByRole("table", { name: "power results" });
    expect(await results.locator("tbody tr").count()).toBe(12);
    for (const n of ["rf01", "rf02", "rf03", "rf04", "rf05"]) expect(await results.locator(`tr[data-node="${n}"]`).getAttribute("data-ok")).toBe("true");
    const bad = results.locator('tr[data-node="x03"]');
    expect(await bad.getAttribute("data-ok")).toBe("false");
    expect(await bad.textContent()).toContain("✕ failed");
    expect(await bad.textContent()).toContain("drover node set x03 --ipmiaddr");
    expect(await dialog.textContent()).not.toContain(BMC_PW);
    for (const s of bmcs.systems.values()) {
      expect(s.resets).toEqual(["PowerCycle"]);
      expect(s.bootTarget).toBe("Pxe");
      expect(s.bootEnabled).toBe("Once");
    }
    // The BMCs were started in node order, 300 ms apart or more.
    const posts = bmcs.requests.filter((r) => r.method === "GET" && r.path === "/redfish/v1/Systems").map((r) => r.address);
    expect(posts).toEqual(["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]);
    await lab.screenshot("power-results");
    await dialog.getByRole("button", { name: "Close" }).click();
    expect(await dialog.count()).toBe(0);
    // The power column does not claim a state: a cycle was sent, nothing was read since.
    await page
      .locator('[data-node="rf01"] [data-power]')
      .getByText(/^cycle sent/)
      .waitFor();
  },
  60_000,
);

test.skipIf(!!skip)(
  "status fills the power column with what the BMC said and when; a node without a BMC says unknown",
  async () => {
    const { page } = lab;
    await page.getByRole("region", { name: "bulk actions" }).getByRole("button", { name: "Power…" }).click();
    const dialog = page.getByRole("dialog", { name: "Power: 12 nodes" });
    await dialog.getByRole("button", { name: "Check status" }).click();
    await dialog.getByRole("status").getByText("status: 5 ok, 7 failed", { exact: false }).waitFor({ timeout: 20_000 });
    expect(await dialog.locator('tr[data-node="rf02"] td').nth(1).textContent()).toBe("on");
    await dialog.getByRole("button", { name: "Close" }).click();
    await page.locator('[data-node="rf02"] [data-power="on"]').waitFor();
    expect(await page.locator('[data-node="rf02"] [data-power]').textContent()).toMatch(/^on · \d+s ago$/);
    expect(await page.locator('[data-node="nobmc"] [data-power]').textContent()).toMatch(/^unknown · \d+s ago$/);
    await page.getByRole("button", { name: "Clear selection" }).click();
    await lab.screenshot("power-column");
  },
  30_000,
);

test.skipIf(!!skip)(
  "the node page powers its node off and shows the result",
  async () => {
    const { page } = lab;
    await page.getByRole("link", { name: "rf02" }).click();
    await page.getByRole("heading", { name: /rf02/ }).waitFor();
    expect(await page.locator(".actions [data-power]").textContent()).toMatch(/^on · /);
    await page.getByRole("button", { name: "Power…" }).click();
    const dialog = page.getByRole("dialog", { name: "Power: 1 node" });
    expect(await dialog.locator("[data-names]").textContent()).toBe("rf02");
    await dialog.getByRole("combobox", { name: /^Action/ }).selectOption("off");
    await dialog.getByRole("button", { name: "Power off 1 node" }).click();
    await dialog.getByRole("status").getByText("off: 1 ok, 0 failed").waitFor();
    expect(bmcs.systems.get("127.0.0.2")!.powerState).toBe("Off");
    expect(bmcs.systems.get("127.0.0.2")!.resets.at(-1)).toBe("ForceOff");
    await lab.screenshot("node-power");
    await page.keyboard.press("Escape");
    await page
      .locator(".actions [data-power]")
      .getByText(/^off sent/)
      .waitFor();
  },
  30_000,
);

test.skipIf(!!skip)(
  "a viewer sees no power or delete controls, on the nodes page or a node's page",
  async () => {
    const { page } = lab;
    await lab.login("ops");
    await page.locator('[data-node="rf01"]').waitFor();
    await page.getByRole("checkbox", { name: "select rf01" }).check();
    const bulk = page.getByRole("region", { name: "bulk actions" });
    await bulk.waitFor();
    expect(await bulk.getByRole("button", { name: "Power…" }).isVisible()).toBe(false);
    expect(await bulk.getByRole("button", { name: "Delete…" }).isVisible()).toBe(false);
    await page.getByRole("link", { name: "rf01" }).click();
    await page.getByRole("heading", { name: /rf01/ }).waitFor();
    expect(await page.getByRole("button", { name: "Power…" }).isVisible()).toBe(false);
    expect(await page.getByRole("button", { name: "Delete node…" }).isVisible()).toBe(false);
    expect(await page.getByRole("button", { name: "Save" }).isVisible()).toBe(false);
    // What was read about power is still shown to a viewer.
    expect(await page.locator(".actions [data-power]").textContent()).toMatch(/^on · /);
    await lab.screenshot("power-viewer");
  },
  30_000,
);

test.skipIf(!!skip)("no console errors and no request off the server", () => {
  expect(lab.problems).toEqual([]);
  console.log(`screenshots in ${lab.shots}`);
});
