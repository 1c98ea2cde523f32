import { Hono } from "hono";
import { routePath } from "hono/route";
import type { MetricsPort } from "../services/metrics";
import type { BootFiles, HttpBootPort } from "../boot/ports";
import type { StreamAdmission } from "./admission";
import { DroverError } from "../domain/errors";
import { AuthError } from "../services/auth";
import { type ApiDeps, socketAddress } from "./api/context";
import { apiApp, subnetMatcher } from "./api/index";
import { bootRoutes } from "./boot-routes";
import { uiRoutes } from "./ui";
import { COMMIT, VERSION } from "../version";

/** What the HTTP layer needs; built by the composition root. */
export interface HttpDeps {
  startedAt: Date;
  /** Counts for /status; cheap queries only. */
  stats(): { nodes: number; profiles: number };
  /** Which boot services run, for /status. */
  services: () => Record<string, unknown>;
  /** The boot routes' port; absent in tests of the API alone. */
  boot?: HttpBootPort;
  /** iPXE binaries served under /boot/ for UEFI HTTP boot. */
  bootFiles?: BootFiles;
  /** At most so many image downloads at once (drover serve --max-image-streams); absent: no limit. */
  imageAdmission?: StreamAdmission;
  /** The authenticated JSON API (/api/v1) and the web page (/ui/); absent in tests of the boot routes alone. */
  api?: ApiDeps;
  /** Request counts for /metrics (by route pattern, never by path: a MAC per node would be a series per node), and its text. */
  metrics?: { port: MetricsPort; render(): string };
  /**
   * /healthz and /readyz: each returns what is wrong, or nothing. Live: the process answers and its store
   * does. Ready: also every server (DHCP, TFTP) started, so nodes can boot.
   */
  health?: { live(): string | undefined; ready(): string | undefined };
}

const STATUS: Record<DroverError["kind"], 400 | 404 | 409> = { invalid: 400, "not-found": 404, conflict: 409, "in-use": 409 };

export function createApp(deps: HttpDeps): Hono {
  const app = new Hono();
  const counters = { bad: 0 };
  const metrics = deps.metrics;
  if (metrics)
    app.use("*", async (c, next) => {
      const t0 = performance.now();
      await next();
      const path = routePath(c, -1);
      const route = path === "/*" ? "unmatched" : path;
      metrics.port.inc("drover_http_requests_total", { route, method: c.req.method, code: String(c.res.status) });
      const bytes = Number(c.res.headers.get("content-length"));
      if (bytes > 0) metrics.port.inc("drover_http_response_bytes_total", { route }, bytes);
      metrics.port.observe("drover_http_request_duration_seconds", (performance.now() - t0) / 1000, { route });
    });
  if (deps.boot) app.route("/", bootRoutes(deps.boot, deps.bootFiles, counters, deps.imageAdmission));
  if (deps.api) {
    const api = deps.api;
    app.route("/api/v1", apiApp(api).app);
    const inSubnets = api.allowedSubnets?.length ? subnetMatcher(api.allowedSubnets) : undefined;
    app.route("/", uiRoutes(inSubnets ? (c) => inSubnets((api.clientAddress ?? socketAddress)(c)) : undefined));
  }

  app.get("/status", (c) =>
    c.json({
      name: "drover",
      version: VERSION,
      commit: COMMIT,
      startedAt: deps.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
      ...deps.stats(),
      services: deps.services(),
      http: { rejectedRequests: counters.bad, ...(deps.imageAdmission ? { imageStreams: deps.imageAdmission.stats() } : {}) },
    }),
  );

  if (metrics) app.get("/metrics", (c) => c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));
  const health = deps.health;
  if (health) {
    const answer = (problem: string | undefined) => (problem ? { status: "unavailable", problem } : { status: "ok" });
    app.get("/healthz", (c) => {
      const p = health.live();
      return c.json(answer(p), p ? 503 : 200);
    });
    app.get("/readyz", (c) => {
      const p = health.live() ?? health.ready();
      return c.json(answer(p), p ? 503 : 200);
    });
  }

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  // One place turns errors into responses: domain errors keep their message, anything else is a 500.
  app.onError((err, c) => {
    if (err instanceof DroverError) return c.json({ error: err.message, details: err.details }, STATUS[err.kind]);
    if (err instanceof AuthError) {
      if (err.retryAfter) c.header("retry-after", String(err.retryAfter));
      return c.json({ error: err.message }, err.kind === "unauthenticated" ? 401 : err.kind === "forbidden" ? 403 : 429);
    }
    console.error(`drover: ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
