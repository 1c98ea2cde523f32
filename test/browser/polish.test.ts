import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { type BrowserRun, missing, openBrowser } from "./browser";

/**
 * What the page looks like, measured rather than judged: text contrast ≥ 4.5:1 (WCAG AA) on every page in
 * the light and the dark scheme, computed from getComputedStyle over every visible text element and the
 * background it is drawn on; editable inputs that do not look disabled (and disabled ones that do); times on
 * the 24-hour clock under an en-US (12-hour) locale; the version in the header and on the login form.
 */
if (missing) console.warn(`skipping browser tests: ${missing}`);
let b: BrowserRun;

beforeAll(async () => {
  if (missing) return;
  b = await openBrowser();
  const h = b.h;
  h.svc.overlays.create("site");
  h.svc.overlays.writeFile("site", "etc/motd.eta", "hi <%= it.node.nmae %>\n");
  h.svc.nodes.addProfiles(["compute"], { set: { comment: "racks" } });
  h.svc.nodes.addNodes(["p01", "p02", "p03"], { set: { profiles: ["default", "compute"], systemOverlay: ["site"] } });
  h.svc.bootState.record({ node: "p01", mac: "", stage: "booted", at: Date.now() });
  h.svc.bootState.record({ node: "p02", mac: "", stage: "error", at: Date.now(), detail: "no image" });
  h.svc.bootState.record({ node: "p03", mac: "", stage: "kernel", at: Date.now() });
  h.svc.bootState.record({ mac: "52:54:00:99:00:01", stage: "dhcp", at: Date.now() - 26 * 3600_000, address: "10.0.0.201" });
}, 60_000);
afterAll(async () => {
  if (!missing) await b.close();
});

