import type { BlobStore } from "./blobs";
import { sha256 } from "./blobs";
import { cleanRel } from "./fspath";
import { checkManifest, isIndex, type Descriptor, type Index, type Manifest, ManifestError, type Platform, selectPlatform } from "./oci";
import { readTar } from "./tar";

/** What an archive resolves to: one image manifest whose blobs are all in the blob cache. */
export interface ArchiveImage {
  kind: "docker-archive" | "oci-archive";
  manifest: Manifest;
  /** Digest of the manifest, when the archive carries one (OCI); docker-archive has none. */
  digest?: string;
}

const SMALL = 4 << 20;

/**
 * Reads a `docker save` / `podman save` (docker-archive) or `skopeo copy … oci-archive:` tar in one pass:
 * every regular member goes into the blob cache under its computed digest, small JSON members are kept
 * in memory, and then the archive's own index (manifest.json or index.json) is resolved. A member named
 * `blobs/sha256/X` whose content does not hash to X is refused as tampered.
 */
export async function readImageArchive(src: AsyncIterable<Uint8Array>, blobs: BlobStore, platform: Platform, label: string): Promise<ArchiveImage> {
  const members = new Map<string, { digest: string; size: number; bytes?: Uint8Array }>();
  await readTar(src, async (e, body) => {
    if (e.type !== "file") return;
    const name = cleanRel(e.path);
    let bytes: Uint8Array | undefined;
    const keep = e.size <= SMALL;
    const parts: Uint8Array[] = [];
    const tee = async function* () {
      for await (const c of body()) {
        if (keep) parts.push(c.slice());
        yield c;
      }
    };
    const put = await blobs.put(tee(), { size: e.size, what: `archive member ${name}` });
    if (keep) bytes = Buffer.concat(parts);
    const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    if (m && put.digest !== `sha256:${m[1]}`)
      throw new ManifestError(`${label}: archive member ${name} does not match its digest (got ${put.digest}); the archive is damaged or was tampered with`);
    members.set(name, { ...put, bytes });
  });
  const json = (name: string): unknown => {
    const m = members.get(cleanRel(name));
    if (!m) throw new ManifestError(`${label}: the archive lacks ${name}`);
    if (!m.bytes) throw new ManifestError(`${label}: ${name} is too large to be a manifest`);
    try {
      return JSON.parse(new TextDecoder().decode(m.bytes));
    } catch {
      throw new ManifestError(`${label}: ${name} is not valid JSON`);
    }
  };
  const blobByDigest = (d: Descriptor, what: string) => {
    const m = members.get(`blobs/sha256/${d.digest.replace(/^sha256:/, "")}`);
    if (!m) throw new ManifestError(`${label}: ${what} ${d.digest} is missing from the archive`);
    if (m.size !== d.size) throw new ManifestError(`${label}: ${what} ${d.digest} has ${m.size} bytes, its descriptor says ${d.size}`);
    return m;
  };

  if (members.has("manifest.json")) {
    // docker-archive: [{Config, RepoTags, Layers: [paths]}]; layer digests are computed, and checked
    // later against the config's diff_ids (which is what docker itself trusts).
    const list = json("manifest.json") as { Config?: string; Layers?: string[] }[];
    if (!Array.isArray(list) || !list[0]?.Config || !Array.isArray(list[0].Layers))
      throw new ManifestError(`${label}: manifest.json is not a docker-archive manifest`);
    if (list.length > 1) throw new ManifestError(`${label}: the archive holds ${list.length} images; save one image per archive`);
    const entry = list[0];
    const cfg = members.get(cleanRel(entry.Config!));
    if (!cfg) throw new ManifestError(`${label}: the archive lacks its config ${entry.Config}`);
    const named = /([0-9a-f]{64})(\.json)?$/.exec(entry.Config!);
    if (named && cfg.digest !== `sha256:${named[1]}`)
      throw new ManifestError(`${label}: config ${entry.Config} does not match its digest; the archive is damaged or was tampered with`);
    const layers: Descriptor[] = entry.Layers!.map((p) => {
      const m = members.get(cleanRel(p));
      if (!m) throw new ManifestError(`${label}: the archive lacks layer ${p}`);
      return { digest: m.digest, size: m.size };
    });
    return { kind: "docker-archive", manifest: { schemaVersion: 2, config: { digest: cfg.digest, size: cfg.size }, layers } };
  }
  if (members.has("index.json")) {
    let idx = json("index.json") as Index;
    if (!Array.isArray(idx.manifests) || !idx.manifests.length) throw new ManifestError(`${label}: index.json lists no manifests`);
    for (let depth = 0; depth < 4; depth++) {
      const d = idx.manifests.length === 1 ? idx.manifests[0]! : selectPlatform(idx, platform, label);
      const m = blobByDigest(d, "manifest");
      const doc = JSON.parse(new TextDecoder().decode(m.bytes));
      if (isIndex(doc)) {
        idx = doc;
        continue;
      }
      const manifest = checkManifest(doc, label);
      blobByDigest(manifest.config, "config");
      for (const l of manifest.layers) blobByDigest(l, "layer");
      return { kind: "oci-archive", manifest, digest: m.digest };
    }
    throw new ManifestError(`${label}: indexes nested too deep`);
  }
  throw new ManifestError(`${label}: neither manifest.json (docker-archive) nor index.json (oci-archive) found; is this an image archive?`);
}

export { sha256 };
