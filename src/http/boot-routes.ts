import { type Context, Hono } from "hono";
import { getConnInfo } from "hono/bun";
import type { BootFileKind, BootFiles, BootRequest, HttpBootPort } from "../boot/ports";
import { sanitizeBootPath } from "../boot/sanitize";
import { isMac, normalizeMac } from "../domain/net";
import type { StreamAdmission } from "./admission";
import { sendFile } from "./send-file";

/** The downloads admission control meters: the big ones, which a boot storm asks of every node at once. */
const METERED: ReadonlySet<BootFileKind> = new Set(["image", "stage1"]);

/**
 * The unauthenticated routes firmware and nodes use: iPXE scripts, kernels, images, overlays, iPXE binaries
 * over HTTP, and the node's own callbacks. They depend only on the boot ports.
 * MACs may be written with colons or dashes (iPXE's ${mac:hexhyp}).
 */
export function bootRoutes(port: HttpBootPort, files: BootFiles | undefined, counters: { bad: number }, admission?: StreamAdmission): Hono {
  const app = new Hono();

  const request = (c: Context): BootRequest => {
    let remote: string | undefined;
    let remotePort: number | undefined;
    try {
      const info = getConnInfo(c);
      remote = info.remote.address?.replace(/^::ffff:/, "");
      remotePort = info.remote.port;
    } catch {
      // app.request() in tests has no socket
    }
    const host = c.req.header("host") ?? "localhost";
    return {
      base: `http://${host}`,
      query: c.req.query(),
      ...(remote ? { remote } : {}),
      ...(remotePort ? { remotePort } : {}),
      ...(c.req.header("if-none-match") ? { ifNoneMatch: c.req.header("if-none-match") } : {}),
    };
  };
  const macOf = (raw: string) => (isMac(raw) ? normalizeMac(raw) : undefined);
  const badMac = (raw: string) => {
    counters.bad++;
    return new Response(`drover: '${raw.slice(0, 40)}' is not a MAC address\n`, { status: 400, headers: { "content-type": "text/plain" } });
  };

  app.get("/ipxe/:mac", async (c) => {
    const mac = macOf(c.req.param("mac"));
    if (!mac) return badMac(c.req.param("mac"));
    // Any boot request of a node means its last download is over (admission.ts): the slot goes back.
    admission?.touch(mac);
    const r = await port.ipxeScript(mac, request(c));
    return c.text(r.script, r.status as 200);
  });

  for (const kind of ["kernel", "stage1", "image", "system", "runtime"] as BootFileKind[]) {
    app.on(["GET", "HEAD"], `/${kind}/:mac`, async (c) => {
      const mac = macOf(c.req.param("mac"));
      if (!mac) return badMac(c.req.param("mac"));
      // Admission first (before anything is recorded): a node over the limit waits a little or is told when
      // to come back, and its next request is the one that counts. HEAD and If-None-Match cost no stream.
      const metered = admission && admission.limit > 0 && METERED.has(kind) && c.req.method === "GET" && !c.req.header("if-none-match");
      if (!metered) admission?.touch(mac);
      const slot = metered ? await admission.admit(mac) : undefined;
      if (slot && !slot.admitted) {
        return c.text(`drover: ${slot.active} image downloads are running (--max-image-streams ${slot.limit}); try again in ${slot.retryAfterS} s\n`, 503, {
          "retry-after": String(slot.retryAfterS),
        });
      }
      let r: Awaited<ReturnType<HttpBootPort["file"]>>;
      try {
        r = await port.file(kind, mac, request(c));
      } catch (e) {
        if (slot?.admitted) slot.release();
        throw e;
      }
      if ("refused" in r) {
        if (slot?.admitted) slot.release();
        return c.text(`drover: ${r.message}\n`, r.status);
      }
      if (slot?.admitted) slot.hold(r.size);
      return sendFile(c.req.raw, r);
    });
  }

  // The node reports progress itself: GET or POST /callback/MAC?stage=booted|heartbeat|error&detail=…
  // (or /callback?mac=MAC&…, for images whose scripts know the server but not the MAC in advance).
  app.on(["GET", "POST"], ["/callback/:mac", "/callback"], async (c) => {
    const raw = c.req.param("mac") ?? c.req.query("mac") ?? "";
    const mac = macOf(raw);
    if (!mac) return badMac(raw);
    const stage = c.req.query("stage") ?? "booted";
    if (stage !== "booted" && stage !== "heartbeat" && stage !== "error") return c.text("drover: stage must be booted, heartbeat or error\n", 400);
    admission?.touch(mac);
    const ok = await port.callback(mac, stage, request(c), c.req.query("detail"));
    return ok ? c.text("ok\n") : c.text("drover: unknown node or wrong asset key\n", 404);
  });

  // iPXE binaries over HTTP (UEFI HTTP boot), from the same tree TFTP serves.
  app.on(["GET", "HEAD"], "/boot/*", async (c) => {
    if (!files) return c.text("drover: no boot files configured\n", 404);
    let raw: string;
    try {
      raw = decodeURIComponent(c.req.path.slice("/boot/".length));
    } catch {
      counters.bad++;
      return c.text("drover: refused file name: a bad %-escape\n", 400);
    }
    const s = sanitizeBootPath(raw);
    if (!s.ok) {
      counters.bad++;
      return c.text(`drover: refused file name: ${s.detail}\n`, 400);
    }
    const f = await files.open(s.name);
    if (!f) return c.text(`drover: no such boot file: ${s.name}\n`, 404);
    const etag = `"${f.size.toString(16)}-${Bun.hash(f.data).toString(16)}"`;
    return sendFile(c.req.raw, { size: f.size, data: f.data, etag });
  });

  return app;
}
