import { Eta } from "eta";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Conf } from "../domain/conf";
import type { SnapshotNode } from "../services/node-snapshot";
import type { DiscoveryPolicy, NodeService, ResolvedNode } from "../services/nodes";
import type { BootStateStore } from "../services/ports";
import type {
  BootArtifact,
  BootEvent,
  BootFileKind,
  BootRefusal,
  BootRequest,
  DhcpBootPort,
  HttpBootPort,
  ImageArtifacts,
  LeaseStore,
  NodeReservation,
  OverlayArtifacts,
  RequestOrigin,
} from "./ports";
import { chooseBootMode, ramFloor } from "../domain/boot-mode";
import defaultTemplate from "./templates/default.ipxe" with { type: "text" };
import twoStageTemplate from "./templates/two-stage.ipxe" with { type: "text" };
import unconfiguredTemplate from "./templates/unconfigured.ipxe" with { type: "text" };
import { runtimeAllowed } from "../overlay/security";
import { formatProgress } from "../domain/stream-progress";
import { isTemplateName } from "../domain/validate";

export interface BootSettings {
  /** Bind unknown MACs to discoverable nodes, and register new ones when `register` is set. */
  discovery: boolean;
  register?: DiscoveryPolicy["register"];
  /** Site iPXE templates (<name>.ipxe) shadowing the built-in ones. */
  ipxeTemplateDir?: string;
  /**
   * Serve runtime overlays only to a privileged source port from the node's own address (default on;
   * see overlay/security.ts). Off only for development or wget-only nodes.
   */
  secureRuntime?: boolean;
  /**
   * drover's DHCP hands out the addresses (authoritative on some interface). A node without a static address
   * then has one only while drover's lease runs; without one its runtime overlay is refused.
   */
  dhcpLeases?: boolean;
}

/** What the boot routes need of a node. */
type BootNode = { name: string; conf: Conf };

/** Which node a MAC is, for the HTTP boot routes: the app's node snapshot (services/node-snapshot.ts). */
export interface NodeLookup {
  byMac(mac: string): SnapshotNode | undefined;
}

const refuse = (status: BootRefusal["status"], message: string): BootRefusal => ({ refused: true, status, message });
export const isRefusal = (x: BootArtifact | BootRefusal): x is BootRefusal => "refused" in x;

/**
 * Boot decisions: which node a MAC is, what it gets, and what happened. Implements the ports the protocol
 * servers use (DhcpBootPort for DHCP, HttpBootPort for the HTTP boot routes) over the node service, the
 * boot-state store, and the image and overlay subsystems.
 */
export class BootService implements DhcpBootPort, HttpBootPort {
  private readonly eta = new Eta({ autoEscape: false, autoTrim: false, cache: false, useWith: false });
  private readonly builtIn: Record<string, string> = { default: defaultTemplate, "two-stage": twoStageTemplate, unconfigured: unconfiguredTemplate };

  constructor(
    private readonly nodes: NodeService,
    private readonly state: BootStateStore,
    private readonly images: ImageArtifacts | undefined,
    private readonly overlays: OverlayArtifacts | undefined,
    private settings: BootSettings,
    private readonly log: (line: string) => void,
    /** drover's own DHCP leases: a node without a static address is known by the one drover gave it. */
    private readonly leases?: Pick<LeaseStore, "get">,
    /**
     * Which node a MAC is for the HTTP boot routes: the node snapshot the overlays read too, so a boot file
     * resolves its node once (default: a lookup in the store per request).
     */
    snapshot?: NodeLookup,
  ) {
    this.lookup = snapshot ?? { byMac: (mac) => nodes.findByMac(mac) };
  }

  private readonly lookup: NodeLookup;

  /** The address drover's DHCP server leased to this (normalized) MAC, while the lease runs. */
  private leasedAddress(mac: string): string | undefined {
    const l = this.leases?.get(mac);
    return l && l.expiresAt > Date.now() ? l.ip : undefined;
  }

  /** DHCP changed mode while running (the settings page): see BootSettings.dhcpLeases. */
  setDhcpLeases(on: boolean) {
    this.settings = { ...this.settings, dhcpLeases: on };
  }

