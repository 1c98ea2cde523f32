import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BrowserRun, missing, openBrowser } from "./browser";

/**
 * The node page's form, in headless Chromium against an in-process server on loopback: each value's source
 * (node or profile) as `node list -a` tells it, tags, overlays, network devices (add and remove), the BMC with
 * a write-only password, kernel version and args; a refused save keeps what was typed and puts each problem
 * once beside its field; inputs that look editable; delete after a confirmation naming the node.
 */
if (missing) console.warn(`skipping node form browser tests: ${missing}`);

let lab: BrowserRun;
const BMC_PW = "page-typed-S3cret";

beforeAll(async () => {
  if (missing) return;
  // The answers provoked on purpose (validation 400s, a 409) are logged by Chromium as failed loads.
  lab = await openBrowser({ viewport: { width: 1280, height: 900 }, logOutFirst: true, provoked: [400, 409] });
  const { h } = lab;
  expect(
    (
      await h.req("PATCH", "/profiles/default", {
        set: {
          kernel: { args: ["console=ttyS0"] },
          tags: { rack: "r1" },
          systemOverlay: ["wwinit"],
          ipmi: { username: "root", password: "profile-pw-1" },
          networkDevices: { default: { netmask: "255.255.255.0" } },
        },
      })
    ).status,
  ).toBe(200);
  const set = { networkDevices: { default: { ipaddr: "10.0.0.5", hwaddr: "52:54:00:00:00:05" } }, ipmi: { ipaddr: "10.9.0.5" }, tags: { role: "compute" } };
  expect((await h.req("POST", "/nodes", { names: "n1", set })).status).toBe(201);
  expect(
    (await h.req("POST", "/nodes", { names: "n2", set: { networkDevices: { default: { ipaddr: "10.0.0.6", hwaddr: "52:54:00:00:00:06" } } } })).status,
  ).toBe(201);
}, 60_000);

afterAll(async () => {
  if (missing) return;
  await lab?.close();
});

const form = () => lab.page.getByRole("form", { name: "edit node" });
const net = (name: string) => form().locator(`fieldset[data-netdev="${name}"]`);

test.skipIf(!!missing)(
  "each field shows the node's value, the inherited one in grey, and where it comes from",
  async () => {
    const { page } = lab;
    await lab.login("admin");
    await page.getByRole("link", { name: "n1" }).click();
    await form().waitFor();
    const args = form().getByLabel("Kernel args");
    expect(await args.inputValue()).toBe("");
    expect(await args.getAttribute("placeholder")).toBe("console=ttyS0");
    expect(await page.locator("#nf-kernel-args-src").textContent()).toContain("from default: console=ttyS0");
    expect(await page.locator("#nf-ipmi-ipaddr-src").textContent()).toContain("set on the node");
    expect(await form().getByLabel("BMC address").inputValue()).toBe("10.9.0.5");
    expect(await page.locator("#nf-ipmi-username-src").textContent()).toContain("from default: root");
    expect(await page.locator("#nf-ipmi-password-src").textContent()).toContain("from default: (hidden)");
    expect(await page.locator("#nf-systemOverlay-src").textContent()).toContain("from default: wwinit");
    expect(await net("default").getByLabel("IP address").inputValue()).toBe("10.0.0.5");
    expect(await net("default").getByLabel("Netmask").getAttribute("placeholder")).toBe("255.255.255.0");
    expect(await page.locator("#nf-nd-default-netmask-src").textContent()).toContain("from default");
    expect(await form().locator('[data-tag="role"] input').first().inputValue()).toBe("role");
    expect(await form().textContent()).toContain("rack=r1 (from default)");
    // No password reaches the page, from the node or a profile.
    expect(await page.content()).not.toContain("profile-pw-1");
    // Inputs look editable: their own background, not the page's, and not faded; a disabled one looks different.
    const looks = await page.evaluate(() => {
      const i = document.getElementById("nf-kernel-version") as HTMLInputElement;
      const bg = getComputedStyle(document.body).backgroundColor;
      const s = getComputedStyle(i);
      i.disabled = true;
      const d = getComputedStyle(i).borderStyle;
      i.disabled = false;
      return { same: s.backgroundColor === bg, opacity: s.opacity, border: s.borderStyle, disabledBorder: d };
    });
    expect(looks).toEqual({ same: false, opacity: "1", border: "solid", disabledBorder: "dashed" });
    await lab.screenshot("node-form");
  },
  30_000,
);

