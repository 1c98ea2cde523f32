/**
 * OCI / Docker manifest shapes and the checks drover applies to them. Only the fields drover uses are
 * typed; everything else is carried along untouched.
 */
export const MT = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Index {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[] };
  rootfs?: { type: string; diff_ids: string[] };
}

/** A manifest problem, phrased for the admin. */
export class ManifestError extends Error {}

export function isIndex(m: unknown): m is Index {
  const x = m as { mediaType?: string; manifests?: unknown };
  return !!x && (x.mediaType === MT.ociIndex || x.mediaType === MT.dockerList || (Array.isArray(x.manifests) && !("layers" in (x as object))));
}

export function checkManifest(m: unknown, where: string): Manifest {
  const x = m as Manifest;
  if (!x || typeof x !== "object") throw new ManifestError(`${where}: the manifest is not a JSON object`);
  if ((x as { schemaVersion?: number }).schemaVersion === 1 || (x as { fsLayers?: unknown }).fsLayers)
    throw new ManifestError(`${where}: Docker schema 1 manifests are not supported; push the image again with a current client`);
  if (!x.config || typeof x.config.digest !== "string") throw new ManifestError(`${where}: the manifest has no config descriptor`);
  if (!Array.isArray(x.layers)) throw new ManifestError(`${where}: the manifest has no layers list`);
  for (const l of x.layers) {
    if (!l || typeof l.digest !== "string" || typeof l.size !== "number") throw new ManifestError(`${where}: a layer descriptor lacks digest or size`);
    if (l.mediaType && /nondistributable|foreign/.test(l.mediaType) && !l.mediaType.includes("tar"))
      throw new ManifestError(`${where}: layer ${l.digest} has media type ${l.mediaType}, which drover cannot unpack`);
  }
  return x;
}

/** The head node's platform in OCI terms. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

/** Parses `os/arch[/variant]` (the `--platform` flag). */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split("/");
  if (!os || !architecture) throw new ManifestError(`--platform ${JSON.stringify(s)} should look like linux/amd64 or linux/arm64/v8`);
  return { os, architecture, variant };
}

export const platformString = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join("/");

/** Picks the manifest for a platform from an index; the message lists what the index offers. */
export function selectPlatform(idx: Index, want: Platform, where: string): Descriptor {
  const ms = idx.manifests.filter((m) => m.platform && m.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest");
  const norm = (v?: string) => (v === "v8" ? undefined : v);
  const match = ms.filter(
    (m) => m.platform!.os === want.os && m.platform!.architecture === want.architecture && (!want.variant || norm(m.platform!.variant) === norm(want.variant)),
  );
  if (match[0]) return match[0];
  if (!ms.length && idx.manifests.length === 1) return idx.manifests[0]!;
  const offered = ms.map((m) => platformString(m.platform!)).join(", ") || "none";
  throw new ManifestError(`${where} has no image for ${platformString(want)} (it offers: ${offered}); pick one with --platform`);
}