  /** Discovery turned on or off, or registration changed, while running (the settings page). */
  setDiscovery(discovery: boolean, register: BootSettings["register"]) {
    this.reservations.clear();
    const { register: _old, ...rest } = this.settings;
    this.settings = { ...rest, discovery, ...(register ? { register } : {}) };
  }

  /** The node for a MAC, running discovery when it is on and the MAC is unknown. */
  nodeForMac(mac: string, address?: string): ResolvedNode | undefined {
    const hit = this.nodes.findByMac(mac);
    if (hit || !this.settings.discovery) return hit;
    try {
      const name = this.nodes.discover(mac, { register: this.settings.register });
      if (!name) return undefined;
      this.log(`drover: discovery: ${mac} is now node ${name}${address ? ` (${address})` : ""}`);
      return this.nodes.findNode(name);
    } catch (e) {
      this.log(`drover: discovery of ${mac} failed: ${(e as Error).message}`);
      return undefined;
    }
  }

  // ---- DhcpBootPort ----

  async reservation(mac: string, origin: RequestOrigin): Promise<NodeReservation | undefined> {
    // Asked for every DHCP packet: answers (unknown included) are kept until the node store's version changes.
    const v = this.reservationsAt();
    const hit = v === undefined ? undefined : this.reservations.get(mac);
    if (hit !== undefined) return hit ?? undefined;
    const n = this.nodeForMac(mac, origin.relay ? `via relay ${origin.relay} on ${origin.iface}` : `on ${origin.iface}`);
    const r = n ? reservationOf(n, mac) : undefined;
    // Once per MAC until the next node write (the answer is cached below): which machines drover ignores.
    if (!r)
      this.log(
        `boot: unknown MAC ${mac} ${origin.relay ? `via relay ${origin.relay} on ${origin.iface}` : `on ${origin.iface}`}${this.settings.discovery ? "" : " (discovery is off)"}`,
      );
    // Kept only when nothing was written meanwhile (discovery may just have bound or registered the MAC).
    if (v !== undefined && this.nodes.version() === v) {
      if (this.reservations.size >= 200_000) this.reservations.clear();
      this.reservations.set(mac, r ?? null);
    }
    return r;
  }

  /**
   * Every node's reservations, computed at once (drover serve, before it listens): a boot storm's first DHCP
   * packets then cost a Map lookup, not a cascade each. Kept until the next node or profile write.
   */
  warmReservations(): number {
    const v = this.reservationsAt();
    if (v === undefined) return 0;
    let n = 0;
    this.nodes.eachNode((node) => {
      for (const d of Object.values(node.conf.networkDevices ?? {})) {
        if (!d.hwaddr || this.reservations.has(d.hwaddr)) continue;
        this.reservations.set(d.hwaddr, reservationOf(node, d.hwaddr));
        n++;
      }
    });
    return n;
  }

  /** mac → reservation (null: unknown), at reservationsVersion. */
  private readonly reservations = new Map<string, NodeReservation | null>();
  private reservationsVersion: string | undefined;
  private reservationsAt(): string | undefined {
    const v = this.nodes.version();
    if (v !== this.reservationsVersion) {
      this.reservations.clear();
      this.reservationsVersion = v;
    }
    return v;
  }

  /**
   * The DHCP server's events: queued and recorded together once per event-loop turn (one transaction for
   * every ACK of a turn, not one per packet). A killed process may lose the last turn's events; they are
   * a progress record, not state a client depends on (its lease is committed before its ACK).
   */
  event(e: BootEvent): void {
    this.queued.push({ ...e, at: Date.now() });
    if (this.queued.length > 1) return;
    setImmediate(() => {
      const batch = this.queued.splice(0);
      const v = this.reservationsAt();
      const records = batch.map((q) => {
        const known = v === undefined ? undefined : this.reservations.get(q.mac);
        const node = known !== undefined ? known?.node : this.nodes.findByMac(q.mac)?.name;
        return { ...q, ...(node ? { node } : {}) };
      });
      for (const r of records) this.logStage(r);
      try {
        if (this.state.recordMany) this.state.recordMany(records);
        else for (const r of records) this.state.record(r);
      } catch (err) {
        this.log(`drover: could not record ${records.length} DHCP event(s) (${records[0]!.stage} of ${records[0]!.mac} …): ${(err as Error).message}`);
      }
    });
  }
  private readonly queued: (BootEvent & { at: number })[] = [];