test.skipIf(!!missing)(
  "a refused save keeps what was typed and shows each problem once, beside its field",
  async () => {
    const { page, h } = lab;
    await form().getByLabel("Kernel version").fill("6.1.0-test");
    await form().getByLabel("Kernel args").fill("quiet nosmt");
    await form().getByLabel("System overlays").fill("site1");
    await form().getByRole("button", { name: "Add tag" }).click();
    const newTag = form().locator(".kv").last();
    await newTag.getByLabel("Tag name").fill("owner");
    await newTag.getByLabel("Value").fill("hpc-team");
    await form().getByRole("button", { name: "Add network device" }).click();
    const nd = form().locator('fieldset[data-netdev=""]');
    await nd.getByLabel("Network name").fill("ib0");
    await nd.getByLabel("Device (netdev)").fill("ib0");
    await nd.getByLabel("Type").fill("infiniband");
    await nd.getByLabel("IP address").fill("10.1.0.5/16");
    await form().getByLabel("BMC type").selectOption("redfish");
    await form().locator("#nf-ipmi-password").fill(BMC_PW);
    // Two mistakes: a MAC that is not one, a port that is not a number.
    await net("default").getByLabel("MAC").fill("52:54:zz");
    await form().getByLabel("BMC port").fill("eighty");
    await form().getByRole("button", { name: "Save" }).click();
    await page.locator("#nf-summary").getByText("Not saved: 2 problems, shown beside their fields. Nothing was changed.").waitFor();
    const macErr = page.locator("#nf-nd-default-hwaddr-err");
    expect(await macErr.textContent()).toContain("'52:54:zz' is not a MAC address");
    expect(await page.locator("#nf-ipmi-port-err").textContent()).toContain("must be a whole number, not 'eighty'");
    expect(await net("default").getByLabel("MAC").getAttribute("aria-invalid")).toBe("true");
    // The field with the first problem has the focus.
    await page.waitForFunction(() => document.activeElement?.id === "nf-nd-default-hwaddr");
    // Each once: the MAC's message is on the page one time only (not again in a summary).
    expect((await page.locator("main").innerText()).split("is not a MAC address").length - 1).toBe(1);
    expect(await page.locator("#nf-general").count()).toBe(0);
    // Everything typed is still there.
    expect(await form().getByLabel("Kernel version").inputValue()).toBe("6.1.0-test");
    expect(await nd.getByLabel("Network name").inputValue()).toBe("ib0");
    expect(await nd.getByLabel("IP address").inputValue()).toBe("10.1.0.5/16");
    expect(await newTag.getByLabel("Value").inputValue()).toBe("hpc-team");
    expect(await form().locator("#nf-ipmi-password").inputValue()).toBe(BMC_PW);
    expect(await form().getByLabel("BMC type").inputValue()).toBe("redfish");
    // Live updates re-render the page every second: what was typed survives them too.
    await page.waitForTimeout(1500);
    expect(await form().getByLabel("Kernel version").inputValue()).toBe("6.1.0-test");
    // Nothing was stored.
    expect(h.svc.nodes.getNode("n1").own.kernel).toBeUndefined();
    await lab.screenshot("node-form-errors");

    await net("default").getByLabel("MAC").fill("52:54:00:00:00:15");
    await form().getByLabel("BMC port").fill("8443");
    await form().getByRole("button", { name: "Save" }).click();
    await form().getByRole("status").getByText("Saved.").waitFor();
    const own = h.svc.nodes.getNode("n1").own;
    expect(own.kernel).toEqual({ version: "6.1.0-test", args: ["quiet", "nosmt"] });
    expect(own.systemOverlay).toEqual(["site1"]);
    expect(own.tags).toEqual({ role: "compute", owner: "hpc-team" });
    expect(own.networkDevices).toEqual({
      default: { ipaddr: "10.0.0.5", hwaddr: "52:54:00:00:00:15" },
      ib0: { device: "ib0", type: "infiniband", ipaddr: "10.1.0.5", netmask: "255.255.0.0" },
    });
    expect(own.ipmi).toEqual({ ipaddr: "10.9.0.5", type: "redfish", port: 8443, password: BMC_PW });
    // After the save: the password field is empty again and says one is set; the page never shows it.
    await page.locator("#nf-ipmi-password-src").getByText("set on the node").waitFor();
    expect(await form().locator("#nf-ipmi-password").inputValue()).toBe("");
    expect(await form().locator("#nf-ipmi-password").getAttribute("placeholder")).toContain("set on the node (hidden)");
    expect(await page.content()).not.toContain(BMC_PW);
    expect(await page.locator("#nf-kernel-version-src").textContent()).toContain("set on the node");
    // Lists add up: the profile's args and the node's.
    expect(await page.locator("#nf-kernel-args-src").textContent()).toContain("from default + node: console=ttyS0 quiet nosmt");
    await lab.screenshot("node-form-saved");
  },
  30_000,
);

