import { lstatSync, statSync } from "node:fs";
import { readImageArchive } from "./archive";
import { BlobError, type BlobStore, short } from "./blobs";
import { resolveIn } from "./fspath";
import { Unpacker } from "./layer";
import { type ImageConfig, type Manifest, ManifestError, type Platform, platformString } from "./oci";
import { RegistryClient, type RegistryOptions, parseDockerRef } from "./registry";

/** Where an image comes from, as parsed from the SOURCE argument. */
export type Source = { kind: "registry"; ref: string } | { kind: "docker-archive" | "oci-archive" | "archive"; path: string } | { kind: "dir"; path: string };

/** `docker://…`, `docker-archive:PATH`, `oci-archive:PATH`, a tar file, or a directory. */
export function parseSource(s: string): Source {
  if (s.startsWith("docker://")) return { kind: "registry", ref: s };
  const m = /^(docker-archive|oci-archive):(.+)$/.exec(s);
  if (m) {
    // skopeo allows `oci-archive:FILE:TAG`; the tag is dropped (an archive drover reads holds one image).
    const path = statExists(m[2]!) ? m[2]! : m[2]!.replace(/:[^/:]*$/, "");
    return { kind: m[1] as "docker-archive" | "oci-archive", path };
  }
  if (s.startsWith("file://")) s = s.slice(7);
  let st;
  try {
    st = statSync(s);
  } catch {
    throw new ManifestError(`${s} is neither docker://REGISTRY/REPO:TAG, docker-archive:FILE, oci-archive:FILE, nor an existing file or directory`);
  }
  return st.isDirectory() ? { kind: "dir", path: s } : { kind: "archive", path: s };
}
function statExists(p: string) {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Reports progress; the CLI draws a bar on a terminal and prints plain lines otherwise. */
export interface Progress {
  /** A step with a known byte total (a download); `advance` follows, then `done`. */
  start(label: string, total: number): void;
  advance(n: number): void;
  done(): void;
  note(line: string): void;
}

export const silentProgress: Progress = { start() {}, advance() {}, done() {}, note() {} };

export interface ImportedInfo {
  source: string;
  kind: Source["kind"];
  platform?: string;
  manifestDigest?: string;
  configDigest?: string;
  layers?: { digest: string; size: number }[];
  entries?: number;
}

export interface ImportDeps {
  blobs: BlobStore;
  platform: Platform;
  registry: RegistryOptions;
  progress: Progress;
}

/**
 * Fills `rootfs` (an empty directory the caller owns and will discard on failure) from the source.
 * Every blob is verified by digest; every layer's uncompressed digest is checked against the config.
 */
export async function importInto(rootfs: string, source: string, deps: ImportDeps): Promise<ImportedInfo> {
  const src = parseSource(source);
  const { blobs, progress } = deps;
  if (src.kind === "dir") {
    const sh = resolveIn(src.path, "bin/sh", true);
    try {
      lstatSync(sh);
    } catch {
      throw new ManifestError(`${src.path} has no /bin/sh, so it is not a root filesystem (a chroot or sandbox directory)`);
    }
    progress.note(`copying ${src.path}`);
    const p = Bun.spawnSync(["cp", "-a", "--reflink=auto", `${src.path}/.`, `${rootfs}/`], { stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`copying ${src.path} failed: ${p.stderr.toString().trim()}`);
    return { source, kind: "dir" };
  }
  let manifest: Manifest;
  let manifestDigest: string | undefined;
  if (src.kind === "registry") {
    const ref = parseDockerRef(src.ref);
    const client = new RegistryClient(ref, deps.registry);
    progress.note(`resolving ${ref.registry}/${ref.repo}${ref.digest ? `@${ref.digest}` : `:${ref.tag}`} for ${platformString(deps.platform)}`);
    const r = await client.resolve(deps.platform);
    manifest = r.manifest;
    manifestDigest = r.digest;
    const all = [{ ...manifest.config, label: "config" }, ...manifest.layers.map((l, i) => ({ ...l, label: `layer ${i + 1}/${manifest.layers.length}` }))];
    for (const d of all) {
      if (blobs.has(d.digest, d.size)) {
        progress.note(`${d.label} ${short(d.digest)} already cached`);
        continue;
      }
      progress.start(`${d.label} ${short(d.digest)}`, d.size);
      try {
        await blobs.put(await client.blob(d), { expect: d.digest, size: d.size, what: `${d.label} ${d.digest}`, onBytes: (n) => progress.advance(n) });
      } finally {
        progress.done();
      }
    }
  } else {
    progress.note(`reading ${src.path}`);
    const file = Bun.file(src.path);
    const a = await readImageArchive(file.stream() as unknown as AsyncIterable<Uint8Array>, blobs, deps.platform, src.path);
    if (src.kind !== "archive" && a.kind !== src.kind) throw new ManifestError(`${src.path} is a ${a.kind}, not a ${src.kind}`);
    manifest = a.manifest;
    manifestDigest = a.digest;
  }
  const config = await blobs.json<ImageConfig>(manifest.config.digest).catch(() => {
    throw new ManifestError(`the image config ${manifest.config.digest} is not JSON`);
  });
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length)
    throw new ManifestError(
      `the image config lists ${diffIds.length} layer digests but the manifest has ${manifest.layers.length} layers; the image is inconsistent`,
    );
  if (config.architecture && config.architecture !== deps.platform.architecture)
    progress.note(`warning: the image is for ${config.architecture}, not ${deps.platform.architecture}`);
  const u = new Unpacker(rootfs);
  for (const [i, l] of manifest.layers.entries()) {
    progress.note(`unpacking layer ${i + 1}/${manifest.layers.length} ${short(l.digest)}`);
    const diff = await u.apply(blobs.read(l.digest));
    if (diff !== diffIds[i])
      throw new BlobError(`layer ${i + 1} (${l.digest}) unpacks to ${diff}, but the config says ${diffIds[i]}; the image is damaged or was tampered with`);
  }
  u.finish();
  return {
    source,
    kind: src.kind,
    platform: platformString(deps.platform),
    manifestDigest,
    configDigest: manifest.config.digest,
    layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })),
    entries: u.entries,
  };
}