  /** One log line per boot stage reached: "boot: n001 (aa:bb:…) kernel from 10.0.0.5: vmlinuz". */
  private logStage(e: BootEvent & { node?: string }): void {
    this.log(`boot: ${e.node ?? "unknown node"} (${e.mac}) ${e.stage}${e.address ? ` from ${e.address}` : ""}${e.detail ? `: ${e.detail}` : ""}`);
  }

  /** Records an event of the HTTP boot routes now (never throws; failures are logged); `node`: the MAC's, when known. */
  private record(e: BootEvent, node?: string): void {
    try {
      this.logStage({ ...e, ...(node ? { node } : {}) });
      this.state.record({ ...e, at: Date.now(), ...(node ? { node } : {}) });
    } catch (err) {
      this.log(`drover: could not record ${e.stage} of ${e.mac}: ${(err as Error).message}`);
    }
  }

  // ---- HttpBootPort ----

  async ipxeScript(mac: string, req: BootRequest): Promise<{ status: number; script: string }> {
    // No discovery here: anyone can send an HTTP request naming any MAC. Discovery runs from DHCP on a
    // served interface or relay (reservation), which the iPXE script request follows.
    const n = this.lookup.byMac(mac);
    if (!n) {
      this.record({ mac, stage: "ipxe", detail: "unconfigured script (unknown MAC)", address: req.remote });
      return { status: 200, script: this.render("unconfigured", { mac, base: req.base }) };
    }
    const denied = this.checkAssetKey(n, req);
    if (denied) {
      this.record({ mac, stage: "error", detail: denied.message, address: req.remote }, n.name);
      return { status: denied.status, script: `#!ipxe\necho drover: ${denied.message}\nsleep 30\nreboot\n` };
    }
    const c = n.conf;
    const plan = c.image ? this.images?.plan(c.image, c.kernel?.version) : undefined;
    const choice = plan
      ? chooseBootMode({ tag: c.tags?.bootmode, unpacked: plan.unpacked, size: plan.gzip.size, stage1: plan.stage1, platform: req.query.platform || undefined })
      : { mode: "one-stage" as const, why: "image not built" };
    const format = choice.mode === "two-stage" && plan?.zstd && c.tags?.imageformat !== "gzip" ? "zstd" : "gzip";
    const stream = format === "zstd" ? plan!.zstd! : plan?.gzip;
    const floor = plan ? ramFloor(choice.mode, plan.gzip.size, plan.unpacked, plan.largestPiece) : 0;
    // iPXE cannot compare numbers, so a node with a built image first asks again with its ${memsize} (MiB)
    // and ${platform} (pcbios, efi) in the query: the script it then gets knows whether the image fits, and
    // the boot mode can depend on the firmware.
    if (plan && req.query.memsize === undefined) {
      return {
        status: 200,
        script:
          `#!ipxe\n# drover: the boot script of ${n.name} depends on this machine's RAM\nchain --replace --autofree ${req.base}/ipxe/\${mac:hexhyp}` +
          `?assetkey=\${asset:uristring}&uuid=\${uuid}&memsize=\${memsize}&smbios16=\${smbios/16.7.4:hex}&platform=\${platform}\n`,
      };
    }
    const memsize = Number(req.query.memsize);
    // Most iPXE builds (QEMU's NIC ROMs, Debian's) have no memory-map settings, so ${memsize} is empty. The
    // SMBIOS physical memory array's maximum capacity is then an upper bound: below the floor, the node
    // certainly cannot unpack the image (on a VM it is the RAM itself; a server's is far above any floor).
    // A firmware whose SMBIOS says less than the machine has: the node's tag ramcheck=off turns the checks off.
    const ramCheck = c.tags?.ramcheck !== "off";
    const atMost = memsize > 0 ? undefined : smbiosMaxCapacityMiB(req.query.smbios16);
    const ram = memsize > 0 ? memsize : atMost;
    const floorMiB = Math.ceil(floor / 1048576);
    if (plan && ramCheck && ram !== undefined && ram * 1048576 < floor) {
      const has = memsize > 0 ? `has ${memsize} MiB of RAM` : `has at most ${atMost} MiB of RAM (SMBIOS)`;
      const other = memsize > 0 ? "" : ` (if it has more, its firmware's SMBIOS is wrong: drover node set ${n.name} --tagadd ramcheck=off)`;
      const msg =
        `node ${n.name} ${has} but image '${c.image}' needs at least ${floorMiB} MiB to boot ` +
        `${choice.mode} (drover image show ${c.image}); give it more memory${other}`;
      this.record({ mac, stage: "error", detail: msg, address: req.remote }, n.name);
      return {
        status: 200,
        script:
          `#!ipxe\necho drover: ${msg}\necho drover: asking again in 60 seconds\nsleep 60\nchain --replace --autofree ${req.base}/ipxe/\${mac:hexhyp}` +
          `?assetkey=\${asset:uristring}&uuid=\${uuid}\n`,
      };
    }
    // Warewulf's profiles name the template "default" (drover's default profile too): that means "the
    // built-in script for the node's boot mode" unless the site has its own default.ipxe.
    const template = c.ipxe && !(c.ipxe === "default" && !this.siteTemplate("default")) ? c.ipxe : choice.mode === "two-stage" ? "two-stage" : "default";
    const script = this.render(template, {
      node: n.name,
      mac,
      hexhyp: mac.replaceAll(":", "-"),
      base: req.base,
      kernelArgs: (c.kernel?.args ?? []).join(" "),
      system: (c.systemOverlay ?? []).length > 0,
      runtime: (c.runtimeOverlay ?? []).length > 0,
      image: c.image,
      mode: choice.mode,
      why: choice.why,
      format,
      size: stream?.size ?? 0,
      sha256: stream?.sha256 ?? "",
      /** Stage 1 fetches the archive's piece index and unpacks piece by piece (no decompressor pipe). */
      indexed: !!plan?.indexed?.includes(format),
      /** MiB stage 1 must see in MemTotal (the unpacked tree plus a margin). */
      needMiB: ramCheck ? floorMiB : 0,
      rendered: new Date().toISOString(),
    });
    // What the RAM check had to go on: iPXE builds without memory-map settings leave ${memsize} empty.
    const ramNote =
      req.query.memsize === undefined
        ? ""
        : memsize > 0
          ? `; ${memsize} MiB of RAM`
          : atMost !== undefined
            ? `; at most ${atMost} MiB of RAM (SMBIOS; this iPXE has no \${memsize})`
            : "; RAM not reported by this iPXE (no ${memsize}, no SMBIOS)";
    this.record({ mac, stage: "ipxe", detail: `script '${template}' (${choice.mode}: ${choice.why})${ramNote}`, address: req.remote }, n.name);
    return { status: 200, script };
  }