/** Every visible text element whose contrast with what is behind it is under 4.5:1, as "ratio text (selector)". */
async function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgba = (s: string): [number, number, number, number] => {
      const m = s.match(/[\d.]+/g)?.map(Number) ?? [0, 0, 0, 0];
      return [m[0]!, m[1]!, m[2]!, m[3] ?? 1];
    };
    const lum = ([r, g, b]: number[]) => {
      const f = (c: number) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const over = (top: number[], under: number[]) => top.slice(0, 3).map((c, i) => c * top[3]! + under[i]! * (1 - top[3]!));
    /** The colour behind an element: its ancestors' backgrounds composited from the page's up. */
    const behind = (el: Element): number[] => {
      const chain: Element[] = [];
      for (let e: Element | null = el; e; e = e.parentElement) chain.unshift(e);
      let bg = [255, 255, 255];
      for (const e of chain) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) bg = over(c, bg);
      }
      return bg;
    };
    const out: string[] = [];
    const seen = new Set<string>();
    for (const el of Array.from(document.querySelectorAll("body *"))) {
      const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent!.trim());
      const field = el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement;
      if (!own && !(field && (el as HTMLInputElement).value)) continue;
      if ((el as HTMLInputElement).disabled || el.closest("[disabled]")) continue; // WCAG exempts disabled controls
      const r = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      if (!r.width || !r.height || st.visibility === "hidden" || el.closest(".sr") || el.closest("[hidden]")) continue;
      let opacity = 1;
      for (let e: Element | null = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
      const bg = behind(el);
      const fgc = rgba(st.color);
      const fg = over([fgc[0], fgc[1], fgc[2], fgc[3] * opacity], bg);
      const [a, z] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (a! + 0.05) / (z! + 0.05);
      if (ratio < 4.5) {
        const key = `${el.tagName}.${el.className} ${st.color} on ${bg.map(Math.round).join(",")}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(`${ratio.toFixed(2)} "${(el.textContent || (el as HTMLInputElement).value || "").trim().slice(0, 40)}" (${key})`);
      }
    }
    return out;
  });
}

async function visitAll(page: Page, scheme: "light" | "dark") {
  await page.emulateMedia({ colorScheme: scheme });
  const bad: Record<string, string[]> = {};
  const at = async (name: string, go: () => Promise<void>) => {
    await go();
    bad[name] = await lowContrast(page);
    await b.screenshot(`contrast-${scheme}-${name}`);
  };
  await at("nodes", async () => {
    await page.getByRole("link", { name: "Nodes" }).click();
    await page.locator('[data-node="p02"]').waitFor();
  });
  await at("profile", async () => {
    await page.getByRole("link", { name: "Profiles" }).click();
    await page.getByLabel("profiles").getByRole("button", { name: "compute" }).click();
    await page.getByLabel("System overlays").fill("nope");
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator("#pf-sysOv-err").waitFor();
  });
  await at("overlay-problem", async () => {
    await page.getByRole("link", { name: "Overlays" }).click();
    await page.getByLabel("overlays").getByRole("button", { name: /^site/ }).click();
    await page.getByLabel("files").getByRole("button", { name: "etc/motd.eta" }).click();
    await page.waitForFunction(() => (document.querySelector("#overlay-editor") as HTMLTextAreaElement | null)?.value.startsWith("hi"));
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.locator("#editor-problem").waitFor();
  });
  await at("discovery", async () => {
    await page.getByRole("link", { name: /Discovery/ }).click();
    await page.locator('tr[data-mac="52:54:00:99:00:01"]').waitFor();
  });
  await at("settings", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("form", { name: "server settings" }).waitFor();
  });
  return bad;
}

test.skipIf(!!missing)(
  "the version is on the login form and in the header",
  async () => {
    const { page } = b;
    await page.goto(`${b.base}/ui/`);
    expect(await page.locator("[data-version]").textContent()).toBe("drover test");
    await b.login();
    expect(await page.locator("header [data-version]").textContent()).toBe("test");
  },
  30_000,
);

test.skipIf(!!missing)(
  "the contrast check finds low contrast (it can fail)",
  async () => {
    const { page } = b;
    await page.evaluate(() => {
      const d = document.createElement("div");
      d.id = "probe";
      // Styles through the CSSOM: the page's CSP refuses style attributes.
      d.style.background = "#fff";
      const grey = document.createElement("span");
      grey.textContent = "grey on white";
      grey.style.color = "#999";
      const faded = document.createElement("span");
      faded.textContent = "faded";
      Object.assign(faded.style, { color: "#fff", opacity: "0.5", background: "#0b5cad" });
      const ok = document.createElement("button");
      ok.className = "primary";
      ok.textContent = "ok";
      d.append(grey, faded, ok);
      document.querySelector("main")!.append(d);
    });
    const found = await lowContrast(page);
    await page.evaluate(() => document.getElementById("probe")!.remove());
    expect(found.some((l) => l.includes('"grey on white"'))).toBe(true);
    expect(found.some((l) => l.includes('"faded"'))).toBe(true);
    expect(found.some((l) => l.includes('"ok"'))).toBe(false);
  },
  30_000,
);

test.skipIf(!!missing)(
  "light scheme: all text has a contrast of at least 4.5:1",
  async () => {
    expect(await visitAll(b.page, "light")).toEqual({ nodes: [], profile: [], "overlay-problem": [], discovery: [], settings: [] });
  },
  60_000,
);

test.skipIf(!!missing)(
  "dark scheme: all text has a contrast of at least 4.5:1",
  async () => {
    expect(await visitAll(b.page, "dark")).toEqual({ nodes: [], profile: [], "overlay-problem": [], discovery: [], settings: [] });
  },
  60_000,
);

test.skipIf(!!missing)(
  "editable inputs do not look disabled; disabled ones do",
  async () => {
    const { page } = b;
    await page.emulateMedia({ colorScheme: "light" });
    await page.getByRole("link", { name: "Profiles" }).click();
    await page.getByLabel("profiles").getByRole("button", { name: "compute" }).click();
    const style = (sel: string) =>
      page
        .locator(sel)
        .first()
        .evaluate((el) => {
          const s = getComputedStyle(el);
          let o = 1;
          for (let e: Element | null = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
          return { bg: s.backgroundColor, border: s.borderTopStyle, cursor: s.cursor, opacity: o, color: s.color };
        });
    const card = await page
      .locator(".card")
      .first()
      .evaluate((el) => getComputedStyle(el).backgroundColor);
    const editable = await style("#pf-comment");
    // A field is the card's white with a solid border, fully opaque: not the grey of a disabled one.
    expect(editable).toMatchObject({ bg: card, border: "solid", opacity: 1 });
    const disabledLook = await page.evaluate(() => {
      const i = document.createElement("input");
      i.disabled = true;
      i.value = "x";
      document.querySelector("main")!.append(i);
      const s = getComputedStyle(i);
      const r = { bg: s.backgroundColor, border: s.borderTopStyle, cursor: s.cursor };
      i.remove();
      return r;
    });
    expect(disabledLook.border).toBe("dashed");
    expect(disabledLook.cursor).toBe("not-allowed");
    expect(disabledLook.bg).not.toBe(editable.bg);
  },
  30_000,
);

test.skipIf(!!missing)(
  "times are on the 24-hour clock under a 12-hour locale",
  async () => {
    const { page } = b;
    expect(await page.evaluate(() => new Date(2024, 0, 1, 15, 4, 5).toLocaleTimeString())).toContain("PM"); // the locale really is 12-hour
    await page.getByRole("link", { name: /Discovery/ }).click();
    const row = page.locator('tr[data-mac="52:54:00:99:00:01"]');
    await row.waitFor();
    // Seen 26 hours ago: the cell shows the date, the tooltip the 24-hour time.
    const cells = row.locator("td[title]");
    expect(await cells.nth(1).textContent()).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(await cells.nth(1).getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/);
    expect(await page.locator("main").textContent()).not.toMatch(/\b(AM|PM)\b/);
  },
  30_000,
);

test.skipIf(!!missing)("no console errors, no request off the server", () => {
  expect(b.problems).toEqual([]);
});
