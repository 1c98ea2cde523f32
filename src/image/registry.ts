import { BlobError, checkDigest, sha256 } from "./blobs";
import { checkManifest, isIndex, type Descriptor, type Manifest, ManifestError, MT, type Platform, selectPlatform } from "./oci";

/** A registry said no, could not be reached, or answered something that is not an image. */
export class RegistryError extends Error {}

export interface RegistryRef {
  /** host[:port] as written; docker.io for short names. */
  registry: string;
  repo: string;
  tag?: string;
  digest?: string;
}

/** Parses `docker://[REGISTRY/]REPO[:TAG][@sha256:…]` the way docker and skopeo do. */
export function parseDockerRef(source: string): RegistryRef {
  let s = source.replace(/^docker:\/\//, "");
  let digest: string | undefined;
  const at = s.indexOf("@");
  if (at >= 0) {
    digest = s.slice(at + 1);
    s = s.slice(0, at);
    checkDigest(digest, "image digest");
  }
  let tag: string | undefined;
  const slash = s.lastIndexOf("/");
  const colon = s.lastIndexOf(":");
  if (colon > slash) {
    tag = s.slice(colon + 1);
    s = s.slice(0, colon);
  }
  const first = s.split("/")[0]!;
  let registry = "docker.io";
  let repo = s;
  if (s.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    repo = s.slice(first.length + 1);
  }
  if (registry === "docker.io" && !repo.includes("/")) repo = `library/${repo}`;
  if (!repo || !/^[a-z0-9]+(?:[._-][a-z0-9]+|__)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repo))
    throw new RegistryError(`${JSON.stringify(source)} is not a valid image reference (docker://REGISTRY/REPO:TAG)`);
  if (tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(tag)) throw new RegistryError(`tag ${JSON.stringify(tag)} is not valid`);
  if (!tag && !digest) tag = "latest";
  return { registry, repo, tag, digest };
}

export interface RegistryOptions {
  /** Plain HTTP (`--nohttps`). */
  http?: boolean;
  username?: string;
  password?: string;
}

const ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(", ");

/**
 * A client for the OCI distribution API: manifests (with index resolution by platform) and blobs, with
 * anonymous or credentialed bearer tokens (the `WWW-Authenticate: Bearer realm=…` dance) and Basic auth.
 */
export class RegistryClient {
  private token?: string;
  private readonly base: string;
  constructor(
    readonly ref: RegistryRef,
    private readonly opts: RegistryOptions = {},
  ) {
    const host = ref.registry === "docker.io" ? "registry-1.docker.io" : ref.registry;
    this.base = `${opts.http ? "http" : "https"}://${host}/v2/${ref.repo}`;
  }

  private basic(): string | undefined {
    if (this.opts.username === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ""}`).toString("base64")}`;
  }