  async file(kind: BootFileKind, mac: string, req: BootRequest): Promise<BootArtifact | BootRefusal> {
    const n = this.lookup.byMac(mac);
    if (!n) return refuse(404, `${mac} is not a registered node`);
    const denied = this.checkAssetKey(n, req);
    if (denied) {
      this.record({ mac, stage: "error", detail: `${kind}: ${denied.message}`, address: req.remote }, n.name);
      return denied;
    }
    let out: BootArtifact | BootRefusal;
    let detail: string | undefined;
    if (kind === "kernel" || kind === "image" || kind === "stage1") {
      const image = n.conf.image;
      if (!image) out = refuse(409, `node ${n.name} has no image; set one with: drover node set ${n.name} --image NAME`);
      else if (!this.images) out = refuse(503, "images are not available on this server");
      else if (kind === "kernel") out = await this.images.kernel(image, n.conf.kernel?.version);
      else if (kind === "stage1") {
        out = await this.images.stage1(image, n.conf.kernel?.version);
        if (!isRefusal(out)) detail = `stage 1 initramfs ${out.size} bytes`;
      } else if (req.query.pieces !== undefined) {
        // Stage 1's first request: where the pieces are (whole zstd frames or gzip members, whole entries).
        out = this.images.pieces
          ? await this.images.pieces(image, req.query.format === "zstd" ? "zstd" : "gzip")
          : refuse(404, "no piece index on this server");
        if (!isRefusal(out)) detail = `piece index of the ${req.query.format === "zstd" ? "zstd" : "gzip"} image`;
      } else {
        out = await this.images.image(image, req.query.format === "zstd" ? "zstd" : "gzip");
        // Stage 1 asks for the image in pieces (?offset=&length=; busybox wget refuses 206 answers) and says
        // how fast it has been going (&rate=, KiB/s): each piece is the node's progress report.
        if (!isRefusal(out) && req.query.offset !== undefined) {
          const piece = slicePiece(out, req.query.offset, req.query.length);
          if ("refused" in piece) out = piece;
          else {
            detail = formatProgress({
              bytes: piece.offset,
              total: out.size,
              rate: Number(req.query.rate) * 1024 || 0,
              format: req.query.format === "zstd" ? "zstd" : "gzip",
            });
            out = piece.artifact;
          }
        }
      }
    } else {
      const denied = kind === "runtime" ? this.runtimeDenied(n, mac, req) : undefined;
      if (denied) out = denied;
      else if (!this.overlays) out = refuse(503, `${kind} overlays are not available on this server yet`);
      else out = await this.overlays.archive(kind, n.name);
    }
    // iPXE cannot bind a privileged port, so an old or site script that still asks for the runtime overlay
    // is refused by design; the agent fetches it after boot. Not an error of this boot: nothing recorded.
    if (
      kind === "runtime" &&
      isRefusal(out) &&
      out.status === 403 &&
      (req.remotePort === undefined || req.remotePort >= 1024) &&
      this.settings.secureRuntime !== false
    )
      return out;
    if (!isRefusal(out) && kind === "system" && req.query.streamed !== undefined) {
      const mib = (Number(req.query.streamed) / 1048576).toFixed(1);
      detail =
        `system ${out.size} bytes; stage 1 streamed the image (${mib} MiB) in ${Number(req.query.secs) || 0} s, ` +
        `${((Number(req.query.rate) || 0) / 1024).toFixed(1)} MiB/s, sha256 checked`;
    }
    this.record(
      {
        mac,
        stage: isRefusal(out) ? "error" : kind === "stage1" ? "image" : kind,
        detail: isRefusal(out) ? `${kind}: ${out.message}` : req.ifNoneMatch === out.etag ? `${kind} unchanged (304)` : (detail ?? `${kind} ${out.size} bytes`),
        address: req.remote,
      },
      n.name,
    );
    return out;
  }

