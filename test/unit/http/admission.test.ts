import { afterAll, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootArtifact, BootFileKind, HttpBootPort } from "../../../src/boot/ports";
import { StreamAdmission } from "../../../src/http/admission";
import { bootRoutes } from "../../../src/http/boot-routes";
import { tempDir } from "../../helpers/cli";

const tick = () => Bun.sleep(0);

describe("StreamAdmission: the limit and the queue", () => {
  test("under the limit every request streams at once; limit 0 never says no", async () => {
    const a = new StreamAdmission({ limit: 2 });
    const [x, y] = [await a.admit("m1"), await a.admit("m2")];
    expect(x.admitted && y.admitted).toBe(true);
    expect(a.stats()).toMatchObject({ limit: 2, active: 2, queued: 0, admitted: 2, deferred: 0 });
    const none = new StreamAdmission({ limit: 0 });
    for (let i = 0; i < 100; i++) expect((await none.admit(`m${i}`)).admitted).toBe(true);
  });

  test("over the limit a request waits; a released slot goes to the first one waiting (FIFO), active stays at the limit", async () => {
    const a = new StreamAdmission({ limit: 1, queueMs: 10_000 });
    const first = await a.admit("m1");
    const order: string[] = [];
    const second = a.admit("m2").then((s) => (order.push("m2"), s));
    const third = a.admit("m3").then((s) => (order.push("m3"), s));
    await tick();
    expect(a.stats()).toMatchObject({ active: 1, queued: 2 });
    if (!first.admitted) throw new Error("first not admitted");
    first.release();
    first.release(); // twice is once
    const s2 = await second;
    expect(s2.admitted).toBe(true);
    expect(order).toEqual(["m2"]);
    expect(a.stats()).toMatchObject({ active: 1, queued: 1 });
    if (s2.admitted) s2.release();
    expect((await third).admitted).toBe(true);
    expect(order).toEqual(["m2", "m3"]);
  });

  test("a request that waited queueMs in vain gets a Retry-After: waiting nodes / limit × mean download, ±50 %, within [1, maxRetryS]", async () => {
    let now = 0;
    const a = new StreamAdmission({ limit: 2, queueMs: 5, maxRetryS: 30, now: () => now, random: () => 0.5 });
    // One download of 4 s completes: the mean is 4 s.
    const d = await a.admit("done");
    now += 4000;
    if (d.admitted) d.release();
    const busy = [await a.admit("b1"), await a.admit("b2")];
    expect(busy.every((b) => b.admitted)).toBe(true);
    const r1 = await a.admit("w1"); // 1 waiting / 2 slots × 4 s = 2 s (× 1.0)
    expect(r1).toEqual({ admitted: false, retryAfterS: 2, active: 2, limit: 2 });
    const r2 = await a.admit("w2"); // 2 waiting: 4 s
    expect(r2.admitted === false && r2.retryAfterS).toBe(4);
    const again = await a.admit("w1"); // the same node again is not counted twice
    expect(again.admitted === false && again.retryAfterS).toBe(4);
    expect(a.stats()).toMatchObject({ waiting: 2, deferred: 3 });
    for (let i = 0; i < 100; i++) await a.admit(`x${i}`);
    const capped = await a.admit("x-last");
    expect(capped.admitted === false && capped.retryAfterS).toBe(30);
  });

  test("the shortest Retry-After is 1 s, and the jitter spreads it", async () => {
    const low = new StreamAdmission({ limit: 1, queueMs: 1, random: () => 0, now: () => 0 });
    await low.admit("busy");
    const r = await low.admit("w");
    expect(r.admitted === false && r.retryAfterS).toBe(3); // no download finished yet: a 5 s guess × 0.5
    const tiny = new StreamAdmission({ limit: 1000, queueMs: 1, random: () => 0 });
    for (let i = 0; i < 1000; i++) await tiny.admit(`b${i}`);
    const t = await tiny.admit("w");
    expect(t.admitted === false && t.retryAfterS).toBe(1);
  });

  test("a slot belongs to its node: the node's next request (touch) gives it back, another node's does not", async () => {
    const a = new StreamAdmission({ limit: 1, queueMs: 1 });
    const s = await a.admit("m1");
    expect(s.admitted).toBe(true);
    a.touch("m2");
    expect(a.stats().active).toBe(1);
    a.touch("m1");
    expect(a.stats().active).toBe(0);
    // A node asking for its image again (a retry, stage 1's next piece) gives back the slot it held first.
    await a.admit("m1");
    expect((await a.admit("m1")).admitted).toBe(true);
    expect(a.stats().active).toBe(1);
  });

  test("hold(bytes): the slot goes back once the download would be over at the floor speed (at least minHoldMs); maxHoldMs at the latest", async () => {
    const a = new StreamAdmission({ limit: 1, queueMs: 1, floorBytesPerS: 1000, minHoldMs: 5, maxHoldMs: 60 });
    const s = await a.admit("m1");
    if (!s.admitted) throw new Error("not admitted");
    s.hold(30); // 30 ms at 1000 bytes/s
    await Bun.sleep(10);
    expect(a.stats().active).toBe(1);
    await Bun.sleep(40);
    expect(a.stats().active).toBe(0);
    const stuck = await a.admit("m2"); // never held, never touched: maxHoldMs
    expect(stuck.admitted).toBe(true);
    expect((await a.admit("w")).admitted).toBe(false);
    expect(a.stats().waiting).toBe(1);
    await Bun.sleep(80);
    expect((await a.admit("w")).admitted).toBe(true);
    expect(a.stats()).toMatchObject({ waiting: 0, active: 1 });
  });

  test("a bad limit is refused", () => {
    expect(() => new StreamAdmission({ limit: -1 })).toThrow(/whole number/);
    expect(() => new StreamAdmission({ limit: 1.5 })).toThrow(/whole number/);
  });
});

