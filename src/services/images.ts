import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { DroverError, conflict, inUse, invalid, notFound } from "../domain/errors";
import { IMAGE_NAME } from "../domain/names";
import { human } from "../domain/size";
import { BlobError, BlobStore } from "../image/blobs";
import { chooseBootMode, type BootMode, ramNeeded as ramFor } from "../domain/boot-mode";
import { buildImage } from "../image/build";
import { buildStage1, Stage1Error } from "../image/stage1";
import { type Bind, execInImage, ExecSetupError, sessionBusy } from "../image/exec";
import { UnsafePathError } from "../image/fspath";
import { importInto, type ImportedInfo, type Progress, silentProgress } from "../image/importer";
import { findKernels, type KernelFile, pickKernel } from "../image/kernel";
import { LockedError, withLock } from "../image/lock";
import { exchange } from "../image/native";
import { hostPlatform, ManifestError, parsePlatform } from "../image/oci";
import { RegistryError } from "../image/registry";
import { syncUsers } from "../image/syncuser";
import { TarError } from "../image/tar";
import type { NodeService } from "./nodes";
import type { ImageStore } from "./ports-images";

/** What the images table's `info` column holds for an image. */
export interface ImageInfo extends Partial<ImportedInfo> {
  importedAt?: string;
  /** Set when `image exec`/`syncuser` changed the rootfs; a build older than this is stale. */
  changedAt?: string;
  build?: {
    at: string;
    size: number;
    unpacked: number;
    files: number;
    excluded: number;
    /** sha256 of image.img.gz (the two-stage boot checks the stream against it). */
    sha256?: string;
    /** image.img.zst, when built (the default; `image build --no-zstd` skips it). */
    zstd?: { size: number; sha256: string };
    /** The largest compressed piece of either archive's piece index (the two-stage RAM model). */
    largestPiece?: number;
    /** Stage-1 initramfs per kernel version: stage1-VERSION.img.gz. */
    stage1?: Record<string, { size: number; modules: number; zstd: boolean }>;
    /** Why no stage 1 could be built (the image then boots one-stage only). */
    stage1Problem?: string;
  };
  kernels?: { version: string; inImage: string; special: boolean }[];
}

export interface ImageSummary {
  name: string;
  source?: string;
  importedAt?: string;
  built: boolean;
  stale: boolean;
  /** Compressed (served) size; undefined until built. */
  size?: number;
  unpacked?: number;
  kernel?: string;
  nodes: string[];
}

export interface ImageDetail extends ImageSummary {
  info: ImageInfo;
  kernels: { version: string; inImage: string; special: boolean }[];
  /** RAM a node needs to boot this image in its default mode (bootMode). */
  ramNeeded?: number;
  /** The mode nodes boot this image in unless their bootmode tag says otherwise. */
  bootMode?: BootMode;
  /** RAM needed one-stage (compressed + 2 × unpacked + 256 MiB) and two-stage (unpacked + 256 MiB, + large pieces: domain/boot-mode.ts). */
  ramOneStage?: number;
  ramTwoStage?: number;
  warnings: string[];
}

export interface ImportOptions {
  force?: boolean;
  build?: boolean;
  platform?: string;
  username?: string;
  password?: string;
  nohttps?: boolean;
  progress?: Progress;
}

/** What the HTTP server needs to boot a node from an image. */
export interface BootFiles {
  /** The built image archive (gzip'd cpio), or undefined when the image is not built. */
  image?: string;
  /** The same cpio stream zstd-compressed, when built. */
  zstd?: string;
  /** The stage-1 initramfs for the picked kernel, when built. */
  stage1?: string;
  /** The build's sizes and digests, for the boot script. */
  build?: NonNullable<ImageInfo["build"]>;
  kernel?: { path: string; version: string };
  /** Why the node cannot boot from this image, phrased for the admin; undefined when it can. */
  problem?: string;
}

export interface BuildOpts {
  /** Also write the zstd archive (default true). */
  zstd?: boolean;
}

