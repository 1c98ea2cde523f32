import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BrowserRun, missing, openBrowser } from "./browser";

/**
 * The profile form has what an admin sets with `drover profile set` every day — tags, system and runtime
 * overlays, the network device, the BMC, kernel version and arguments — each checked beside its field, what was
 * typed kept after a refusal, and a delete that first names the nodes still using the profile.
 */
if (missing) console.warn(`skipping browser tests: ${missing}`);
let b: BrowserRun;

beforeAll(async () => {
  if (missing) return;
  b = await openBrowser();
  b.h.svc.overlays.create("site");
  b.h.svc.nodes.addProfiles(["compute"], { set: { comment: "racks", tags: { old: "x" } } });
  b.h.svc.nodes.addNodes(["c01", "c02"], { set: { profiles: ["default", "compute"] } });
}, 60_000);
afterAll(async () => {
  if (!missing) await b.close();
});

const conf = () => b.h.svc.nodes.listProfiles(["compute"])[0]!.own;

test.skipIf(!!missing)(
  "edit a profile: errors beside their fields with the typed values kept, then every field saved",
  async () => {
    const { page } = b;
    await b.login();
    await page.getByRole("link", { name: "Profiles" }).click();
    await page.getByLabel("profiles").getByRole("button", { name: "compute" }).click();
    const form = page.getByRole("form", { name: "edit profile" });
    await form.waitFor();
    expect(await form.getByLabel("Tags").inputValue()).toBe("old=x");
    await form.getByLabel("Tags").fill("rack=r12\nnot a tag");
    await form.getByLabel("System overlays").fill("wwinit, nope");
    await form.getByLabel("Netmask", { exact: true }).fill("255.255.300.0");
    await form.getByLabel("MTU").fill("9000");
    await form.getByRole("button", { name: "Save" }).click();
    // One message per bad field, beside it; nothing sent.
    expect(await form.locator("#pf-sysOv-err").textContent()).toContain("No overlay nope");
    expect(await form.locator("#pf-tags-err").textContent()).toContain("'not a tag' is not key=value");
    expect(await form.locator("#pf-netmask-err").textContent()).toContain("IPv4 address");
    expect(await form.getByRole("alert").count()).toBe(3);
    expect(await form.getByLabel("Netmask", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    expect(await form.getByLabel("MTU").inputValue()).toBe("9000");
    expect(conf().tags).toEqual({ old: "x" });
    await b.screenshot("profile-errors");
    // Fixed: every area of the form at once.
    await form.getByLabel("Tags").fill("rack=r12\nrow=7");
    await form.getByLabel("System overlays").fill("wwinit, site");
    expect(await form.locator("#pf-sysOv-err").count()).toBe(0); // a message goes as its field is edited
    await form.getByLabel("Runtime overlays").fill("hosts");
    await form.getByLabel("Netmask", { exact: true }).fill("255.255.255.0");
    await form.getByLabel("Gateway", { exact: true }).fill("10.0.0.1");
    await form.getByLabel("Interface (netdev)").fill("eth0");
    await form.getByLabel("Kernel version").fill("6.1.0-18-amd64");
    await form.getByLabel("Kernel arguments").fill("console=ttyS0,115200n8 quiet");
    await form.getByLabel("BMC type").selectOption("ipmi");
    await form.getByLabel("BMC user").fill("root");
    await form.getByLabel("BMC password").fill("calvin");
    await form.getByLabel("BMC port").fill("623");
    await form.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").getByText("Saved profile compute").waitFor();
    expect(conf()).toMatchObject({
      comment: "racks",
      tags: { rack: "r12", row: "7" },
      systemOverlay: ["wwinit", "site"],
      runtimeOverlay: ["hosts"],
      kernel: { version: "6.1.0-18-amd64", args: ["console=ttyS0,115200n8", "quiet"] },
      networkDevices: { default: { device: "eth0", netmask: "255.255.255.0", gateway: "10.0.0.1", mtu: 9000 } },
      ipmi: { type: "ipmi", username: "root", password: "calvin", port: 623 },
    });
    expect(conf().tags).not.toHaveProperty("old");
    // The nodes inherit it.
    expect(b.h.svc.nodes.getNode("c01").conf.tags).toMatchObject({ rack: "r12" });
    await b.screenshot("profile-saved");
    // Emptied fields are unset, not saved as "".
    await form.getByLabel("Kernel version").fill("");
    await form.getByLabel("Tags").fill("rack=r12");
    await form.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").getByText("Saved profile compute").waitFor();
    await page.waitForFunction(() => (document.getElementById("pf-kver") as HTMLInputElement).value === "");
    expect(conf().kernel).toEqual({ args: ["console=ttyS0,115200n8", "quiet"] });
    expect(conf().tags).toEqual({ rack: "r12" });
  },
  30_000,
);

test.skipIf(!!missing)(
  "delete asks first and names the nodes that use the profile",
  async () => {
    const { page } = b;
    await page.getByRole("button", { name: "Delete profile" }).click();
    const confirm = page.getByRole("alertdialog");
    expect(await confirm.textContent()).toContain("Delete profile compute?");
    expect(await confirm.textContent()).toContain("Still listed by nodes c01, c02.");
    await b.screenshot("profile-delete-confirm");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await confirm.count()).toBe(0);
    expect(b.h.svc.nodes.listProfiles([]).map((p) => p.name)).toContain("compute");
    await page.getByRole("button", { name: "Delete profile" }).click();
    await confirm.getByRole("button", { name: "Delete anyway" }).click();
    await page.getByRole("status").getByText("Deleted profile compute.").waitFor();
    expect(b.h.svc.nodes.listProfiles([]).map((p) => p.name)).not.toContain("compute");
    // The list is read again after the message shows (the reload is not waited for): wait for it, with a limit.
    await page.getByLabel("profiles").getByRole("button", { name: "compute" }).waitFor({ state: "detached", timeout: 5000 });
  },
  30_000,
);

test.skipIf(!!missing)(
  "a new profile: a bad name beside the field, then added; a name taken is refused by the server beside it",
  async () => {
    const { page } = b;
    await page.getByRole("button", { name: "New profile" }).click();
    const form = page.getByRole("form", { name: "add profile" });
    await form.getByLabel("Name", { exact: true }).fill("bad name");
    await form.getByLabel("Comment").fill("GPU nodes");
    await form.getByRole("button", { name: "Add profile" }).click();
    expect(await form.locator("#pf-name-err").textContent()).toContain("Use letters");
    await form.getByLabel("Name", { exact: true }).fill("default");
    await form.getByRole("button", { name: "Add profile" }).click();
    await form
      .locator("#pf-name-err")
      .getByText(/already exist/)
      .waitFor();
    expect(await form.getByLabel("Comment").inputValue()).toBe("GPU nodes");
    expect(await page.locator(".error[role=alert]").count()).toBe(0);
    await form.getByLabel("Name", { exact: true }).fill("gpu");
    await form.getByRole("button", { name: "Add profile" }).click();
    await page.getByRole("status").getByText("Added profile gpu.").waitFor();
    expect(b.h.svc.nodes.listProfiles(["gpu"])[0]!.own.comment).toBe("GPU nodes");
    await page.getByRole("form", { name: "edit profile" }).waitFor();
  },
  30_000,
);

test.skipIf(!!missing)("no console errors, no request off the server", () => {
  expect(b.problems).toEqual([]);
});
