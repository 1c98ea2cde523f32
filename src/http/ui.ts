import { Hono } from "hono";
import { join } from "node:path";
import { CSS } from "../../ui/style";

/**
 * The web page: one HTML shell, one JavaScript bundle (Preact + htm, from ui/), one stylesheet. Nothing is
 * fetched from the internet. The compiled executable carries the bundle (build.ts bundles ui/ and defines
 * DROVER_UI_BUNDLE); run from source, the bundle is built from ui/ on first request.
 * The shell doubles as the login page, so it is served without a session; everything it shows comes from
 * the authenticated API.
 */
declare const DROVER_UI_BUNDLE: string | undefined;

/** Bundles ui/main.ts (build.ts calls this too). */
export async function bundleUi(root = join(import.meta.dir, "../..")): Promise<string> {
  const r = await Bun.build({ entrypoints: [join(root, "ui/main.ts")], minify: true, target: "browser", format: "esm" });
  if (!r.success) throw new Error(`ui bundle failed:\n${r.logs.map(String).join("\n")}`);
  return r.outputs[0]!.text();
}

let bundle: Promise<string> | undefined;
const uiBundle = () => (bundle ??= typeof DROVER_UI_BUNDLE === "string" ? Promise.resolve(DROVER_UI_BUNDLE) : bundleUi());

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>drover</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
</head>
<body>
<div id="app"><noscript>drover's page needs JavaScript.</noscript></div>
<script type="module" src="/ui/app.js"></script>
</body>
</html>
`;

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

export function uiRoutes(allowed?: (c: import("hono").Context) => boolean): Hono {
  const app = new Hono();
  // Only the page's own paths: a "*" middleware here would also cover /status and the boot routes.
  app.use("/", guard);
  app.use("/ui", guard);
  app.use("/ui/*", guard);
  async function guard(c: import("hono").Context, next: () => Promise<void>) {
    if (allowed && !allowed(c)) return c.text("drover: this page is not open to your address\n", 403);
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  }
  app.get("/", (c) => c.redirect("/ui/"));
  app.get("/ui", (c) => c.redirect("/ui/"));
  app.get("/ui/", (c) => c.html(HTML, 200, { "cache-control": "no-cache" }));
  app.get("/ui/app.js", async (c) => c.body(await uiBundle(), 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" }));
  app.get("/ui/app.css", (c) => c.body(CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" }));
  return app;
}
