import { afterEach, expect, test } from "bun:test";
import { createApp } from "../../../src/http/app";
import { drover, tempDir } from "../../helpers/cli";
import { type Harness, PASSWORD, harness } from "./harness";

let h: Harness | undefined;
afterEach(() => h?.cleanup());

const login = (app: Harness["app"], password: string, url = "http://drover.test/api/v1/auth/login") =>
  app.request(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "admin", password }) });

test("the session cookie is HttpOnly, SameSite=Strict, and Secure over TLS only", async () => {
  h = await harness();
  const plain = (await login(h.app, PASSWORD)).headers.get("set-cookie")!;
  expect(plain).toMatch(/^drover_session=[\w-]{40,};/);
  expect(plain).toContain("HttpOnly");
  expect(plain).toContain("SameSite=Strict");
  expect(plain).toContain("Path=/");
  expect(plain).not.toContain("Secure");
  const tls = (await login(h.app, PASSWORD, "https://drover.test/api/v1/auth/login")).headers.get("set-cookie")!;
  expect(tls).toContain("Secure");
});

test("a change without the CSRF token is refused and changes nothing", async () => {
  h = await harness();
  const s = await h.login();
  const r = await h.app.request("/api/v1/nodes", {
    method: "POST",
    headers: { cookie: s.cookie, "content-type": "application/json" },
    body: JSON.stringify({ names: "evil1" }),
  });
  expect(r.status).toBe(403);
  expect(h.svc.nodes.counts().nodes).toBe(0);
  const ok = await h.req("POST", "/nodes", { names: "good1" }, s);
  expect(ok.status).toBe(201);
});

test("repeated wrong passwords are slowed: refused without checking until the wait is over", async () => {
  h = await harness();
  for (let i = 0; i < 3; i++) expect((await login(h.app, "wrong")).status).toBe(401);
  expect((await login(h.app, "wrong")).status).toBe(401); // 4th: from now on each attempt waits
  const limited = await login(h.app, PASSWORD);
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  h.clock.now += 1500;
  expect((await login(h.app, "wrong")).status).toBe(401); // the wait grows: 2 s now
  h.clock.now += 1500;
  expect((await login(h.app, PASSWORD)).status).toBe(429);
  h.clock.now += 1000;
  expect((await login(h.app, PASSWORD)).status).toBe(200);
  expect((await login(h.app, "wrong")).status).toBe(401); // success reset the count
});

test("logout ends the session", async () => {
  h = await harness();
  const s = await h.login();
  expect((await h.req("GET", "/auth/session", undefined, s)).status).toBe(200);
  const out = await h.req("POST", "/auth/logout", {}, s);
  expect(out.headers.get("set-cookie")).toContain("drover_session=;");
  expect(await (await h.req("GET", "/auth/session", undefined, s)).json()).toEqual({ user: null, version: "test" });
  expect((await h.req("GET", "/nodes", undefined, s)).status).toBe(401);
});

test("an expired session is refused", async () => {
  h = await harness();
  const s = await h.login();
  h.clock.now += 13 * 3600 * 1000;
  expect((await h.req("GET", "/nodes", undefined, s)).status).toBe(401);
});

test("API tokens work without CSRF, are listed without their secret, and stop working when revoked", async () => {
  h = await harness();
  const created = (await (await h.req("POST", "/tokens", { name: "ci" })).json()) as { id: number; token: string };
  expect(created.token).toMatch(/^drv_/);
  const bearer = { authorization: `Bearer ${created.token}`, "content-type": "application/json" };
  expect((await h.app.request("/api/v1/nodes", { method: "POST", headers: bearer, body: JSON.stringify({ names: "t1" }) })).status).toBe(201);
  const listed = JSON.stringify(await (await h.req("GET", "/tokens")).json());
  expect(listed).toContain('"name":"ci"');
  expect(listed).not.toContain(created.token);
  expect((await h.req("DELETE", `/tokens/${created.id}`)).status).toBe(200);
  expect((await h.app.request("/api/v1/nodes", { headers: bearer })).status).toBe(401);
});

test("the API and the page can be limited to listed subnets", async () => {
  h = await harness();
  let addr = "10.0.0.5";
  const app = createApp({
    startedAt: new Date(),
    stats: () => ({ nodes: 0, profiles: 0 }),
    services: () => ({}),
    api: { ...h.deps, allowedSubnets: ["10.0.0.0/24"], clientAddress: () => addr },
  });
  expect((await login(app, PASSWORD)).status).toBe(200);
  expect((await app.request("/ui/")).status).toBe(200);
  addr = "192.168.1.9";
  expect((await login(app, PASSWORD)).status).toBe(403);
  expect((await app.request("/ui/")).status).toBe(403);
  expect((await app.request("/status")).status).toBe(200); // /status stays open
});

test("the page is served with a strict content security policy", async () => {
  h = await harness();
  const r = await h.app.request("/ui/");
  expect(r.headers.get("content-security-policy")).toContain("default-src 'self'");
  expect(await r.text()).toContain('<script type="module" src="/ui/app.js">');
  const js = await h.app.request("/ui/app.js");
  expect(js.headers.get("content-type")).toContain("javascript");
  expect((await js.text()).length).toBeGreaterThan(10_000);
});

test('drover "user", "passwd" and "user", "token", "create" / "list" / "revoke"', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let r = await drover(dir, "user", "passwd", "--random");
    expect(r.code).toBe(0);
    const pw = /password of admin: (\S+)/.exec(r.out)![1]!;
    expect(pw.length).toBe(20);
    r = await drover(dir, "user", "passwd", "ops");
    expect(r.code).toBe(2);
    expect(r.err).toContain("no password given");
    r = await drover(dir, "user", "token", "create", "ci");
    expect(r.code).toBe(0);
    const token = r.out.trim();
    expect(token).toMatch(/^drv_/);
    r = await drover(dir, "user", "token", "list", "--json");
    expect(JSON.parse(r.out)).toEqual([expect.objectContaining({ id: 1, name: "ci", user: "admin" })]);
    r = await drover(dir, "user", "token", "revoke", "ci");
    expect(r.out).toContain("revoked token 1 'ci'");
    r = await drover(dir, "user", "token", "list");
    expect(r.out).toMatch(/ci\s+admin\s+drv_\S+…\s+\S+\s+\S+Z/);
  } finally {
    cleanup();
  }
});
