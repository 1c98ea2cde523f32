/**
 * The registry client against a small registry on 127.0.0.1 that behaves like Docker Hub's auth: every
 * /v2 request without a token gets `401 WWW-Authenticate: Bearer realm=…`, and the token service wants
 * Basic credentials. The repository is a multi-platform index (amd64 and arm64).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobStore, sha256 } from "../../../src/image/blobs";
import { MT } from "../../../src/image/oci";
import { RegistryClient } from "../../../src/image/registry";
import { writeTar } from "../../../src/image/tar";

const enc = new TextEncoder();
const blobs = new Map<string, Uint8Array>();
const add = (b: Uint8Array) => {
  const d = sha256(b);
  blobs.set(d, b);
  return { digest: d, size: b.length };
};
function image(arch: string) {
  const layer = writeTar([{ path: "arch", type: "file", data: arch }]);
  const l = add(Bun.gzipSync(layer as Uint8Array<ArrayBuffer>));
  const cfg = add(enc.encode(JSON.stringify({ architecture: arch, os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layer)] } })));
  const m = enc.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...cfg },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...l }],
    }),
  );
  return { mediaType: MT.ociManifest, ...add(m), platform: { os: "linux", architecture: arch } };
}
const index = enc.encode(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [image("amd64"), image("arm64")] }));
add(index);

let server: ReturnType<typeof Bun.serve>;
let tokensIssued = 0;
let truncate = false;
beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const u = new URL(req.url);
      if (u.pathname === "/token") {
        if (req.headers.get("authorization") !== `Basic ${btoa("alice:s3cret")}`) return new Response("no", { status: 401 });
        if (u.searchParams.get("scope") !== "repository:team/app:pull") return new Response("bad scope", { status: 400 });
        tokensIssued++;
        return Response.json({ token: "tok-123" });
      }
      if (req.headers.get("authorization") !== "Bearer tok-123")
        return new Response("{}", {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="http://127.0.0.1:${server.port}/token",service="test",scope="repository:team/app:pull"` },
        });
      const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(u.pathname);
      if (!m) return new Response("", { status: 404 });
      const ref = m[2] === "v1" ? sha256(index) : m[2]!;
      const b = blobs.get(ref);
      if (!b) return new Response("", { status: 404 });
      if (m[1] === "blobs" && truncate) return new Response(b.slice(0, b.length - 5) as Uint8Array<ArrayBuffer>);
      const type = m[1] === "manifests" ? (b === index ? MT.ociIndex : MT.ociManifest) : "application/octet-stream";
      return new Response(b as Uint8Array<ArrayBuffer>, { headers: { "content-type": type } });
    },
  });
});
afterAll(() => server.stop(true));

describe("registry client", () => {
  test("bearer token with credentials; --platform picks from an index; blobs verified", async () => {
    const ref = { registry: `127.0.0.1:${server.port}`, repo: "team/app", tag: "v1" };
    const c = new RegistryClient(ref, { http: true, username: "alice", password: "s3cret" });
    const arm = await c.resolve({ os: "linux", architecture: "arm64" });
    expect(arm.indexDigest).toBe(sha256(index));
    const dir = mkdtempSync(join(tmpdir(), "drover-reg-"));
    try {
      const store = new BlobStore(dir);
      const cfg = arm.manifest.config;
      await store.put(await c.blob(cfg), { expect: cfg.digest, size: cfg.size });
      expect((await store.json<{ architecture: string }>(cfg.digest)).architecture).toBe("arm64");
      await expect(c.resolve({ os: "linux", architecture: "s390x" })).rejects.toThrow(/offers: linux\/amd64, linux\/arm64/);
      truncate = true;
      const l = arm.manifest.layers[0]!;
      await expect(store.put(await c.blob(l), { expect: l.digest, size: l.size })).rejects.toThrow(/truncated: received/);
      expect(store.has(l.digest)).toBe(false);
      truncate = false;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(tokensIssued).toBe(1);
  });

  test("anonymous access to a registry that needs a login says which flags to use", async () => {
    const c = new RegistryClient({ registry: `127.0.0.1:${server.port}`, repo: "team/app", tag: "v1" }, { http: true });
    await expect(c.resolve({ os: "linux", architecture: "amd64" })).rejects.toThrow(/--username\/--password/);
    const wrong = new RegistryClient(
      { registry: `127.0.0.1:${server.port}`, repo: "team/app", tag: "v1" },
      { http: true, username: "alice", password: "nope" },
    );
    await expect(wrong.resolve({ os: "linux", architecture: "amd64" })).rejects.toThrow(/refused the given credentials/);
  });
});