/** Parses a `memory` tag: `2G`, `1536M`, `4GiB`, bytes with a K/M/G/T suffix (binary); a bare number is MiB. */
export function parseMemory(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(s);
  if (!m) return undefined;
  const mult: Record<string, number> = { "": 1 << 20, K: 1 << 10, M: 1 << 20, G: 1 << 30, T: 2 ** 40 };
  return Math.round(Number(m[1]) * mult[m[2]!.toUpperCase()]!);
}

/**
 * Images: import from registries, archives and directories; change them in a namespace; build them into
 * bootable archives; find their kernels. Files live under `<dataDir>/images/<name>/` (rootfs/ and the
 * built image.img.gz), blobs under `<dataDir>/blobs/sha256/`; metadata in the images table.
 */
export class ImageService {
  readonly blobs: BlobStore;
  private readonly root: string;

  constructor(
    readonly dataDir: string,
    private readonly store: ImageStore,
    private readonly nodes: NodeService,
    private readonly env: Record<string, string | undefined> = process.env,
    /** The head node's account files for syncuser (tests point it at a fixture). */
    readonly hostEtc = "/etc",
  ) {
    this.blobs = new BlobStore(dataDir);
    this.root = join(dataDir, "images");
  }

  dir(name: string) {
    return join(this.root, name);
  }
  rootfs(name: string) {
    return join(this.root, name, "rootfs");
  }
  archive(name: string) {
    return join(this.root, name, "image.img.gz");
  }
  zstdArchive(name: string) {
    return join(this.root, name, "image.img.zst");
  }
  stage1(name: string, kernelVersion: string) {
    return join(this.root, name, `stage1-${kernelVersion}.img.gz`);
  }

  private checkName(name: string) {
    if (!IMAGE_NAME.test(name)) throw invalid(`image name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_', '-', '+' (e.g. rocky-10)`);
  }

  private info(name: string): ImageInfo {
    this.checkName(name);
    const r = this.store.get(name);
    if (!r || !existsSync(this.rootfs(name)))
      throw notFound(`image '${name}' does not exist; see drover image list, or import it with drover image import SOURCE ${name}`);
    return r.info as ImageInfo;
  }

  private requireRoot(what: string) {
    if (process.getuid?.() !== 0) throw invalid(`${what} must run as root: images keep file owners, device nodes and capabilities`);
  }

  /**
   * The images directory, 0700: images hold setuid programs and root's files with their owners; a local
   * user who cannot traverse it cannot run or read them (docs/security.md). Made so on every image write,
   * and when `drover serve` starts (open).
   */
  private ensureRoot() {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    chmodSync(this.root, 0o700);
  }

  /**
   * Removes `.import-NAME-XXXXXXXX` directories that a killed `image import` left behind (hundreds of MB):
   * one is in use only while a live drover process holds NAME's lock. `mine` is the image this process is
   * importing now (it holds that lock, so that name's earlier directories are stale). Returns what went.
   */
  sweepImports(mine?: string): string[] {
    let entries: string[];
    try {
      entries = readdirSync(this.root);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const e of entries) {
      const m = /^\.import-(.+)-[0-9a-f]{8}$/.exec(e);
      if (!m) continue;
      if (m[1] !== mine && lockHolder(join(this.root, `.${m[1]}.lock`)) !== undefined) continue;
      rmSync(join(this.root, e), { recursive: true, force: true });
      removed.push(e);
    }
    return removed;
  }