  private async fetchRaw(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, redirect: "follow" });
    } catch (e) {
      const msg = (e as Error).message;
      const hint = !this.opts.http && /ssl|tls|certificate|wrong version/i.test(msg) ? " (a plain-HTTP registry needs --nohttps)" : "";
      throw new RegistryError(`cannot reach ${this.ref.registry}: ${msg}${hint}`);
    }
  }

  /** One request with auth: tries, and on 401 follows the challenge once. */
  private async get(url: string, accept?: string): Promise<Response> {
    const headers = (): Record<string, string> => {
      const h: Record<string, string> = {};
      if (accept) h.Accept = accept;
      if (this.token) h.Authorization = this.token;
      return h;
    };
    let res = await this.fetchRaw(url, { headers: headers() });
    if (res.status === 401) {
      const challenge = res.headers.get("www-authenticate") ?? "";
      await res.arrayBuffer().catch(() => {});
      await this.authenticate(challenge);
      res = await this.fetchRaw(url, { headers: headers() });
      if (res.status === 401)
        throw new RegistryError(
          `${this.ref.registry} refused the credentials for ${this.ref.repo}; check --username/--password (or DROVER_REGISTRY_USERNAME/DROVER_REGISTRY_PASSWORD)`,
        );
    }
    return res;
  }

  private async authenticate(challenge: string): Promise<void> {
    const scheme = challenge.split(" ")[0]?.toLowerCase();
    if (scheme === "basic") {
      const b = this.basic();
      if (!b)
        throw new RegistryError(
          `${this.ref.registry} requires a login; pass --username and --password (or set DROVER_REGISTRY_USERNAME/DROVER_REGISTRY_PASSWORD)`,
        );
      this.token = b;
      return;
    }
    if (scheme !== "bearer")
      throw new RegistryError(`${this.ref.registry} asked for authentication drover does not know: ${challenge || "(no WWW-Authenticate header)"}`);
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) throw new RegistryError(`${this.ref.registry} sent a Bearer challenge without a realm`);
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set("service", params.service);
    u.searchParams.set("scope", params.scope ?? `repository:${this.ref.repo}:pull`);
    const h: Record<string, string> = {};
    const b = this.basic();
    if (b) h.Authorization = b;
    const res = await this.fetchRaw(u.toString(), { headers: h });
    if (res.status === 401 || res.status === 403)
      throw new RegistryError(
        `the token service of ${this.ref.registry} refused ${b ? "the given credentials" : "anonymous access"}; ${b ? "check them" : "pass --username/--password"}`,
      );
    if (!res.ok) throw new RegistryError(`the token service of ${this.ref.registry} answered HTTP ${res.status}`);
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const t = body.token ?? body.access_token;
    if (!t) throw new RegistryError(`the token service of ${this.ref.registry} answered without a token`);
    this.token = `Bearer ${t}`;
  }

  private async manifest(reference: string): Promise<{ body: Uint8Array; digest: string; json: unknown }> {
    const res = await this.get(`${this.base}/manifests/${reference}`, ACCEPT);
    if (res.status === 404) throw new RegistryError(`${this.ref.registry}/${this.ref.repo}:${reference} not found; check the name and tag`);
    if (!res.ok) throw new RegistryError(`${this.ref.registry} answered HTTP ${res.status} for the manifest of ${this.ref.repo}:${reference}`);
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.length > 4 << 20) throw new RegistryError(`the manifest of ${this.ref.repo}:${reference} is over 4 MiB; refusing it`);
    const digest = sha256(body);
    if (reference.startsWith("sha256:") && digest !== reference)
      throw new RegistryError(`the manifest ${reference} from ${this.ref.registry} does not match its digest (got ${digest}); refusing it`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new RegistryError(`the manifest of ${this.ref.repo}:${reference} is not JSON`);
    }
    return { body, digest, json };
  }

  /** Resolves the reference to one image manifest for `platform`. */
  async resolve(platform: Platform): Promise<{ digest: string; manifest: Manifest; indexDigest?: string }> {
    const top = await this.manifest(this.ref.digest ?? this.ref.tag!);
    const where = `${this.ref.registry}/${this.ref.repo}`;
    if (isIndex(top.json)) {
      const d: Descriptor = selectPlatform(top.json, platform, where);
      const m = await this.manifest(d.digest);
      if (isIndex(m.json)) throw new ManifestError(`${where}: nested indexes are not supported`);
      return { digest: m.digest, manifest: checkManifest(m.json, where), indexDigest: top.digest };
    }
    return { digest: top.digest, manifest: checkManifest(top.json, where) };
  }

  /** Streams a blob; the caller verifies digest and size. */
  async blob(d: Descriptor): Promise<AsyncIterable<Uint8Array>> {
    const res = await this.get(`${this.base}/blobs/${d.digest}`);
    if (res.status === 404) throw new BlobError(`${this.ref.registry} has no blob ${d.digest} for ${this.ref.repo}`);
    if (!res.ok || !res.body) throw new RegistryError(`${this.ref.registry} answered HTTP ${res.status} for blob ${d.digest}`);
    const body = res.body;
    return (async function* () {
      try {
        for await (const c of body as unknown as AsyncIterable<Uint8Array>) yield c;
      } catch (e) {
        throw new BlobError(`download of ${d.digest} broke off: ${(e as Error).message}; run the import again (finished blobs are kept)`);
      }
    })();
  }
}
