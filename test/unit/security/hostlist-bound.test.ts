// Issue 13 item 8 (hostlists): `a[1-1000]b[1-1000]c[1-1000]` through the API allocated until the process
// died. The expansion is counted before it is made and refused over 100,000 names.
import { afterEach, expect, test } from "bun:test";
import { MAX_EXPANSION, countHostlist, expandHostlist, expandHostlists } from "../../../src/domain/hostlist";
import { drover, tempDir } from "../../helpers/cli";
import { type Harness, harness } from "../api/harness";

let h: Harness | undefined;
afterEach(() => h?.cleanup());

test("counted without expanding; refused over the limit with a clear message", () => {
  // Counts no process could hold as strings: they are multiplied out, not made and counted.
  expect(countHostlist("a[1-1000]b[1-1000]c[1-1000]")).toBe(1e9);
  expect(countHostlist("a[1-1000]b[1-1000]c[1-1000]d[1-1000]e[1-1000]")).toBe(1e15);
  // The refusal names that count: it was decided from the count, before a name was made.
  expect(() => expandHostlist("a[1-1000]b[1-1000]c[1-1000]")).toThrow(/expands to 1,000,000,000 names; at most 100,000 at once/);
  expect(() => expandHostlist("a[1-1000]b[1-1000]c[1-1000]d[1-1000]e[1-1000]")).toThrow(/expands to 1,000,000,000,000,000 names; at most 100,000 at once/);
  expect(() => expandHostlists(["n[1-60000]", "m[1-60000]"])).toThrow(/at most 100,000/);
  expect(expandHostlist(`n[1-${MAX_EXPANSION}]`)).toHaveLength(MAX_EXPANSION);
  expect(() => expandHostlist("x[0-99999999999999999999]")).toThrow(/at most 100,000/);
});

test("through the API and the CLI: 400 / exit 2, and the server lives on", async () => {
  h = await harness();
  const r = await h.req("POST", "/nodes", { names: "a[1-1000]b[1-1000]c[1-1000]" });
  expect(r.status).toBe(400);
  expect((await r.json()).error).toMatch(/at most 100,000/);
  expect((await h.req("GET", "/nodes")).status).toBe(200);
  const t = tempDir();
  const c = await drover(t.dir, "node", "add", "a[1-1000]b[1-1000]c[1-1000]");
  expect(c.code).toBe(2);
  expect(c.err).toMatch(/at most 100,000/);
  t.cleanup();
});
