import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BrowserRun, missing, openBrowser } from "./browser";

/**
 * Saving an overlay file from the page runs the check `drover overlay edit` runs (syntax, then a render for a
 * node that uses the overlay): a broken template is never saved with a green "saved"; the problem is shown
 * beside the editor with its line, column and node, the text typed stays, and "Save anyway" saves exactly it.
 */
if (missing) console.warn(`skipping browser tests: ${missing}`);
let b: BrowserRun;

beforeAll(async () => {
  if (missing) return;
  b = await openBrowser();
  b.h.svc.overlays.create("site");
  b.h.svc.overlays.writeFile("site", "etc/motd.eta", "hello <%= it.node.name %>\n");
  b.h.svc.nodes.addNodes(["rack01"], { set: { systemOverlay: ["site"], tags: { rack: "r1" } } });
}, 60_000);
afterAll(async () => {
  if (!missing) await b.close();
});

const saved = () => new TextDecoder().decode(b.h.svc.overlays.readFile("site", "etc/motd.eta").data);

async function openFile(starts = "hello <%= it.node.name %>\n") {
  const { page } = b;
  await page.getByRole("link", { name: "Overlays" }).click();
  await page.getByLabel("overlays").getByRole("button", { name: /^site/ }).click();
  await page.getByLabel("files").getByRole("button", { name: "etc/motd.eta" }).click();
  await page.waitForFunction((t) => (document.querySelector("#overlay-editor") as HTMLTextAreaElement | null)?.value === t, starts);
}

test.skipIf(!!missing)(
  "a syntax error is refused beside the editor with its line and column; the text stays; the caret is put there",
  async () => {
    const { page } = b;
    await b.login();
    await openFile();
    const editor = page.getByLabel("file content");
    const broken = "hello\nrack <% const x = ; %>\n";
    await editor.fill(broken);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const problem = page.locator("#editor-problem");
    await problem.waitFor();
    expect(await problem.textContent()).toContain("Not saved: syntax error at line 2, column 19");
    expect(await problem.textContent()).toContain("Unexpected token ';'");
    expect(await editor.getAttribute("aria-invalid")).toBe("true");
    expect(await editor.inputValue()).toBe(broken);
    // The caret is at line 2, column 19 (the ';').
    await page.waitForFunction((at) => (document.activeElement as HTMLTextAreaElement | null)?.selectionStart === at, "hello\n".length + 18);
    // Never a green "saved", and nothing written.
    expect(await page.locator(".ok[role=status]").count()).toBe(0);
    expect(saved()).toBe("hello <%= it.node.name %>\n");
    await b.screenshot("overlay-save-syntax-error");
  },
  30_000,
);

test.skipIf(!!missing)(
  "a template that does not render for the node using the overlay is refused, naming the node; Save anyway saves exactly that text",
  async () => {
    const { page } = b;
    const editor = page.getByLabel("file content");
    const text = "row <%= it.node.tags.row %>\n";
    await editor.fill(text);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const problem = page.locator("#editor-problem");
    await problem.getByText("does not render for node rack01 at line 1").waitFor();
    expect(await problem.textContent()).toContain("it.node.tags.row is not defined (it has: rack)");
    expect(saved()).toBe("hello <%= it.node.name %>\n");
    await b.screenshot("overlay-save-render-error");
    // Edited after the check: no Save anyway for text that was not checked.
    await editor.fill(`${text}x\n`);
    expect(await problem.getByRole("button", { name: "Save anyway" }).count()).toBe(0);
    expect(await problem.textContent()).toContain("You changed the text since");
    await editor.fill(text);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await problem.getByRole("button", { name: "Save anyway" }).click();
    const status = page.getByRole("status").filter({ hasText: "anyway" });
    await status.waitFor();
    expect(await status.getAttribute("class")).toBe("warn");
    expect(await problem.textContent()).toContain("Saved with a problem");
    expect(saved()).toBe(text);
    await b.screenshot("overlay-save-anyway");
  },
  30_000,
);

test.skipIf(!!missing)(
  "a good template is saved, rendered for the chosen preview node, and says so",
  async () => {
    const { page } = b;
    b.h.svc.nodes.addNodes(["rack02"], { set: { tags: { row: "r7" } } });
    await page.reload();
    // The file holds the text saved anyway in the step before.
    await openFile("row <%= it.node.tags.row %>\n");
    await page.getByLabel("Preview for node").fill("rack02");
    await page.getByLabel("file content").fill("row <%= it.node.tags.row %> of <%= it.node.name %>\n");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("status").getByText("Saved etc/motd.eta · rendered for rack02 without errors").waitFor();
    expect(await page.getByRole("status").getAttribute("class")).toBe("ok");
    await page.getByLabel("render preview").getByText("row r7 of rack02").waitFor();
    expect(await page.locator("#editor-problem").count()).toBe(0);
    expect(saved()).toBe("row <%= it.node.tags.row %> of <%= it.node.name %>\n");
    await b.screenshot("overlay-save-ok");
  },
  30_000,
);

test.skipIf(!!missing)("no console errors, no request off the server", () => {
  expect(b.problems).toEqual([]);
});