describe("the image route with admission control", () => {
  const t = tempDir("drover-admission-");
  afterAll(() => t.cleanup());
  const big = join(t.dir, "image.img.gz");
  writeFileSync(big, Buffer.alloc(3 << 20, 7));
  const st = statSync(big);
  const art: BootArtifact = { path: big, size: st.size, mtimeMs: st.mtimeMs, etag: '"img"' };
  const asked: string[] = [];
  const port: HttpBootPort = {
    ipxeScript: async () => ({ status: 200, script: "#!ipxe\n" }),
    file: async (kind: BootFileKind, mac: string) => {
      asked.push(`${kind} ${mac}`);
      return mac.endsWith(":99") ? { refused: true, status: 404, message: `${mac} is not a registered node` } : art;
    },
    callback: async () => true,
  };
  const admission = new StreamAdmission({ limit: 1, queueMs: 20, random: () => 0.5 });
  const app = bootRoutes(port, undefined, { bad: 0 }, admission);
  const get = (path: string, init: RequestInit = {}) => app.request(`http://10.0.0.1:9873${path}`, init);

  test("over the limit: 503 with Retry-After and a message that names the setting; the node's request is not recorded", async () => {
    asked.length = 0;
    const first = await get("/image/52-54-00-00-00-01");
    expect(first.status).toBe(200);
    expect(first.headers.get("content-length")).toBe(String(3 << 20));
    const second = await get("/image/52-54-00-00-00-02");
    expect(second.status).toBe(503);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await second.text()).toMatch(/1 image downloads are running \(--max-image-streams 1\); try again in \d+ s/);
    expect(asked).toEqual(["image 52:54:00:00:00:01"]);
    // The kernel and the overlays are never metered, nor a HEAD of the image.
    expect((await get("/kernel/52-54-00-00-00-02")).status).toBe(200);
    expect((await get("/image/52-54-00-00-00-02", { method: "HEAD" })).status).toBe(200);
    const body = new Uint8Array(await first.arrayBuffer());
    expect(body.length).toBe(3 << 20);
    expect(body.every((b) => b === 7)).toBe(true);
    // The first node's next request (its system overlay) says its image is done: the slot goes back.
    expect(admission.stats().active).toBe(1);
    expect((await get("/system/52-54-00-00-00-01")).status).toBe(200);
    expect(admission.stats().active).toBe(0);
    const third = await get("/image/52-54-00-00-00-02");
    expect(third.status).toBe(200);
    await third.arrayBuffer();
    expect((await get("/callback/52-54-00-00-00-02?stage=booted")).status).toBe(200);
    expect(admission.stats().active).toBe(0);
  });

  test("a refused file gives the slot back at once; a script request of the node does too", async () => {
    expect((await get("/image/52-54-00-00-00-99")).status).toBe(404);
    expect(admission.stats().active).toBe(0);
    const ranged = await get("/image/52-54-00-00-00-04", { headers: { range: "bytes=10-19" } });
    expect(ranged.status).toBe(206);
    expect((await ranged.arrayBuffer()).byteLength).toBe(10);
    expect(admission.stats().active).toBe(1);
    expect((await get("/ipxe/52-54-00-00-00-04")).status).toBe(200);
    expect(admission.stats().active).toBe(0);
  });
});