  async callback(mac: string, stage: "booted" | "heartbeat" | "error", req: BootRequest, detail?: string): Promise<boolean> {
    const n = this.lookup.byMac(mac);
    if (!n) return false;
    if (this.checkAssetKey(n, req)) return false;
    // Only the node itself reports: from one of its static addresses or the one drover leased it, when drover
    // knows any (a node configured by another DHCP server is known by its MAC and asset key only).
    const own = Object.values(n.conf.networkDevices ?? {})
      .flatMap((d) => [d.ipaddr, d.ipaddr6?.split("/")[0]?.toLowerCase()])
      .filter((a): a is string => !!a);
    const leased = this.leasedAddress(mac);
    if (leased) own.push(leased);
    const from = req.remote?.replace(/^::ffff:/, "").toLowerCase();
    if (own.length > 0 && (!from || !own.includes(from))) {
      this.log(`drover: callback '${stage}' for ${n.name} from ${from ?? "an unknown address"} refused: not one of the node's addresses`);
      return false;
    }
    // What a node says is shown on the web page and in `node status`: plain text, one line, 200 characters.
    const clean = detail
      ?.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ")
      .replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
      .slice(0, 200);
    this.record({ mac, stage, address: req.remote, ...(clean ? { detail: clean } : {}) }, n.name);
    return true;
  }

  /**
   * runtimeAllowed, and for a node configured by drover's DHCP: no live lease, no runtime overlay. Otherwise
   * a node whose lease is gone (expired, declined, its address given to another machine) would be checked by
   * source port only, and root on any host could read it.
   */
  private runtimeDenied(n: BootNode, mac: string, req: BootRequest): BootRefusal | undefined {
    const enforce = this.settings.secureRuntime !== false;
    const leased = this.leasedAddress(mac);
    const denied = runtimeAllowed(n, req, { enforce }, leased);
    if (denied || !enforce || leased || !this.settings.dhcpLeases) return denied;
    const hasStatic = Object.values(n.conf.networkDevices ?? {}).some((d) => d.ipaddr || d.ipaddr6);
    return hasStatic
      ? undefined
      : refuse(403, `runtime overlay of ${n.name} refused: the node has no static address and no live DHCP lease from drover; it gets one when it boots`);
  }

