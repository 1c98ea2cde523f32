// Issue 13 item 9: every account could do everything, which with templates meant root. Now an account is an
// admin (everything) or a viewer (read only). Which routes a viewer may use is written out below, route by
// route; every route the app serves under /api/v1 is tried as a viewer (session and token) and as an admin
// and must land on its listed side. The remote-CLI WebSocket needs an admin; `drover user` creates, lists and
// changes roles.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiApp } from "../../../src/http/api/index";
import { drover, tempDir } from "../../helpers/cli";
import { type Harness, PASSWORD, harness } from "../api/harness";

/** Reachable without a session or token. */
const PUBLIC = ["POST /auth/login", "GET /auth/session"];

/** What a viewer may use: reads that show no secret a node is given, and ending its own session. */
const VIEWER = [
  "POST /auth/logout",
  "GET /nodes",
  "GET /nodes/:name",
  "GET /nodes/:name/events",
  "GET /profiles",
  "GET /profiles/:name",
  "GET /status/nodes",
  "GET /events",
  "GET /discovery",
  "GET /images",
  "GET /images/:name",
  "GET /images/:name/kernels",
  "GET /jobs",
  "GET /jobs/:id",
  "GET /overlays",
  "GET /overlays/:name",
  "GET /lint/overlays",
  "GET /power-jobs/:id",
  "GET /power/states",
  "GET /settings",
  "GET /openapi.json",
];

/**
 * What only an admin may use: every change, API tokens, the remote CLI, and overlay contents and renders (what
 * nodes are given: private SSH host keys, munge keys, BMC passwords a template prints).
 */
const ADMIN = [
  "GET /tokens",
  "POST /tokens",
  "DELETE /tokens/:id",
  "POST /nodes",
  "PATCH /nodes",
  "PATCH /nodes/:name",
  "DELETE /nodes/:name",
  "POST /profiles",
  "PATCH /profiles/:name",
  "DELETE /profiles/:name",
  "POST /discovery/:mac/accept",
  "POST /discovery/:mac/ignore",
  "DELETE /discovery/:mac",
  "POST /images",
  "POST /images/:name/build",
  "DELETE /images/:name",
  "POST /overlays",
  "DELETE /overlays/:name",
  "GET /overlays/:name/file",
  "PUT /overlays/:name/file",
  "GET /overlays/:name/render",
  "GET /nodes/:name/overlay",
  "POST /power/:action",
  "POST /power-jobs",
  "GET /cli",
  "PATCH /settings",
];

const REFUSAL = (user: string) => `'${user}' is a viewer (read only); this needs an admin: drover user role ${user} admin`;

let h: Harness;
let viewer: { cookie: string; csrf: string };
let admin: { cookie: string; csrf: string };
let viewerToken: string;
let adminToken: string;
/** A second session of the viewer, for the tests after the one that logs out. */
let viewer2: { cookie: string; csrf: string };

beforeAll(async () => {
  h = await harness();
  await h.auth.setPassword("ops", PASSWORD, "viewer");
  viewer = await h.login("ops");
  viewer2 = await h.login("ops");
  admin = await h.login("admin");
  viewerToken = h.auth.createToken("ops-script", "ops").token;
  adminToken = h.auth.createToken("admin-script", "admin").token;
});
afterAll(() => h.cleanup());

/** Every route the whole app serves under /api/v1, as "METHOD /path" (middleware left out). */
const served = () =>
  h.app.routes
    .filter((r) => r.method !== "ALL" && r.path.startsWith("/api/v1/"))
    .map((r) => `${r.method} ${r.path.slice("/api/v1".length)}`)
    .filter((r, i, all) => all.indexOf(r) === i);
const authenticated = () => served().filter((r) => !PUBLIC.includes(r));
const sorted = (l: string[]) => [...l].sort();

const concrete = (path: string) => path.replace(":name", "n1").replace(":id", "999").replace(":mac", "52-54-00-00-00-99").replace(":action", "status");

