import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BrowserRun, missing, openBrowser } from "./browser";

/**
 * The discovery inbox on the page: each row has an address field for the node it becomes, checked before the
 * request and by the server; an error shows once, beside its field, and what was typed stays.
 */
if (missing) console.warn(`skipping browser tests: ${missing}`);
let b: BrowserRun;
const MAC = "52:54:00:77:00:02";

beforeAll(async () => {
  if (missing) return;
  b = await openBrowser();
  b.h.svc.nodes.addNodes(["taken01"], { set: { networkDevices: { default: { ipaddr: "10.0.0.50/24" } } } });
  b.h.svc.bootState.record({ mac: MAC, stage: "dhcp", at: Date.now() - 65_000, address: "10.0.0.201" });
  b.h.svc.bootState.record({ mac: "52:54:00:77:00:03", stage: "dhcp", at: Date.now() });
}, 60_000);
afterAll(async () => {
  if (!missing) await b.close();
});

test.skipIf(!!missing)(
  "a bad address is refused beside its field; a taken one by the server, beside the same field; a good one makes the node",
  async () => {
    const { page } = b;
    await b.login();
    await page.getByRole("link", { name: /Discovery/ }).click();
    const row = page.locator(`tr[data-mac="${MAC}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("10.0.0.201");
    // The last-seen time says when on the 24-hour clock.
    expect(await row.locator("td[title]").nth(1).getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/);
    await row.getByLabel("new node name").fill("found02");
    await row.getByLabel("address").fill("10.0.0.300/24");
    await row.getByRole("button", { name: "Accept" }).click();
    const err = row.getByRole("alert");
    expect(await err.textContent()).toContain("'10.0.0.300/24' is not an IPv4 address");
    expect(await err.count()).toBe(1);
    expect(await row.getByLabel("address").getAttribute("aria-invalid")).toBe("true");
    await b.screenshot("discovery-address-error");
    // The server's refusal (the address belongs to another node) lands beside the address too, once.
    await row.getByLabel("address").fill("10.0.0.50/24");
    await row.getByRole("button", { name: "Accept" }).click();
    await row.getByRole("alert").getByText("already used by node 'taken01'").waitFor();
    expect(await row.getByRole("alert").count()).toBe(1);
    expect(await page.locator(".error[role=alert]").count()).toBe(0);
    expect(await row.getByLabel("new node name").inputValue()).toBe("found02");
    expect(await row.getByLabel("address").getAttribute("aria-invalid")).toBe("true");
    // A new MAC arriving meanwhile reloads the inbox; what was typed stays in its row.
    b.h.svc.bootState.record({ mac: "52:54:00:77:00:01", stage: "dhcp", at: Date.now() });
    await page.locator('tr[data-mac="52:54:00:77:00:01"]').waitFor();
    expect(await row.getByLabel("new node name").inputValue()).toBe("found02");
    expect(await row.getByLabel("address").inputValue()).toBe("10.0.0.50/24");
    await row.getByLabel("address").fill("10.0.0.51/24");
    await row.getByRole("button", { name: "Accept" }).click();
    await page.getByRole("status").getByText(`${MAC} is now node found02 (10.0.0.51/24)`).waitFor();
    expect(await row.count()).toBe(0);
    expect(b.h.svc.nodes.getNode("found02").conf.networkDevices?.default).toMatchObject({ hwaddr: MAC, ipaddr: "10.0.0.51" });
    await b.screenshot("discovery-accepted");
  },
  30_000,
);

test.skipIf(!!missing)("no console errors, no request off the server", () => {
  expect(b.problems).toEqual([]);
});