  private checkAssetKey(n: BootNode, req: BootRequest): BootRefusal | undefined {
    const want = n.conf.assetKey;
    if (want && req.query.assetkey !== want) return refuse(403, `asset key does not match node ${n.name}'s`);
    return undefined;
  }

  /** The site's own template file for a name (<data-dir>/ipxe/NAME.ipxe), when it has one. */
  private siteTemplate(name: string): string | undefined {
    const site = this.settings.ipxeTemplateDir ? join(this.settings.ipxeTemplateDir, `${name}.ipxe`) : undefined;
    return site && existsSync(site) ? site : undefined;
  }

  private render(name: string, data: Record<string, unknown>): string {
    // A name is a name: one stored before names were checked (or written to the database by hand) must not
    // reach the file system as a path.
    if (!isTemplateName(name))
      return (
        `#!ipxe\necho drover: '${name.slice(0, 64).replace(/[^\w.-]/g, "?")}' is not an iPXE template name; fix it with: drover node set NODE ` +
        `--ipxe default\nsleep 30\nreboot\n`
      );
    const site = this.siteTemplate(name);
    const tpl = site ? readFileSync(site, "utf8") : this.builtIn[name];
    if (tpl === undefined) {
      return (
        `#!ipxe\necho drover: iPXE template '${name}' does not exist (built-in: default; site templates in ` +
        `${this.settings.ipxeTemplateDir ?? "<data-dir>/ipxe"})\nsleep 30\nreboot\n`
      );
    }
    return this.eta.renderString(tpl, data);
  }
}

/** A piece [offset, offset+length) of an artifact stored as one file, for stage 1's piecewise download. */
function slicePiece(a: BootArtifact, offsetQ: string, lengthQ: string | undefined): { artifact: BootArtifact; offset: number } | BootRefusal {
  const offset = Number(offsetQ);
  const length = lengthQ === undefined ? a.size - offset : Number(lengthQ);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > a.size || !("path" in a))
    return refuse(409, `piece offset=${offsetQ} length=${lengthQ ?? ""} is outside the image (${a.size} bytes); it was rebuilt: boot again`);
  return {
    offset,
    artifact: { parts: [{ path: a.path, offset, size: length }], size: length, mtimeMs: a.mtimeMs, etag: `${a.etag.slice(0, -1)}-${offset}-${length}"` },
  };
}

/** What DHCP needs of a node for one of its MACs (`mac` normalized, as stored). */
function reservationOf(n: BootNode, mac: string): NodeReservation {
  const dev = Object.values(n.conf.networkDevices ?? {}).find((d) => d.hwaddr === mac);
  return {
    node: n.name,
    ...(dev?.ipaddr && dev.netmask ? { ip: dev.ipaddr, netmask: dev.netmask } : {}),
    hostname: n.name,
    ...(dev?.gateway ? { gateway: dev.gateway } : {}),
    ...(dev?.mtu ? { mtu: dev.mtu } : {}),
  };
}

/**
 * SMBIOS type 16 (physical memory array) "Maximum Capacity" as iPXE prints `${smbios/16.7.4:hex}`: four
 * little-endian bytes of KiB ("00:00:0a:00" = 640 MiB). 0x80000000 means "see the extended field", which
 * the script does not ask for: unknown, as are empty, malformed and zero values.
 */
export function smbiosMaxCapacityMiB(hex: string | undefined): number | undefined {
  if (!hex || !/^[0-9a-f]{2}(:[0-9a-f]{2}){3}$/i.test(hex)) return undefined;
  const b = hex.split(":").map((x) => Number.parseInt(x, 16));
  const kib = (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 2 ** 24;
  if (kib === 0 || kib >= 0x80000000) return undefined;
  return Math.floor(kib / 1024);
}
