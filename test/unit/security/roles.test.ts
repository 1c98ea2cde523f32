// Issue 13 item 9: every account could do everything, which with templates meant root. Now an account is an
// admin (everything) or a viewer (read only): every route of the API's table is tried as both, by session
// and by token; the remote-CLI WebSocket needs an admin; `drover user` creates, lists and changes roles.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiApp, needsAdmin } from "../../../src/http/api/index";
import { drover, tempDir } from "../../helpers/cli";
import { type Harness, PASSWORD, harness } from "../api/harness";

let h: Harness;
let viewer: { cookie: string; csrf: string };
let admin: { cookie: string; csrf: string };
let viewerToken: string;
/** A second session of the viewer, for the tests after the one that logs out. */
let viewer2: { cookie: string; csrf: string };

beforeAll(async () => {
  h = await harness();
  await h.auth.setPassword("ops", PASSWORD, "viewer");
  viewer = await h.login("ops");
  viewer2 = await h.login("ops");
  admin = await h.login("admin");
  viewerToken = h.auth.createToken("ops-script", "ops").token;
});
afterAll(() => h.cleanup());

const concrete = (path: string) =>
  path.replace(":name", "n1").replace(":id", "999").replace(":mac", "52-54-00-00-00-99").replace(":action", "status");

const routes = () => apiApp(h.deps).router.routes.filter((r) => !r.public);

describe("every route × role", () => {
  test("the table has the routes (and the CLI WebSocket)", () => {
    expect(routes().length).toBeGreaterThan(40);
    expect(routes().some((r) => r.path === "/cli")).toBe(true);
  });

  test("a viewer's session: reads pass, every change, the CLI and tokens are 403 naming what to do", async () => {
    const seen: string[] = [];
    // Logging out last: it ends the session the loop uses.
    for (const r of [...routes().filter((x) => x.path !== "/auth/logout"), ...routes().filter((x) => x.path === "/auth/logout")]) {
      const m = r.method.toUpperCase();
      const res = await h.req(m, concrete(r.path), m === "GET" ? undefined : {}, viewer);
      const refused = res.status === 403;
      seen.push(`${m} ${r.path} ${refused ? "refused" : "allowed"}`);
      expect({ route: `${m} ${r.path}`, refused }).toEqual({ route: `${m} ${r.path}`, refused: needsAdmin(m, r.path) });
      if (refused) expect(await res.text()).toContain("'ops' is a viewer (read only); this needs an admin: drover user role ops admin");
      else expect(res.status).not.toBe(401);
    }
    // Reads a viewer has, and changes it has not.
    expect(seen).toContain("GET /nodes allowed");
    expect(seen).toContain("GET /overlays/:name/render allowed");
    expect(seen).toContain("PUT /overlays/:name/file refused");
    expect(seen).toContain("POST /nodes refused");
    expect(seen).toContain("PATCH /settings refused");
    expect(seen).toContain("GET /cli refused");
    expect(seen).toContain("GET /tokens refused");
    expect(seen).toContain("POST /auth/logout allowed");
  });

  test("a viewer's API token: the same", async () => {
    for (const r of routes()) {
      const m = r.method.toUpperCase();
      if (r.path === "/auth/logout") continue;
      const res = await h.app.request(`/api/v1${concrete(r.path)}`, {
        method: m,
        headers: { authorization: `Bearer ${viewerToken}`, "content-type": "application/json" },
        ...(m === "GET" ? {} : { body: "{}" }),
      });
      expect({ route: `${m} ${r.path}`, refused: res.status === 403 }).toEqual({ route: `${m} ${r.path}`, refused: needsAdmin(m, r.path) });
    }
  });

  test("an admin is refused nothing (by token: the CLI WebSocket takes tokens only)", async () => {
    const token = h.auth.createToken("admin-script", "admin").token;
    for (const r of routes()) {
      const m = r.method.toUpperCase();
      if (r.path === "/auth/logout") continue;
      const res = await h.app.request(`/api/v1${concrete(r.path)}`, {
        method: m,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(m === "GET" ? {} : { body: "{}" }),
      });
      expect({ route: `${m} ${r.path}`, status: res.status === 403 ? 403 : "ok" }).toEqual({ route: `${m} ${r.path}`, status: "ok" });
    }
  });

  test("the session says the role (the page hides what a viewer cannot do)", async () => {
    expect(await (await h.req("GET", "/auth/session", undefined, viewer2)).json()).toMatchObject({ user: "ops", role: "viewer" });
    expect(await (await h.req("GET", "/auth/session", undefined, admin)).json()).toMatchObject({ user: "admin", role: "admin" });
  });

  test("a viewer cannot write a template (the way templates were root)", async () => {
    const res = await h.req("PUT", "/overlays/site/file", { path: "etc/x.eta", text: "<%= 1 %>" }, viewer2);
    expect(res.status).toBe(403);
  });
});

describe("drover user", () => {
  test("passwd --role, role, list; the last admin stays an admin; a role change ends the account's sessions", async () => {
    const { dir, cleanup } = tempDir();
    try {
      let r = await drover(dir, "user", "passwd", "admin", "--random");
      expect(r.code).toBe(0);
      r = await drover(dir, "user", "passwd", "ops", "--random", "--role", "viewer");
      expect(r.code).toBe(0);
      r = await drover(dir, "user", "list", "--json");
      expect(JSON.parse(r.out)).toEqual([
        { name: "admin", role: "admin" },
        { name: "ops", role: "viewer" },
      ]);
      r = await drover(dir, "user", "role", "admin", "viewer");
      expect(r.code).toBe(2);
      expect(r.err).toContain("'admin' is the last admin; make another account admin first");
      expect((await drover(dir, "user", "role", "ops", "admin")).out).toBe("ops is now an admin\n");
      expect((await drover(dir, "user", "role", "admin", "viewer")).code).toBe(0);
      expect((await drover(dir, "user", "role", "ops", "root")).err).toContain("role 'root' is not one of admin, viewer");
      r = await drover(dir, "user", "list");
      expect(r.out).toMatch(/admin\s+viewer/);
      expect(r.out).toMatch(/ops\s+admin/);
    } finally {
      cleanup();
    }
  }, 30_000);

  test("a role change ends the account's sessions", async () => {
    await h.auth.setPassword("tmp", PASSWORD, "admin");
    const s = await h.login("tmp");
    expect((await h.req("GET", "/nodes", undefined, s)).status).toBe(200);
    h.auth.setRole("tmp", "viewer");
    expect((await h.req("GET", "/nodes", undefined, s)).status).toBe(401);
  });
});