const byToken = (token: string, method: string, path: string) =>
  h.app.request(`/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(method === "GET" || method === "HEAD" ? {} : { body: "{}" }),
  });

describe("the list is the table", () => {
  test("every route the app serves is listed once, on one side; a new route fails here until it is put on one", () => {
    const listed = [...PUBLIC, ...VIEWER, ...ADMIN];
    expect(listed.filter((r, i) => listed.indexOf(r) !== i)).toEqual([]);
    expect(sorted(served())).toEqual(sorted(listed));
    // The router's table (which the OpenAPI document is made from) says the same about public routes.
    const table = apiApp(h.deps).router.routes;
    expect(sorted(table.map((r) => `${r.method.toUpperCase()} ${r.path}`))).toEqual(sorted(listed));
    expect(sorted(table.filter((r) => r.public).map((r) => `${r.method.toUpperCase()} ${r.path}`))).toEqual(sorted(PUBLIC));
  });
});

describe("secrets nodes are given (issue 13's audit: a viewer could read them)", () => {
  const BMC_PASSWORD = "bmc-Pa55-word";
  const MUNGE = "munge-key-0123456789abcdef";
  const KEY = "BEGIN OPENSSH PRIVATE KEY";
  const ASSET_KEY = "asset-key-4242";
  const secretsIn = (text: string) => [BMC_PASSWORD, MUNGE, KEY, ASSET_KEY].filter((s) => text.includes(s));
  /** The reads that show contents, each with what an admin finds there. */
  const CONTENT: [string, string[]][] = [
    ["/nodes/keys01/overlay?kind=system", [BMC_PASSWORD, MUNGE, KEY]],
    ["/overlays/ssh.host_keys/render?path=etc/ssh/host_keys.eta&node=keys01", [KEY]],
    ["/overlays/bmc/render?path=etc/bmc.conf.eta&node=keys01", [BMC_PASSWORD]],
    ["/overlays/secrets/file?path=etc/munge/munge.key", [MUNGE]],
  ];

  beforeAll(() => {
    h.svc.overlays.create("secrets");
    h.svc.overlays.writeFile("secrets", "etc/munge/munge.key", `${MUNGE}\n`, { mode: 0o400 });
    h.svc.overlays.create("bmc");
    h.svc.overlays.writeFile("bmc", "etc/bmc.conf.eta", "password=<%= it.node.ipmi.password %>\n");
    h.svc.nodes.addNodes(
      ["keys01"],
      { set: { systemOverlay: ["ssh.host_keys", "secrets", "bmc"], ipmi: { ipaddr: "10.9.0.1", password: BMC_PASSWORD }, assetKey: ASSET_KEY } },
      { allowMissingImage: true },
    );
    h.svc.nodes.addProfiles(["bmcprof"], { set: { ipmi: { password: BMC_PASSWORD } } });
  });

  test("an admin reads them (so the refusals below are about something real)", async () => {
    for (const [path, secrets] of CONTENT) {
      const res = await byToken(adminToken, "GET", path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect({ path, found: secretsIn(await res.text()) }).toEqual({ path, found: secrets });
    }
  }, 30_000);

  test("a viewer gets 403 for each, by session, token and HEAD, with the refusal's wording", async () => {
    for (const [path] of CONTENT) {
      for (const res of [await h.req("GET", path, undefined, viewer2), await byToken(viewerToken, "GET", path)]) {
        const text = await res.text();
        expect({ path, status: res.status, secrets: secretsIn(text) }).toEqual({ path, status: 403, secrets: [] });
        expect(text).toContain(REFUSAL("ops"));
      }
      expect({ path, head: (await byToken(viewerToken, "HEAD", path)).status }).toEqual({ path, head: 403 });
    }
  });

  test("every read a viewer may make, for these nodes and overlays, shows none of them; the tree still shows paths, modes, sizes and users", async () => {
    for (const route of VIEWER.filter((r) => r.startsWith("GET ") && r !== "GET /events")) {
      const path = route.slice(4);
      const names = path.includes(":name") ? ["keys01", "bmcprof", "secrets", "bmc", "ssh.host_keys"] : [""];
      for (const name of names) {
        const p = path.replace(":name", name).replace(":id", "999");
        const text = await (await byToken(viewerToken, "GET", p)).text();
        expect({ p, secrets: secretsIn(text) }).toEqual({ p, secrets: [] });
      }
    }
    const tree = await (await byToken(viewerToken, "GET", "/overlays/secrets")).json();
    expect(tree.users).toEqual(["keys01"]);
    expect(tree.entries).toContainEqual(expect.objectContaining({ path: "etc/munge/munge.key", type: "file", mode: 0o400, size: MUNGE.length + 1 }));
    const node = await (await byToken(viewerToken, "GET", "/nodes/keys01")).json();
    expect(node.conf.systemOverlay).toEqual(expect.arrayContaining(["ssh.host_keys", "secrets", "bmc"]));
  }, 30_000);
});

describe("every route × role", () => {
  test("a viewer's session: the listed reads pass, everything else is 403 naming what to do", async () => {
    const routes = authenticated();
    expect(routes.length).toBe(VIEWER.length + ADMIN.length);
    // Logging out last: it ends the session the loop uses.
    for (const route of [...routes.filter((x) => x !== "POST /auth/logout"), "POST /auth/logout"]) {
      const [m, path] = route.split(" ") as [string, string];
      const res = await h.req(m, concrete(path), m === "GET" ? undefined : {}, viewer);
      const refused = res.status === 403;
      expect({ route, refused }).toEqual({ route, refused: ADMIN.includes(route) });
      if (refused) expect(await res.text()).toContain(REFUSAL("ops"));
      else {
        expect({ route, status: res.status }).not.toEqual({ route, status: 401 });
        await res.body?.cancel();
      }
    }
  });

  test("a viewer's API token: the same", async () => {
    for (const route of authenticated()) {
      if (route === "POST /auth/logout") continue;
      const [m, path] = route.split(" ") as [string, string];
      const res = await byToken(viewerToken, m, concrete(path));
      const refused = res.status === 403;
      expect({ route, refused }).toEqual({ route, refused: ADMIN.includes(route) });
      if (refused) expect(await res.text()).toContain(REFUSAL("ops"));
      else await res.body?.cancel();
    }
  });

  test("an admin is refused nothing (by token: the CLI WebSocket takes tokens only)", async () => {
    for (const route of authenticated()) {
      const [m, path] = route.split(" ") as [string, string];
      const res = await byToken(adminToken, m, concrete(path));
      expect({ route, status: res.status === 403 || res.status === 401 ? res.status : "ok" }).toEqual({ route, status: "ok" });
      await res.body?.cancel();
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