  /**
   * Removes `.exec-XXXXXXXX` session directories (the overlay layers of `image exec`) that a killed exec left
   * in an image's directory. One is in use while a live drover process holds the image's lock, or while a
   * process still runs inside it or something is mounted under it (sessionBusy); those stay. Returns what
   * went, as NAME/.exec-XXXXXXXX.
   */
  sweepSessions(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      if (!IMAGE_NAME.test(name)) continue;
      let entries: string[];
      try {
        entries = readdirSync(this.dir(name));
      } catch {
        continue;
      }
      const sessions = entries.filter((e) => /^\.exec-[0-9a-f]{8}$/.test(e));
      if (sessions.length === 0 || lockHolder(join(this.root, `.${name}.lock`)) !== undefined) continue;
      for (const e of sessions) {
        const p = join(this.dir(name), e);
        if (sessionBusy(p) !== undefined) continue;
        rmSync(p, { recursive: true, force: true });
        removed.push(`${name}/${e}`);
      }
    }
    return removed;
  }

  /**
   * What `drover serve` does to the images directory when it starts, so that an install is put right
   * without waiting for an image write: the directory made 0700, what killed imports and execs left
   * removed. Returns what it did, one line each, for the log.
   */
  open(): string[] {
    const wasOpen = existsSync(this.root) && (statSync(this.root).mode & 0o077) !== 0;
    this.ensureRoot();
    const imports = this.sweepImports();
    const sessions = this.sweepSessions();
    return [
      ...(wasOpen ? [`made ${this.root} 0700 (others could reach the files of its images)`] : []),
      ...(imports.length ? [`removed what killed imports left: ${imports.join(", ")}`] : []),
      ...(sessions.length ? [`removed what killed image execs left: ${sessions.join(", ")}`] : []),
    ];
  }

  private lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.ensureRoot();
    this.sweepImports();
    this.sweepSessions();
    return withLock(join(this.root, `.${name}.lock`), `image '${name}'`, fn).catch((e) => {
      throw e instanceof LockedError ? conflict(e.message) : e;
    });
  }

  /** Which nodes use each image (after the profile cascade). */
  private usage(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const n of this.nodes.listNodes([])) {
      const img = n.conf.image;
      if (img) m.set(img, [...(m.get(img) ?? []), n.name]);
    }
    return m;
  }

  // ---- import ----

  async import(source: string, name: string, opts: ImportOptions = {}): Promise<ImageDetail> {
    this.checkName(name);
    this.requireRoot("image import");
    const progress = opts.progress ?? silentProgress;
    return this.lock(name, async () => {
      if (this.store.get(name) && existsSync(this.rootfs(name)) && !opts.force)
        throw conflict(`image '${name}' already exists; pass --force to replace it, or pick another name`);
      let platform;
      try {
        platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
      } catch (e) {
        throw invalid((e as Error).message);
      }
      this.sweepImports(name);
      const tmp = join(this.root, `.import-${name}-${randomBytes(4).toString("hex")}`);
      mkdirSync(join(tmp, "rootfs"), { recursive: true, mode: 0o755 });
      try {
        const imported = await translate(() =>
          importInto(join(tmp, "rootfs"), source, {
            blobs: this.blobs,
            platform,
            progress,
            registry: {
              http: opts.nohttps,
              username: opts.username ?? this.env.DROVER_REGISTRY_USERNAME,
              password: opts.password ?? this.env.DROVER_REGISTRY_PASSWORD,
            },
          }),
        );
        const info: ImageInfo = { ...imported, importedAt: new Date().toISOString() };
        const kernels = findKernels(join(tmp, "rootfs"));
        info.kernels = kernels.map(kinfo);
        if (opts.build !== false) {
          progress.note("building the bootable image");
          info.build = await this.buildInto(join(tmp, "rootfs"), tmp);
        }
        // Swap in whole: the old image (if any) stays intact until the new one is complete.
        if (existsSync(this.dir(name))) {
          exchange(tmp, this.dir(name));
        } else renameSync(tmp, this.dir(name));
        this.store.put(name, info as Record<string, unknown>);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      return this.show(name);
    });
  }

  // ---- build ----

  /**
   * Builds image.img.gz (and image.img.zst) of `rootfs` into `dir`, and a stage-1 initramfs per kernel
   * version of the image. A stage 1 that cannot be built (no static busybox on the head node, no
   * modules.dep) is not a failed build: the image still boots one-stage, and `image show` says why.
   */
  private async buildInto(rootfs: string, dir: string, opts: BuildOpts = {}): Promise<NonNullable<ImageInfo["build"]>> {
    const zstdOut = opts.zstd === false ? undefined : join(dir, "image.img.zst");
    const r = await translate(() => buildImage(rootfs, join(dir, "image.img.gz"), { zstdOut }));
    if (!zstdOut) for (const f of ["image.img.zst", "image.img.zst.pieces"]) rmSync(join(dir, f), { force: true });
    const stage1: NonNullable<NonNullable<ImageInfo["build"]>["stage1"]> = {};
    let stage1Problem: string | undefined;
    for (const f of readdirSync(dir)) if (/^stage1-.*\.img\.gz$/.test(f)) rmSync(join(dir, f), { force: true });
    for (const k of findKernels(rootfs)) {
      try {
        const s = buildStage1(rootfs, k.version, join(dir, `stage1-${k.version}.img.gz`), { zstd: zstdOut ? undefined : false });
        stage1[k.version] = { size: s.size, modules: s.modules, zstd: s.zstd };
      } catch (e) {
        if (!(e instanceof Stage1Error)) throw e;
        stage1Problem = e.message;
      }
    }
    return {
      at: new Date().toISOString(),
      size: r.size,
      unpacked: r.unpacked,
      files: r.files,
      excluded: r.excluded.length,
      sha256: r.sha256,
      largestPiece: Math.max(r.largestPiece, r.zstd?.largestPiece ?? 0),
      ...(r.zstd ? { zstd: { size: r.zstd.size, sha256: r.zstd.sha256 } } : {}),
      stage1,
      ...(stage1Problem ? { stage1Problem } : {}),
    };
  }

  async build(name: string, opts: BuildOpts = {}): Promise<ImageDetail> {
    const info = this.info(name);
    return this.lock(name, async () => {
      info.build = await this.buildInto(this.rootfs(name), this.dir(name), opts);
      info.kernels = findKernels(this.rootfs(name)).map(kinfo);
      this.store.put(name, info as Record<string, unknown>);
      return this.show(name);
    });
  }

  async buildAll(opts: BuildOpts = {}): Promise<ImageDetail[]> {
    const out: ImageDetail[] = [];
    for (const r of this.store.list()) if (existsSync(this.rootfs(r.name))) out.push(await this.build(r.name, opts));
    return out;
  }

  // ---- listing ----

  list(): ImageSummary[] {
    const use = this.usage();
    return this.store
      .list()
      .filter((r) => existsSync(this.rootfs(r.name)))
      .map((r) => this.summary(r.name, r.info as ImageInfo, use.get(r.name) ?? []));
  }

  private summary(name: string, info: ImageInfo, nodes: string[]): ImageSummary {
    const built = existsSync(this.archive(name)) && !!info.build;
    const best = pickKernel(info.kernels?.map((k) => ({ ...k, path: "" })) ?? []);
    return {
      name,
      source: info.source,
      importedAt: info.importedAt,
      built,
      stale: built && !!info.changedAt && info.changedAt > info.build!.at,
      size: built ? info.build!.size : undefined,
      unpacked: built ? info.build!.unpacked : undefined,
      kernel: best?.version,
      nodes,
    };
  }

  show(name: string): ImageDetail {
    const info = this.info(name);
    const nodes = this.usage().get(name) ?? [];
    const s = this.summary(name, info, nodes);
    const b = s.built ? info.build : undefined;
    const bootMode = b ? chooseBootMode({ unpacked: b.unpacked, size: b.size, platform: "efi", stage1: !!(s.kernel && b.stage1?.[s.kernel]) }).mode : undefined;
    const ramOneStage = b ? ramFor("one-stage", b.size, b.unpacked) : undefined;
    const ramTwoStage = b && s.kernel && b.stage1?.[s.kernel] ? ramFor("two-stage", b.size, b.unpacked, b.largestPiece) : undefined;
    const ramNeeded = bootMode === "two-stage" ? ramTwoStage : ramOneStage;
    const warnings: string[] = [];
    if (!info.kernels?.length)
      warnings.push(
        `no kernel found in the image (looked in /boot/vmlinuz-*, /boot/Image-*, /lib/modules/*/vmlinuz); install one with drover image exec ${name} -- …`,
      );
    if (!s.built) warnings.push(`not built yet; run drover image build ${name}`);
    else if (s.stale) warnings.push(`changed since the last build; run drover image build ${name}`);
    if (b?.stage1Problem) warnings.push(`no stage 1 for the two-stage boot (nodes boot it one-stage): ${b.stage1Problem}`);
    if (ramNeeded !== undefined) warnings.push(...this.memoryWarnings(name, nodes));
    warnings.push(...this.syncuserConflicts(name, nodes));
    return { ...s, info, kernels: info.kernels ?? [], ramNeeded, bootMode, ramOneStage, ramTwoStage, warnings };
  }

  /**
   * Accounts the syncuser overlay (or `image syncuser`) cannot align for this image, each with the command
   * that fixes it; only when a node using the image lists the syncuser overlay (`nodes` given) or when asked.
   */
  syncuserConflicts(name: string, nodes?: readonly string[], hostEtc = this.hostEtc): string[] {
    if (nodes) {
      const uses = this.nodes
        .listNodes(nodes.length ? [...nodes] : [])
        .some((n) => nodes.includes(n.name) && [...(n.conf.systemOverlay ?? []), ...(n.conf.runtimeOverlay ?? [])].includes("syncuser"));
      if (!uses) return [];
    }
    try {
      return syncUsers(this.rootfs(name), hostEtc, { imageName: name, dryRun: true }).conflicts;
    } catch {
      return []; // unreadable account files: the overlay's own render says so
    }
  }

  /** Nodes (and the profiles their memory tag comes from) with less RAM than the image needs. */
  private memoryWarnings(name: string, nodes: string[]): string[] {
    const out: string[] = [];
    const byName = new Map(this.nodes.listNodes(nodes.length ? nodes : []).map((n) => [n.name, n]));
    for (const n of nodes) {
      const node = byName.get(n);
      const tag = node?.conf.tags?.memory;
      if (!tag || !node) continue;
      const have = parseMemory(tag);
      const need = this.nodeNeed(node);
      if (have === undefined) out.push(`node ${n}: memory tag ${JSON.stringify(tag)} is not a size (use e.g. 4G)`);
      else if (need && have < need.bytes)
        out.push(
          `node ${n} has memory=${tag} but image '${name}' needs about ${human(need.bytes)} to unpack and run (${need.mode}); the boot would stop ` +
            `with "not enough memory" (or the kernel panic with "Initramfs unpacking failed: write error")`,
        );
    }
    return out;
  }

  /** The boot mode and RAM need of a node (its bootmode tag, its kernel's stage 1, the image's build). */
  private nodeNeed(node: {
    conf: { image?: string; kernel?: { version?: string }; tags?: Record<string, string> };
  }): { mode: BootMode; bytes: number } | undefined {
    const info = node.conf.image ? (this.store.get(node.conf.image)?.info as ImageInfo | undefined) : undefined;
    if (!info?.build) return undefined;
    const k = pickKernel(info.kernels?.map((x) => ({ ...x, path: "" })) ?? [], node.conf.kernel?.version);
    // The firmware is not known here: the need of the mode either firmware would boot in (the larger wins).
    const stage1 = !!(k && info.build.stage1?.[k.version]);
    const tag = node.conf.tags?.bootmode;
    const bios = chooseBootMode({ tag, unpacked: info.build.unpacked, size: info.build.size, platform: "pcbios", stage1 }).mode;
    const efi = chooseBootMode({ tag, unpacked: info.build.unpacked, size: info.build.size, platform: "efi", stage1 }).mode;
    const mode = bios === "one-stage" || efi === "one-stage" ? "one-stage" : "two-stage";
    return { mode, bytes: ramFor(mode, info.build.size, info.build.unpacked, info.build.largestPiece) };
  }

  kernels(name?: string): { image: string; version: string; inImage: string; default: boolean }[] {
    const names = name ? [name] : this.list().map((i) => i.name);
    return names.flatMap((n) => {
      const ks = this.info(n).kernels ?? [];
      const best = pickKernel(ks.map((k) => ({ ...k, path: "" })));
      return ks.map((k) => ({ image: n, version: k.version, inImage: k.inImage, default: k.version === best?.version }));
    });
  }

  // ---- for the boot server and node status ----

  /**
   * The files a node boots from: the built image archive and the kernel inside the image (the node's
   * `kernel.version` if set, else the highest ordinary version). Never throws for a missing image or
   * kernel: `problem` says what is wrong, so `node list`, status and the HTTP server can all show it.
   */
  bootFiles(image: string | undefined, kernelVersion?: string): BootFiles {
    if (!image) return { problem: "no image set; drover node set NODE --image NAME" };
    if (!IMAGE_NAME.test(image) || !this.store.get(image) || !existsSync(this.rootfs(image)))
      return { problem: `image '${image}' is not imported; drover image import SOURCE ${image}` };
    const kernels = findKernels(this.rootfs(image));
    const k = pickKernel(kernels, kernelVersion);
    const archive = existsSync(this.archive(image)) ? this.archive(image) : undefined;
    const build = (this.store.get(image)?.info as ImageInfo | undefined)?.build;
    const zstd = build?.zstd && existsSync(this.zstdArchive(image)) ? this.zstdArchive(image) : undefined;
    const stage1 = k && build?.stage1?.[k.version] && existsSync(this.stage1(image, k.version)) ? this.stage1(image, k.version) : undefined;
    let problem: string | undefined;
    if (!k)
      problem = kernelVersion
        ? `image '${image}' has no kernel ${kernelVersion} (it has: ${kernels.map((x) => x.version).join(", ") || "none"})`
        : `image '${image}' contains no kernel; install one in it (drover image exec ${image} -- …)`;
    else if (!archive) problem = `image '${image}' is not built; drover image build ${image}`;
    return {
      image: archive,
      kernel: k ? { path: k.path, version: k.version } : undefined,
      problem,
      ...(zstd ? { zstd } : {}),
      ...(stage1 ? { stage1 } : {}),
      ...(archive && build ? { build } : {}),
    };
  }

  /** Problems a node would hit booting (image, kernel, memory), for `node list`/status. */
  nodeProblems(node: { name: string; conf: { image?: string; kernel?: { version?: string }; tags?: Record<string, string> } }): string[] {
    const b = this.bootFiles(node.conf.image, node.conf.kernel?.version);
    const out = b.problem ? [b.problem] : [];
    const tag = node.conf.tags?.memory;
    if (!b.problem && tag && node.conf.image) {
      const need = this.nodeNeed(node);
      const have = parseMemory(tag);
      if (need && have !== undefined && have < need.bytes)
        out.push(`memory=${tag} is below the ~${human(need.bytes)} image '${node.conf.image}' needs (${need.mode})`);
    }
    return out;
  }

  // ---- copy, rename, delete ----

  async delete(name: string, force = false): Promise<void> {
    this.info(name);
    const users = this.usage().get(name) ?? [];
    if (users.length && !force)
      throw inUse(
        `image '${name}' is used by ${users.length} node(s): ${users.slice(0, 10).join(", ")}${users.length > 10 ? ", …" : ""}; point them at ` +
          `another image (drover node set … --image OTHER) or pass --force`,
      );
    await this.lock(name, async () => {
      const trash = join(this.root, `.delete-${name}-${randomBytes(4).toString("hex")}`);
      renameSync(this.dir(name), trash);
      this.store.delete(name);
      rmSync(trash, { recursive: true, force: true });
    });
  }

  async copy(src: string, dst: string): Promise<ImageDetail> {
    const info = this.info(src);
    this.checkName(dst);
    this.requireRoot("image copy");
    if (this.store.get(dst) || existsSync(this.dir(dst))) throw conflict(`image '${dst}' already exists; delete it first or pick another name`);
    await this.lock(dst, async () => {
      const tmp = join(this.root, `.copy-${dst}-${randomBytes(4).toString("hex")}`);
      try {
        const p = Bun.spawnSync(["cp", "-a", "--reflink=auto", this.dir(src), tmp], { stderr: "pipe" });
        if (p.exitCode !== 0) throw new Error(`copying image '${src}' failed: ${p.stderr.toString().trim()}`);
        renameSync(tmp, this.dir(dst));
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      this.store.put(dst, { ...info, source: `copy of ${src}`, importedAt: new Date().toISOString() } as Record<string, unknown>);
    });
    return this.show(dst);
  }

  async rename(from: string, to: string): Promise<ImageDetail> {
    this.info(from);
    this.checkName(to);
    const users = this.usage().get(from) ?? [];
    if (users.length)
      throw inUse(
        `image '${from}' is used by ${users.join(", ")}; copy it (drover image copy ${from} ${to}), move the nodes (drover node set … --image ${to}), then delete '${from}'`,
      );
    if (this.store.get(to) || existsSync(this.dir(to))) throw conflict(`image '${to}' already exists`);
    await this.lock(from, async () => {
      renameSync(this.dir(from), this.dir(to));
      if (!this.store.rename(from, to)) {
        renameSync(this.dir(to), this.dir(from));
        throw conflict(`image '${to}' appeared meanwhile; nothing renamed`);
      }
    });
    return this.show(to);
  }

  // ---- exec, syncuser ----

  /**
   * Runs `cmd` inside the image. Exit 0 keeps its changes (and rebuilds if there were any and `build` is
   * not false); any other exit code discards them. Returns the command's exit code.
   */
  async exec(
    name: string,
    cmd: readonly string[],
    opts: {
      binds?: Bind[];
      interactive?: boolean;
      onOut?(s: string): void;
      onErr?(s: string): void;
      build?: boolean;
      env?: Record<string, string>;
      resolvConf?: string;
    } = {},
  ): Promise<{ code: number; changed: boolean; rebuilt: boolean }> {
    const info = this.info(name);
    this.requireRoot("image exec");
    if (!cmd.length) throw invalid("no command given: drover image exec NAME -- COMMAND [ARGS…]");
    return this.lock(name, async () => {
      const session = join(this.dir(name), `.exec-${randomBytes(4).toString("hex")}`);
      let r;
      try {
        r = await execInImage(this.rootfs(name), session, cmd, {
          binds: opts.binds,
          stdio: opts.interactive ? "inherit" : "pipe",
          onOut: opts.onOut,
          onErr: opts.onErr,
          env: opts.env,
          hostname: name.replace(/[^A-Za-z0-9-]/g, "-").slice(0, 63),
          resolvConf: opts.resolvConf,
        });
      } catch (e) {
        if (e instanceof ExecSetupError) throw invalid(`cannot run in image '${name}': ${e.message}`);
        throw e;
      }
      let rebuilt = false;
      if (r.changed) {
        info.changedAt = new Date().toISOString();
        info.kernels = findKernels(this.rootfs(name)).map(kinfo);
        if (opts.build !== false) {
          info.build = await this.buildInto(this.rootfs(name), this.dir(name));
          rebuilt = true;
        }
        this.store.put(name, info as Record<string, unknown>);
      }
      return { ...r, rebuilt };
    });
  }

  async syncuser(
    name: string,
    opts: { hostEtc?: string; build?: boolean } = {},
  ): Promise<{ changedUsers: string[]; changedGroups: string[]; conflicts: string[]; files: number; rebuilt: boolean }> {
    const info = this.info(name);
    this.requireRoot("image syncuser");
    return this.lock(name, async () => {
      const r = syncUsers(this.rootfs(name), opts.hostEtc ?? this.hostEtc, { imageName: name });
      let rebuilt = false;
      if (r.changedUsers.length || r.changedGroups.length) {
        info.changedAt = new Date().toISOString();
        if (opts.build !== false) {
          info.build = await this.buildInto(this.rootfs(name), this.dir(name));
          rebuilt = true;
        }
        this.store.put(name, info as Record<string, unknown>);
      }
      return { ...r, rebuilt };
    });
  }
}

const kinfo = (k: KernelFile) => ({ version: k.version, inImage: k.inImage, special: k.special });

/** Turns failures from the image code into DroverErrors with advice; disk-full gets its own message. */
async function translate<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DroverError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT")
      throw invalid(`the disk holding the data directory is full (${(e as Error).message}); free some space and run the command again. Nothing was changed.`);
    if (e instanceof BlobError || e instanceof ManifestError || e instanceof RegistryError || e instanceof TarError || e instanceof UnsafePathError)
      throw invalid(`${e.message}. Nothing was changed.`);
    if (
      e instanceof Error &&
      /zlib|unexpected end of file|incorrect header check|invalid (stored|block|distance)/i.test(`${e.message} ${(e as NodeJS.ErrnoException).code ?? ""}`)
    )
      throw invalid(`a layer is not valid compressed data (${e.message}); the source is damaged. Nothing was changed.`);
    throw e;
  }
}

/** The live process holding a lock file (image/lock.ts writes its pid), or undefined when it is free or stale. */
function lockHolder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return pid && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}
