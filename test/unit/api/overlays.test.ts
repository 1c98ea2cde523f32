import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Harness, harness } from "./harness";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(() => h.cleanup());

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as any });

test("create a site overlay, add and delete a file, delete it: refused while nodes use it, unless forced", async () => {
  expect((await json(await h.req("POST", "/overlays", { name: "bad name!" }))).body.error).toContain("is not valid");
  expect((await h.req("POST", "/overlays", { name: "tools" })).status).toBe(201);
  expect((await h.req("POST", "/overlays", { name: "tools" })).status).toBe(409);
  await h.req("PUT", "/overlays/tools/file", { path: "usr/local/bin/hello", text: "", mode: 0o755 });
  let t = (await json(await h.req("GET", "/overlays/tools"))).body;
  expect(t).toMatchObject({ origin: "site", shadows: false, users: [], userCount: 0 });
  expect(t.entries.find((e: any) => e.path === "usr/local/bin/hello")).toMatchObject({ type: "file", mode: 0o755, size: 0 });
  expect((await h.req("DELETE", "/overlays/tools?path=usr/local/bin/hello")).status).toBe(200);
  t = (await json(await h.req("GET", "/overlays/tools"))).body;
  expect(t.entries.some((e: any) => e.path === "usr/local/bin/hello")).toBe(false);

  await h.req("POST", "/nodes", { names: "t01", set: { systemOverlay: ["tools"] } });
  t = (await json(await h.req("GET", "/overlays/tools"))).body;
  expect(t.users).toEqual(["t01"]);
  const refused = await json(await h.req("DELETE", "/overlays/tools"));
  expect(refused.status).toBe(409);
  expect(refused.body.error).toContain("t01");
  expect((await h.req("DELETE", "/overlays/tools?force=true")).status).toBe(200);
  expect((await h.req("GET", "/overlays/tools")).status).toBe(404);
});

test("a site copy of a built-in shadows it; deleting the copy reverts to the built-in; a built-in cannot be deleted", async () => {
  const builtin = (await json(await h.req("GET", "/overlays/hostname"))).body;
  expect(builtin).toMatchObject({ origin: "built-in", shadows: false });
  const file = builtin.entries.find((e: any) => e.type === "file").path;
  await h.req("PUT", "/overlays/hostname/file", { path: file, text: "site copy\n" });
  expect((await json(await h.req("GET", "/overlays/hostname"))).body).toMatchObject({ origin: "site", shadows: true });
  expect((await h.req("DELETE", "/overlays/hostname")).status).toBe(200);
  expect((await json(await h.req("GET", "/overlays/hostname"))).body).toMatchObject({ origin: "built-in", shadows: false });
  const r = await json(await h.req("DELETE", "/overlays/hostname"));
  expect(r.status).toBe(400);
  expect(r.body.error).toContain("built in and cannot be deleted");
});
