import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { invalid } from "../../domain/errors";
import { parseIPv4, prefixToNetmask } from "../../domain/net";
import { AuthError } from "../../services/auth";
import { cliRoutes } from "./cli";
import { type ApiDeps, type ApiEnv, socketAddress } from "./context";
import { imageRoutes } from "./images";
import { nodeRoutes } from "./nodes";
import { overlayRoutes } from "./overlays";
import { powerRoutes } from "./power";
import { ApiRouter, param, viewerRefused } from "./router";
import { settingsRoutes } from "./settings";

export const SESSION_COOKIE = "drover_session";
export const CSRF_HEADER = "x-csrf-token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * What needs the admin role: every change (any method but GET/HEAD/OPTIONS, except ending one's own
 * session), the remote-CLI WebSocket (a command can change anything), and API tokens (who can act as whom).
 * A viewer reads everything else but the reads a route marks `adminOnly` (file contents and rendered
 * overlays: what nodes are given, secrets included), which the router refuses.
 */
export function needsAdmin(method: string, path: string): boolean {
  if (path === "/auth/logout") return false;
  if (path === "/cli" || path.startsWith("/cli/") || path === "/tokens" || path.startsWith("/tokens/")) return true;
  return !SAFE.has(method);
}

/** Parses "10.0.0.0/24" into a matcher; throws on anything else. */
export function subnetMatcher(cidrs: readonly string[]): (ip: string | undefined) => boolean {
  const nets = cidrs.map((c) => {
    const [net, p] = c.split("/");
    const prefix = p === undefined ? 32 : Number(p);
    const v = net ? parseIPv4(net) : undefined;
    if (v === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw invalid(`--api-subnet '${c}' is not an IPv4 subnet like 10.0.0.0/24`);
    const mask = prefix === 0 ? 0 : parseIPv4(prefixToNetmask(prefix))!;
    return { net: (v & mask) >>> 0, mask };
  });
  return (ip) => {
    const v = ip === "::1" ? parseIPv4("127.0.0.1") : ip ? parseIPv4(ip) : undefined;
    return v !== undefined && nets.some((n) => (v & n.mask) >>> 0 === n.net);
  };
}

/**
 * The authenticated JSON API under /api/v1. Every route needs a session cookie (with the session's CSRF token
 * in X-CSRF-Token on any change) or an API token (Authorization: Bearer drv_…); only login is public. With
 * `allowedSubnets`, clients elsewhere get 403 before anything else is looked at.
 */
export function apiApp(deps: ApiDeps): { app: Hono<ApiEnv>; router: ApiRouter } {
  const app = new Hono<ApiEnv>();
  const router = new ApiRouter(app);
  const clientOf = (c: Context) => (deps.clientAddress ?? socketAddress)(c);
  const allowed = deps.allowedSubnets?.length ? subnetMatcher(deps.allowedSubnets) : undefined;
  const secure = (c: Context) => deps.secureCookies === true || new URL(c.req.url).protocol === "https:";

  // Every change through the API or the web page, refused ones too, in the log: who, from where, what.
  // Bodies are not logged (passwords, BMC credentials); remote CLI commands are logged by drover serve.
  if (deps.log) {
    const audit = deps.log;
    app.use("*", async (c, next) => {
      if (SAFE.has(c.req.method)) return next();
      let failed: unknown;
      try {
        await next();
      } catch (e) {
        failed = e;
        throw e;
      } finally {
        const who = c.get("user") ? `${c.get("user")} (${c.get("via")})` : "anonymous";
        const status = failed ? "error" : String(c.res.status);
        const ok = !failed && c.res.status < 400;
        audit(`api: ${c.req.method} ${c.req.path} by ${who} from ${clientOf(c) ?? "unknown"}: ${ok ? status : `${status} refused`}`);
      }
    });
  }
  app.use("*", async (c, next) => {
    if (allowed && !allowed(clientOf(c)))
      throw new AuthError("forbidden", `the API is not open to ${clientOf(c) ?? "this client"}; see drover serve --api-subnet`);
    c.header("cache-control", "no-store");
    const path = c.req.path.replace(/^\/api\/v1/, "");
    if (path === "/auth/login" && c.req.method === "POST") return next();
    const auth = c.req.header("authorization");
    if (auth) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      const t = deps.auth.verifyToken(m?.[1]);
      if (!t) throw new AuthError("unauthenticated", "the API token is unknown or revoked; create one with 'drover user token create NAME'");
      c.set("user", t.user);
      c.set("role", t.role);
      c.set("via", "token");
      if (t.role !== "admin" && needsAdmin(c.req.method, path)) throw viewerRefused(t.user);
      return next();
    }
    const s = deps.auth.session(getCookie(c, SESSION_COOKIE));
    // The page asks whether it is logged in before showing the login form; that question is public.
    if (!s && path === "/auth/session" && c.req.method === "GET") return next();
    if (!s) throw new AuthError("unauthenticated", "log in first (POST /api/v1/auth/login), or send Authorization: Bearer TOKEN");
    // Cookies ride along on cross-site requests; a change must also carry the token only our page can read.
    if (!SAFE.has(c.req.method) && !deps.auth.csrfMatches(s, c.req.header(CSRF_HEADER)))
      throw new AuthError("forbidden", "missing or wrong X-CSRF-Token header (reload the page)");
    c.set("user", s.user);
    c.set("role", s.role);
    c.set("via", "session");
    c.set("csrf", s.csrf);
    if (s.role !== "admin" && needsAdmin(c.req.method, path)) throw viewerRefused(s.user);
    return next();
  });

  // ---- authentication ----
  router.add(
    {
      method: "post",
      path: "/auth/login",
      tag: "auth",
      public: true,
      // Anyone can send this one: a user name and a password fit in far less.
      maxBody: 4 * 1024,
      summary: "log in; sets the HttpOnly session cookie and returns the CSRF token for later changes",
      body: z.object({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }),
    },
    async (c, { body }) => {
      const s = await deps.auth.login(body.user, body.password, clientOf(c) ?? "unknown");
      setCookie(c, SESSION_COOKIE, s.token, { httpOnly: true, sameSite: "Strict", secure: secure(c), path: "/", expires: new Date(s.expiresAt) });
      return c.json({ user: s.user, role: s.role, csrf: s.csrf, expiresAt: s.expiresAt });
    },
  );
  router.add({ method: "post", path: "/auth/logout", tag: "auth", summary: "end this session" }, (c) => {
    deps.auth.logout(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "Strict", secure: secure(c) });
    return c.json({ ok: true });
  });
  // The version is public already (GET /status); the page shows it in its header and on the login form.
  router.add(
    {
      method: "get",
      path: "/auth/session",
      tag: "auth",
      public: true,
      summary: "who is logged in (user null when nobody), the session's CSRF token, and drover's version",
    },
    (c) =>
      c.json(
        c.get("user")
          ? { user: c.get("user"), role: c.get("role"), via: c.get("via"), ...(c.get("csrf") ? { csrf: c.get("csrf") } : {}), version: deps.version }
          : { user: null, version: deps.version },
      ),
  );
  router.add({ method: "get", path: "/tokens", tag: "auth", summary: "API tokens (secrets are never shown again)" }, (c) => c.json(deps.auth.tokens()));
  router.add(
    {
      method: "post",
      path: "/tokens",
      tag: "auth",
      summary: "create an API token for the current user; the secret is in this answer only",
      body: z.object({ name: z.string().min(1).max(64) }),
      status: 201,
    },
    (c, { body }) => c.json(deps.auth.createToken(body.name, c.get("user")), 201),
  );
  router.add({ method: "delete", path: "/tokens/:id", tag: "auth", summary: "revoke an API token (by id or name)" }, (c) =>
    c.json(deps.auth.revokeToken(param(c, "id"))),
  );

  // ---- everything else ----
  nodeRoutes(router, deps);
  imageRoutes(router, deps);
  overlayRoutes(router, deps);
  powerRoutes(router, deps);
  cliRoutes(router, deps);

  settingsRoutes(router, deps);
  router.add({ method: "get", path: "/openapi.json", tag: "meta", summary: "this document" }, (c) => c.json(router.openapi({ version: deps.version })));
  app.notFound((c) => c.json({ error: `no API route for ${c.req.method} ${c.req.path}; see /api/v1/openapi.json` }, 404));
  return { app, router };
}
