import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifactParts, readArtifact, readParts } from "../../../src/boot/artifact";
import type { BootArtifact } from "../../../src/boot/ports";
import { sendFile } from "../../../src/http/send-file";
import { tempDir } from "../../helpers/cli";

// An artifact stored in parts (an overlay archive: shared gzip members, then the node's own) is served
// exactly as the concatenation of its parts: whole, by range across part boundaries, 304 and HEAD.

const t = tempDir("drover-artifact-");
afterAll(() => t.cleanup());
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256);
const a = bytes(100, 1);
const b = bytes(3, 2);
const c = bytes(50, 3);
for (const [n, d] of [
  ["a", a],
  ["b", b],
  ["c", c],
] as const)
  writeFileSync(join(t.dir, n), d);
const whole = new Uint8Array([...a, ...b, ...c]);
const art: BootArtifact = { parts: ["a", "b", "c"].map((n, i) => ({ path: join(t.dir, n), size: [100, 3, 50][i]! })), size: 153, mtimeMs: 0, etag: '"x1"' };
const get = (headers: Record<string, string> = {}, method = "GET") => sendFile(new Request("http://h/f", { method, headers }), art);

describe("artifacts in parts", () => {
  test("read whole and by any range, across part boundaries", () => {
    expect(readArtifact(art)).toEqual(whole);
    for (const [s, e] of [
      [0, 153],
      [99, 101],
      [100, 103],
      [98, 110],
      [103, 153],
      [5, 6],
      [0, 0],
    ] as const)
      expect(readParts(art.parts, s, e)).toEqual(whole.slice(s, e));
    const file: BootArtifact = { path: join(t.dir, "a"), size: 100, mtimeMs: 0, etag: '"f"' };
    expect(artifactParts(file)).toEqual([{ path: join(t.dir, "a"), size: 100 }]);
  });

  test("a part shorter than recorded is an error, not a short answer", () => {
    expect(() => readParts([{ path: join(t.dir, "b"), size: 10 }], 0, 10)).toThrow("shorter than recorded");
  });

  test("HTTP: 200 with its length, 206 across a boundary, 304, HEAD", async () => {
    const r = await get();
    expect(r.status).toBe(200);
    expect(r.headers.get("content-length")).toBe("153");
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(whole);
    const p = await get({ range: "bytes=98-104" });
    expect(p.status).toBe(206);
    expect(p.headers.get("content-range")).toBe("bytes 98-104/153");
    expect(new Uint8Array(await p.arrayBuffer())).toEqual(whole.slice(98, 105));
    expect((await get({ "if-none-match": '"x1"' })).status).toBe(304);
    const h = await get({}, "HEAD");
    expect(h.headers.get("content-length")).toBe("153");
    expect((await h.arrayBuffer()).byteLength).toBe(0);
  });

  test("HTTP: content larger than what is read at once streams part after part", async () => {
    const big = bytes(9 << 20, 4);
    writeFileSync(join(t.dir, "big"), big);
    const large: BootArtifact = {
      parts: [
        { path: join(t.dir, "big"), size: big.length },
        { path: join(t.dir, "b"), size: 3 },
      ],
      size: big.length + 3,
      mtimeMs: 0,
      etag: '"L"',
    };
    const r = sendFile(new Request("http://h/f"), large);
    const got = new Uint8Array(await r.arrayBuffer());
    expect(got.length).toBe(big.length + 3);
    expect(got.subarray(big.length)).toEqual(b);
    expect(Buffer.compare(got.subarray(0, big.length), big)).toBe(0);
  });
});
