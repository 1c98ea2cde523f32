// Issue 13 item 4: every request body is bounded before it is read. 24 × 120 MB login bodies took the
// server from 94 MB to 4 GB; now a login body over 4 KiB, an API body over 1 MiB (16 MiB for an overlay
// file) is refused with 413, from Content-Length before a byte is read, or after the limit of a chunked body.
import { afterEach, expect, test } from "bun:test";
import { MAX_JSON_BODY, readBounded } from "../../../src/http/api/router";
import { type Harness, PASSWORD, harness } from "../api/harness";

let h: Harness | undefined;
afterEach(() => h?.cleanup());

/** A body that never ends; counts the bytes pulled from it (bounded by `max` so a bug cannot hang the test). */
function endless(chunk = 64 * 1024, max = 256 * 1024 * 1024) {
  const seen = { bytes: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (seen.bytes >= max) return c.close();
      seen.bytes += chunk;
      c.enqueue(new Uint8Array(chunk).fill(0x61));
    },
  });
  return { stream, seen };
}

test("readBounded: declared too large → nothing read; chunked → stops just past the limit", async () => {
  const never = new ReadableStream({
    pull: () => {
      throw new Error("must not be read");
    },
  });
  expect(await readBounded(new Request("http://x/", { method: "POST", body: never, headers: { "content-length": String(10 ** 9) } }), 4096)).toBeUndefined();
  const e = endless();
  expect(await readBounded(new Request("http://x/", { method: "POST", body: e.stream }), 4096)).toBeUndefined();
  expect(e.seen.bytes).toBeLessThanOrEqual(2 * 64 * 1024);
  expect(new TextDecoder().decode(await readBounded(new Request("http://x/", { method: "POST", body: '{"a":1}' }), 4096))).toBe('{"a":1}');
  expect(await readBounded(new Request("http://x/", { method: "POST", body: "x", headers: { "content-length": "nonsense" } }), 4096)).toBeUndefined();
});

test("login: a body over 4 KiB is 413 and is not read; a normal login still works", async () => {
  h = await harness();
  const big = JSON.stringify({ user: "admin", password: "x".repeat(5000) });
  const r = await h.app.request("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: big });
  expect(r.status).toBe(413);
  expect((await r.json()).error).toMatch(/larger than 4 KiB.*POST \/api\/v1\/auth\/login/);
  const e = endless();
  const chunked = await h.app.request("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: e.stream });
  expect(chunked.status).toBe(413);
  expect(e.seen.bytes).toBeLessThan(256 * 1024);
  const ok = await h.app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "admin", password: PASSWORD }),
  });
  expect(ok.status).toBe(200);
});

test("authenticated JSON: over 1 MiB is 413; an overlay file may be up to 16 MiB of JSON", async () => {
  h = await harness();
  const s = await h.login();
  const headers = { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" };
  const r = await h.app.request("/api/v1/nodes", { method: "POST", headers, body: JSON.stringify({ names: "n1", pad: "x".repeat(MAX_JSON_BODY) }) });
  expect(r.status).toBe(413);
  expect(h.svc.nodes.counts().nodes).toBe(0);
  await h.req("POST", "/overlays", { name: "site" });
  const text = "# a big file\n" + "y".repeat(2 * 1024 * 1024);
  const put = await h.app.request("/api/v1/overlays/site/file", { method: "PUT", headers, body: JSON.stringify({ path: "big.txt", text }) });
  expect(put.status).toBe(200);
  const huge = await h.app.request("/api/v1/overlays/site/file", {
    method: "PUT",
    headers,
    body: JSON.stringify({ path: "big.txt", text: "z".repeat(17 * 1024 * 1024) }),
  });
  expect(huge.status).toBe(413);
});

test("an unauthenticated body to an authenticated route is never read", async () => {
  h = await harness();
  const e = endless();
  const r = await h.app.request("/api/v1/nodes", { method: "POST", headers: { "content-type": "application/json" }, body: e.stream });
  expect(r.status).toBe(401);
  expect(e.seen.bytes).toBeLessThan(256 * 1024);
});

test("the OpenAPI document lists the 413", async () => {
  h = await harness();
  const doc = (await (await h.req("GET", "/openapi.json")).json()) as {
    paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
  };
  expect(doc.paths["/api/v1/auth/login"]!.post!.responses["413"]!.description).toBe("request body over 4 KiB");
});