test.skipIf(!!missing)(
  "remove a tag, a network device and the node's password; the profile's values apply again",
  async () => {
    const { page, h } = lab;
    await form().locator('[data-tag="owner"]').getByRole("button", { name: "remove tag owner" }).click();
    await net("ib0").getByRole("button", { name: "Remove network ib0" }).click();
    expect(await form().textContent()).toContain("Removed on save: ib0");
    await form().getByLabel("Remove the node's BMC password").check();
    await form().getByLabel("Kernel args").fill("");
    await form().getByRole("button", { name: "Save" }).click();
    await form().getByRole("status").getByText("Saved.").waitFor();
    const n = h.svc.nodes.getNode("n1");
    expect(n.own.tags).toEqual({ role: "compute" });
    expect(Object.keys(n.own.networkDevices ?? {})).toEqual(["default"]);
    expect(n.own.ipmi?.password).toBeUndefined();
    expect(n.conf.ipmi?.password).toBe("profile-pw-1");
    expect(n.own.kernel).toEqual({ version: "6.1.0-test" });
    await page.locator("#nf-kernel-args-src").getByText("from default: console=ttyS0").waitFor();
    expect(await net("ib0").count()).toBe(0);
  },
  30_000,
);

test.skipIf(!!missing)(
  "a problem about a new network's name is shown beside that name; a conflict beside the field another node holds",
  async () => {
    const { page } = lab;
    await form().getByRole("button", { name: "Add network device" }).click();
    const nd = form().locator('fieldset[data-netdev=""]');
    await nd.getByLabel("IP address").fill("10.2.0.9/24");
    await form().getByRole("button", { name: "Save" }).click();
    expect(await page.locator(`#${await nd.getByLabel("Network name").getAttribute("id")}-err`).textContent()).toBe("give the network a name, e.g. ib0");
    await nd.getByLabel("Network name").fill("bad name");
    await form().getByRole("button", { name: "Save" }).click();
    expect(await page.locator(`#${await nd.getByLabel("Network name").getAttribute("id")}-err`).textContent()).toContain("is not a network name");
    await nd.getByRole("button", { name: "Remove this new network" }).click();
    // n2's address on n1: a 409 naming n2, beside n1's IP address.
    await net("default").getByLabel("IP address").fill("10.0.0.6");
    await form().getByRole("button", { name: "Save" }).click();
    await page.locator("#nf-nd-default-ipaddr-err").getByText("IP address 10.0.0.6 of node 'n1' (default) is already used by node 'n2' (default)").waitFor();
    expect(await net("default").getByLabel("IP address").inputValue()).toBe("10.0.0.6");
    await net("default").getByLabel("IP address").fill("10.0.0.5");
  },
  30_000,
);

test.skipIf(!!missing)(
  "delete a node from its page after a confirmation that names it",
  async () => {
    const { page, h } = lab;
    await page.goto(`${lab.base}/ui/#/node/n2`);
    await page.getByRole("heading", { name: /n2/ }).waitFor();
    await page.getByRole("button", { name: "Delete node…" }).click();
    const confirm = page.getByRole("alertdialog", { name: "Delete node n2?" });
    expect(await confirm.textContent()).toContain("n2 will be removed with its settings and boot history. This cannot be undone.");
    // The safe choice has the focus; Escape cancels.
    await page.waitForFunction(() => document.activeElement?.textContent === "Cancel");
    await lab.screenshot("node-delete-confirm");
    await page.keyboard.press("Escape");
    expect(await confirm.count()).toBe(0);
    expect(h.svc.nodes.listNodes(["n2"]).length).toBe(1);
    await page.getByRole("button", { name: "Delete node…" }).click();
    await confirm.getByRole("button", { name: "Delete n2" }).click();
    await page.getByRole("status").getByText("Deleted node n2.").waitFor();
    await page.locator('[data-node="n2"]').waitFor({ state: "detached" });
    expect(h.svc.nodes.listNodes([]).map((n) => n.name)).toEqual(["n1"]);
  },
  30_000,
);

test.skipIf(!!missing)("no console errors and no request off the server", () => {
  expect(lab.problems).toEqual([]);
  console.log(`screenshots in ${lab.shots}`);
});
