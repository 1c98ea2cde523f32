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

test("saving a template checks it as 'overlay edit' does: a syntax error or a failed render for a node is 422 with where, and nothing is written unless forced", async () => {
  expect((await h.req("POST", "/overlays", { name: "chk" })).status).toBe(201);
  // Syntax: line and column, no node needed.
  let r = await json(await h.req("PUT", "/overlays/chk/file", { path: "etc/x.eta", text: "a\nb <% const x = ; %>\n" }));
  expect(r.status).toBe(422);
  expect(r.body.problem).toEqual({ kind: "syntax", template: "etc/x.eta", message: "Unexpected token ';'", line: 2, column: 16 });
  expect(r.body.error).toBe("etc/x.eta line 2, column 16: Unexpected token ';'");
  expect((await h.req("GET", "/overlays/chk/file?path=etc/x.eta")).status).toBe(404);
  r = await json(await h.req("PUT", "/overlays/chk/file", { path: "etc/y.ww", text: "a\n{{ .Id \nb" }));
  expect(r.status).toBe(422);
  expect(r.body.problem).toMatchObject({ kind: "syntax", template: "etc/y.ww", line: 3 });
  // No node uses the overlay: the syntax is all that can be checked, and the answer says so.
  r = await json(await h.req("PUT", "/overlays/chk/file", { path: "etc/rack.eta", text: "rack <%= it.node.tags.rack %>\n" }));
  expect(r).toEqual({ status: 200, body: { written: "etc/rack.eta", checked: "syntax" } });
  // A node uses it: rendered for that node with the new text, before anything is written.
  await h.req("POST", "/nodes", { names: "chk01", set: { systemOverlay: ["chk"] } });
  r = await json(await h.req("PUT", "/overlays/chk/file", { path: "etc/rack.eta", text: "row <%= it.node.tags.row %>\n" }));
  expect(r.status).toBe(422);
  expect(r.body.problem).toMatchObject({ kind: "render", template: "etc/rack.eta", node: "chk01", line: 1 });
  expect(r.body.error).toContain("template etc/rack.eta line 1, node chk01: it.node.tags.row is not defined");
  expect(r.body.details[0]).toContain("force");
  expect((await json(await h.req("GET", "/overlays/chk/file?path=etc/rack.eta"))).body.text).toBe("rack <%= it.node.tags.rack %>\n");
  // A node of the client's choice; one that does not exist is 404.
  await h.req("POST", "/nodes", { names: "chk02", set: { tags: { row: "r2" } } });
  r = await json(await h.req("PUT", "/overlays/chk/file", { path: "etc/rack.eta", text: "row <%= it.node.tags.row %>\n", node: "chk02" }));
  expect(r).toEqual({ status: 200, body: { written: "etc/rack.eta", checked: "render", node: "chk02" } });
  expect((await h.req("PUT", "/overlays/chk/file", { path: "etc/rack.eta", text: "x\n", node: "nope" })).status).toBe(404);
  // The render thread sees the saved tree again after a check's candidate.
  expect((await json(await h.req("GET", "/overlays/chk/render?path=etc/rack.eta&node=chk02"))).body[0].data).toBe("row r2\n");
  // Forced: written, and the answer still carries the problem.
  r = await json(await h.req("PUT", "/overlays/chk/file", { path: "etc/rack.eta", text: "<%= it.node.nmae %>\n", force: true }));
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ written: "etc/rack.eta", checked: "render", node: "chk01", problem: { kind: "render", node: "chk01" } });
  expect((await json(await h.req("GET", "/overlays/chk/file?path=etc/rack.eta"))).body.text).toBe("<%= it.node.nmae %>\n");
  // Not a template: written unchecked.
  expect((await json(await h.req("PUT", "/overlays/chk/file", { path: "etc/plain.conf", text: "<%= broken" }))).body).toEqual({
    written: "etc/plain.conf",
    checked: "none",
  });
});
