import { posix } from "node:path";
import type { Conf } from "../domain/conf";
import type { NetDevView, NodeView, PeerView, ServerView } from "./data";
import {
  type Budget,
  GO_STRING,
  GO_TRUTH,
  GO_TYPE,
  GoError,
  GoTemplateError,
  Halt,
  type FuncDef,
  type FuncMap,
  READONLY,
  Template,
  ZERO,
  standardFuncs,
} from "./gotmpl";
import { MAX_OUTPUT } from "./sandbox";
import type { RenderedFile, TemplateSource } from "./template";

/**
 * Warewulf `.ww` templates, rendered as Warewulf 4.6+ renders them: Go text/template (gotmpl/) over
 * Warewulf's TemplateStruct (internal/pkg/overlay/datastructure.go: the node's fields at the top, `.Id`,
 * `.BuildHost`, the server's `.Ipaddr`/`.Netmask`/`.Network`, `.Dhcp`, `.Nfs`, `.Warewulf`, `.Tftp`,
 * `.Paths`, `$.AllNodes`, `.ThisNode`) built from drover's node view, and Warewulf's template functions
 * (`Include`, `IncludeFrom`, `file`, `softlink`, `abort`, …) plus Sprig.
 *
 * Go types shape what a template sees, so they are kept: addresses are `net.IP` (an unset one prints
 * `<nil>`, is false in `if`), booleans of the node document are `wwtype.WWbool` (a string: "true",
 * "false" or ""; `.Bool`, `.BoolDefaultTrue`), maps are Go maps (a missing key prints `<no value>`, which
 * drover reports as a note for lint), a misspelt field is an error naming the overlay, template, line and
 * node. `AllNodes` holds the peers as drover gives them to templates: no IPMI secrets.
 */

export const WW_SUFFIX = ".ww";

/** What warewulf.conf says in Warewulf; drover's server settings fill it unless set. */
export interface WarewulfSettings {
  ipaddr: string;
  netmask: string;
  network: string;
  ipaddr6: string;
  prefixLen6: string;
  fqdn: string;
  warewulf: {
    port: number;
    tlsPort: number;
    secure: boolean;
    updateInterval: number;
    autobuildOverlays: boolean;
    hostOverlay: boolean;
    grubBoot: boolean;
    tls: boolean;
    systemdName: string;
  };
  dhcp: { enabled: boolean; template: string; rangeStart: string; rangeEnd: string; range6Start: string; range6End: string; systemdName: string };
  tftp: { enabled: boolean; tftpRoot: string; systemdName: string; ipxe: Record<string, string> };
  nfs: { enabled: boolean; exports: { path: string; exportOptions: string }[]; systemdName: string };
  ssh: { keyTypes: string[] };
  paths: Record<string, string>;
}

export function defaultSettings(server: ServerView, over: Partial<WarewulfSettings> = {}): WarewulfSettings {
  return {
    ipaddr: server.address,
    netmask: server.netmask,
    network: server.network,
    ipaddr6: "",
    prefixLen6: "",
    fqdn: "",
    warewulf: {
      port: server.port,
      tlsPort: 9874,
      secure: true,
      updateInterval: server.pollSeconds,
      autobuildOverlays: true,
      hostOverlay: true,
      grubBoot: false,
      tls: false,
      systemdName: "drover",
      ...over.warewulf,
    },
    dhcp: { enabled: true, template: "default", rangeStart: "", rangeEnd: "", range6Start: "", range6End: "", systemdName: "dhcpd", ...over.dhcp },
    tftp: {
      enabled: true,
      tftpRoot: "/var/lib/tftpboot",
      systemdName: "tftp",
      ipxe: { "00:00": "undionly.kpxe", "00:07": "ipxe-snponly-x86_64.efi", "00:09": "ipxe-snponly-x86_64.efi", "00:0B": "arm64-efi/snponly.efi" },
      ...over.tftp,
    },
    nfs: { enabled: true, exports: [], systemdName: "nfs-server", ...over.nfs },
    ssh: { keyTypes: ["ed25519", "ecdsa", "rsa"], ...over.ssh },
    paths: {
      Bindir: "/usr/bin",
      Sysconfdir: "/etc",
      Localstatedir: "/var/lib",
      Cachedir: "/var/cache",
      Ipxesource: "/usr/share/ipxe",
      Srvdir: "/var/lib",
      Firewallddir: "/usr/lib/firewalld/services",
      Systemddir: "/usr/lib/systemd/system",
      Datadir: "/usr/share",
      WWOverlaydir: "/var/lib/warewulf/overlays",
      WWChrootdir: "/var/lib/warewulf/chroots",
      WWProvisiondir: "/var/lib/warewulf/provision",
      WWClientdir: "/warewulf",
      WWFilesdir: "/var/lib/warewulf",
      ...over.paths,
    },
    ...Object.fromEntries(Object.entries(over).filter(([k]) => ["ipaddr", "netmask", "network", "ipaddr6", "prefixLen6", "fqdn"].includes(k))),
  } as WarewulfSettings;
}

/** The head-node world a `.ww` template may read, through the same guards as eta's helpers (build.ts). */
export interface WarewulfHost {
  /** A head-node file, or undefined when it does not exist. */
  include(path: string): string | undefined;
  /** A file of an image, or undefined when the image or the file does not exist. */
  includeFrom(image: string, path: string): string | undefined;
  /** A head-node path with its symlinks resolved (Go's filepath.EvalSymlinks), or undefined. */
  readlink(path: string): string | undefined;
  /** The node's own SSH host key (`ssh.host_keys`: `Include "keys/ssh_host_TYPE_key[.pub]"`). */
  hostKey?(type: string, part: "private" | "public"): string;
  /** Told what a render printed or did that Warewulf does silently (`<no value>`, a missing include). */
  note(message: string): void;
}

const structOf = (type: string, o: Record<string, unknown>) => Object.assign(o, { [GO_TYPE]: type });

/** A Go map of strings: a missing key is `<no value>`, `index` of one is "". */
function strMap(o: Record<string, string> | undefined): Map<string, string> {
  return Object.assign(new Map(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), {
    [ZERO]: "",
    [READONLY]: true,
    [GO_TYPE]: "map[string]string",
  });
}

/** Free YAML (resources) as Go's map[string]interface{} / []interface{}. */
function yamlValue(v: unknown): unknown {
  if (v === undefined) return null;
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return Object.assign(v.map(yamlValue), { [READONLY]: true });
  return Object.assign(new Map(Object.entries(v).map(([k, x]) => [k, yamlValue(x)])), { [READONLY]: true, [ZERO]: null });
}

/** net.IP: prints the address, or `<nil>` when unset; false in `if` when unset. */
export function netIP(s: string | undefined) {
  const v = s ?? "";
  return {
    [GO_TYPE]: "net.IP",
    [GO_STRING]: () => (v === "" ? "<nil>" : v),
    [GO_TRUTH]: () => v !== "",
    String: () => (v === "" ? "<nil>" : v),
    To4: () => netIP(v.includes(":") ? "" : v),
  };
}

/** wwtype.WWbool: a string ("true", "false", "") with Bool and BoolDefaultTrue. */
export function wwBool(b: boolean | undefined) {
  const s = b === undefined ? "" : String(b);
  return {
    [GO_TYPE]: "wwtype.WWbool",
    [GO_STRING]: () => s,
    [GO_TRUTH]: () => s !== "",
    Bool: () => b === true,
    BoolDefaultTrue: () => b !== false,
    String: () => s,
  };
}

const boolOf = (v: unknown): boolean | undefined => (v === undefined || v === null ? undefined : v === true || v === "true" || v === "yes" || v === "1");

function cidr(ip: string | undefined, mask: string | undefined): string {
  if (!ip || !mask) return "";
  const bits = mask.split(".").reduce((n, o) => n + (Number(o) >>> 0).toString(2).replace(/0/g, "").length, 0);
  return `${ip}/${bits}`;
}

function netDev(d: NetDevView, raw: NonNullable<Conf["networkDevices"]>[string] | undefined, copied = false) {
  return structOf("*node.NetDev", {
    // Warewulf's NetDev.Type is what nodes.conf says ("" when unset: templates write `default "Ethernet" .Type`).
    Type: raw ? (raw.type ?? "") : d.type,
    OnBoot: wwBool(raw ? raw.onboot : d.onboot),
    Device: d.device ?? "",
    Hwaddr: d.hwaddr ?? "",
    Ipaddr: netIP(d.ipaddr),
    Netmask: netIP(d.netmask),
    Gateway: netIP(d.gateway),
    Ipaddr6: netIP(d.ipaddr6),
    PrefixLen6: d.prefixlen6 ?? "",
    Gateway6: netIP(d.gateway6),
    MTU: d.mtu === undefined ? "" : String(d.mtu),
    Tags: strMap(d.tags),
    Primary: () => !copied && d.primary,
    IpCIDR: () => cidr(d.ipaddr, d.netmask),
    IpCIDR6: () => (d.ipaddr6 && d.prefixlen6 ? `${d.ipaddr6}/${d.prefixlen6}` : ""),
  });
}

function netDevs(devs: Record<string, NetDevView>, raw?: Conf["networkDevices"], copied = false) {
  return Object.assign(new Map(Object.entries(devs).map(([k, d]) => [k, netDev(d, raw?.[k], copied)])), {
    [READONLY]: true,
    [ZERO]: null,
    [GO_TYPE]: "map[string]*node.NetDev",
  });
}

const bp = (v: unknown) => (v === undefined || v === null ? false : boolOf(v) === true);

function disks(raw: Record<string, unknown>) {
  const m = new Map<string, unknown>();
  for (const [id, d] of Object.entries(raw)) {
    const o = (d ?? {}) as Record<string, unknown>;
    const parts = new Map<string, unknown>();
    for (const [pid, p] of Object.entries((o.partitions ?? {}) as Record<string, Record<string, unknown>>)) {
      const q = p ?? {};
      parts.set(
        pid,
        structOf("*node.Partition", {
          Number: String(q.number ?? ""),
          SizeMiB: String(q.size_mib ?? ""),
          StartMiB: String(q.start_mib ?? ""),
          TypeGuid: String(q.type_guid ?? ""),
          Guid: String(q.guid ?? ""),
          Id: () => pid,
          WipePartitionEntry: () => bp(q.wipe_partition_entry),
          ShouldExist: () => bp(q.should_exist),
          Resize: () => bp(q.resize),
        }),
      );
    }
    const list = () =>
      [...parts.entries()]
        .sort(([a, pa], [b, pb]) => {
          const na = Number.parseInt((pa as { Number: string }).Number, 10);
          const nb = Number.parseInt((pb as { Number: string }).Number, 10);
          if (!Number.isNaN(na) && !Number.isNaN(nb) && na !== nb) return na - nb;
          if (!Number.isNaN(na) !== !Number.isNaN(nb)) return Number.isNaN(na) ? 1 : -1;
          return a < b ? -1 : a > b ? 1 : 0;
        })
        .map(([, p]) => p);
    m.set(
      id,
      structOf("*node.Disk", {
        WipeTableP: o.wipe_table === undefined ? null : bp(o.wipe_table),
        Partitions: Object.assign(parts, { [READONLY]: true, [ZERO]: null }),
        Id: () => id,
        WipeTable: () => bp(o.wipe_table),
        PartitionList: list,
      }),
    );
  }
  return Object.assign(m, { [READONLY]: true, [ZERO]: null });
}

function fileSystems(raw: Record<string, unknown>) {
  const m = new Map<string, unknown>();
  for (const [id, f] of Object.entries(raw)) {
    const o = (f ?? {}) as Record<string, unknown>;
    m.set(
      id,
      structOf("*node.FileSystem", {
        Format: String(o.format ?? ""),
        Path: String(o.path ?? ""),
        Label: String(o.label ?? ""),
        Uuid: String(o.uuid ?? ""),
        Options: Object.assign(((o.options ?? []) as unknown[]).map(String), { [READONLY]: true }),
        MountOptions: String(o.mount_options ?? ""),
        Id: () => id,
        WipeFileSystem: () => bp(o.wipe_filesystem),
      }),
    );
  }
  return Object.assign(m, { [READONLY]: true, [ZERO]: null });
}

const sortedValues = (m: Map<string, unknown>) =>
  Object.assign(
    [...m.keys()].sort().map((k) => m.get(k)),
    { [READONLY]: true },
  );

/**
 * node.Node's fields and methods, for a node given as drover's view (and its raw document when known).
 * `copied`: the node as Warewulf copies it into the top of its TemplateStruct (through gob, which drops
 * unexported fields): a network device's `.Primary` is then false; `.ThisNode` and `$.AllNodes` keep it.
 */
function nodeStruct(v: NodeView, conf: Conf | undefined, copied = false) {
  const d = disks(v.disks);
  const fs = fileSystems(v.filesystems);
  const i = v.ipmi;
  return structOf("node.Node", {
    Discoverable: wwBool(conf?.discoverable),
    AssetKey: conf?.assetKey ?? "",
    Profiles: Object.assign([...v.profiles], { [READONLY]: true }),
    Comment: v.comment ?? "",
    ClusterName: v.cluster ?? "",
    ImageName: v.image ?? "",
    Ipxe: v.ipxe,
    RuntimeOverlay: Object.assign([...(conf?.runtimeOverlay ?? [])], { [READONLY]: true }),
    SystemOverlay: Object.assign([...(conf?.systemOverlay ?? [])], { [READONLY]: true }),
    Kernel: structOf("*node.KernelConf", { Version: v.kernel.version ?? "", Args: Object.assign([...v.kernel.args], { [READONLY]: true }) }),
    Ipmi: structOf("*node.IpmiConf", {
      UserName: i.username ?? "",
      Password: i.password ?? "",
      Ipaddr: netIP(i.ipaddr),
      Gateway: netIP(i.gateway),
      Netmask: netIP(i.netmask),
      Port: i.port === undefined ? "" : String(i.port),
      Interface: i.interface ?? "",
      EscapeChar: i.escapechar ?? "",
      Write: wwBool(conf?.ipmi ? conf.ipmi.write : i.write),
      Template: "",
      Tags: strMap(i.tags),
    }),
    Init: v.init,
    Root: v.root,
    NetDevs: netDevs(v.netdevs, conf?.networkDevices, copied),
    Tags: strMap(v.tags),
    PrimaryNetDev: v.primaryNetwork ?? "",
    Disks: d,
    FileSystems: fs,
    Resources: yamlValue(v.resources),
    DiskList: () => sortedValues(d),
    FileSystemList: () => sortedValues(fs),
    ContainerName: () => v.image ?? "",
  });
}

/** A peer in `$.AllNodes`: a node.Node with what drover gives templates of other nodes (no secrets). */
function peerStruct(p: PeerView) {
  const empty: NodeView = {
    name: p.name,
    id: p.name,
    comment: undefined,
    cluster: p.cluster,
    image: undefined,
    ipxe: "",
    init: "",
    root: "",
    kernel: { version: undefined, args: [] },
    ipmi: {
      username: undefined,
      password: undefined,
      ipaddr: undefined,
      gateway: undefined,
      netmask: undefined,
      port: undefined,
      interface: undefined,
      escapechar: undefined,
      write: false,
      type: "",
      tags: {},
    },
    netdevs: p.netdevs,
    netdevList: p.netdevList,
    primaryNetwork: p.primary?.name,
    primary: p.primary,
    tags: p.tags,
    resources: {},
    fstab: [],
    disks: {},
    filesystems: {},
    profiles: [],
  };
  const n = nodeStruct(empty, undefined);
  return Object.assign(n, { Id: () => p.name });
}

function ipv6Network(ip: string, prefix: string): string {
  const bits = Number(prefix);
  if (!ip || !Number.isInteger(bits)) return "";
  const parts = ip.split("::");
  const head = parts[0] ? parts[0].split(":") : [];
  const tail = parts.length > 1 && parts[1] ? parts[1].split(":") : [];
  const groups = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail].map((g) => Number.parseInt(g || "0", 16));
  const out = groups.map((g, k) => {
    const keep = Math.max(0, Math.min(16, bits - k * 16));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  // Compressed form (the longest zero run), as Go prints it.
  let best = -1;
  let len = 0;
  for (let s = 0; s < 8; s++) {
    let e = s;
    while (e < 8 && out[e] === 0) e++;
    if (e - s > len && e - s > 1) {
      best = s;
      len = e - s;
    }
  }
  const hex = out.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + len).join(":")}`;
}

export interface WarewulfBuild {
  host: string;
  /** The build time (Warewulf prints it as `01-02-2006 15:04:05 MST`). */
  time: Date;
  overlay: string;
  /** The template's path, as Warewulf's `.BuildSource`. */
  source: string;
}

/** Warewulf's TemplateStruct for a node. */
export function templateStruct(node: NodeView, conf: Conf | undefined, peers: readonly PeerView[], s: WarewulfSettings, build: WarewulfBuild) {
  const n = nodeStruct(node, conf, true);
  const p2 = (x: number) => String(x).padStart(2, "0");
  const t = build.time;
  const ipCIDR = cidr(s.ipaddr, s.netmask);
  const net6 = ipv6Network(s.ipaddr6, s.prefixLen6);
  const allNodes = Object.assign([...peers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(peerStruct), { [READONLY]: true });
  const exports = Object.assign(
    s.nfs.exports.map((e) => structOf("*config.NFSExportConf", { Path: e.path, ExportOptions: e.exportOptions })),
    { [READONLY]: true },
  );
  const thisNode = Object.assign(nodeStruct(node, conf), { Id: () => node.name });
  const top: Record<string, unknown> = {
    Id: node.name,
    Hostname: node.name,
    BuildHost: build.host,
    BuildTime: `${p2(t.getUTCMonth() + 1)}-${p2(t.getUTCDate())}-${t.getUTCFullYear()} ${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())} UTC`,
    BuildTimeUnix: String(Math.floor(t.getTime() / 1000)),
    BuildSource: build.source,
    Ipaddr: s.ipaddr,
    IpCIDR: ipCIDR,
    Netmask: s.netmask,
    Network: s.network,
    NetworkCIDR: cidr(s.network, s.netmask),
    Overlay: build.overlay,
    Ipaddr6: s.ipaddr6,
    PrefixLen6: s.prefixLen6,
    IpCIDR6: s.ipaddr6 && s.prefixLen6 ? `${s.ipaddr6}/${s.prefixLen6}` : "",
    Network6: net6,
    NetworkCIDR6: net6 ? `${net6}/${s.prefixLen6}` : "",
    Ipv6: s.ipaddr6 !== "" && s.prefixLen6 !== "",
    Dhcp: structOf("config.DHCPConf", {
      EnabledP: s.dhcp.enabled,
      Template: s.dhcp.template,
      RangeStart: s.dhcp.rangeStart,
      RangeEnd: s.dhcp.rangeEnd,
      Range6Start: s.dhcp.range6Start,
      Range6End: s.dhcp.range6End,
      SystemdName: s.dhcp.systemdName,
      Enabled: () => s.dhcp.enabled,
    }),
    Nfs: structOf("config.NFSConf", { EnabledP: s.nfs.enabled, ExportsExtended: exports, SystemdName: s.nfs.systemdName, Enabled: () => s.nfs.enabled }),
    Ssh: structOf("config.SSHConf", { KeyTypes: Object.assign([...s.ssh.keyTypes], { [READONLY]: true }) }),
    Warewulf: structOf("config.WarewulfConf", {
      Port: s.warewulf.port,
      TLSPort: s.warewulf.tlsPort,
      SecureP: s.warewulf.secure,
      UpdateInterval: s.warewulf.updateInterval,
      AutobuildOverlaysP: s.warewulf.autobuildOverlays,
      EnableHostOverlayP: s.warewulf.hostOverlay,
      GrubBootP: s.warewulf.grubBoot,
      SystemdName: s.warewulf.systemdName,
      Secure: () => s.warewulf.secure,
      TLSEnabled: () => s.warewulf.tls,
      AutobuildOverlays: () => s.warewulf.autobuildOverlays,
      EnableHostOverlay: () => s.warewulf.hostOverlay,
      GrubBoot: () => s.warewulf.grubBoot,
    }),
    Tftp: structOf("config.TFTPConf", {
      EnabledP: s.tftp.enabled,
      TftpRoot: s.tftp.tftpRoot,
      SystemdName: s.tftp.systemdName,
      IpxeBinaries: strMap(s.tftp.ipxe),
      Enabled: () => s.tftp.enabled,
    }),
    Paths: structOf("config.BuildConfig", { ...s.paths }),
    AllNodes: allNodes,
    Container: node.image ?? "",
    ContainerName: node.image ?? "",
    ThisNode: thisNode,
  };
  // node.Node is embedded: its fields are the struct's own (Id stays the field above).
  for (const [k, v] of Object.entries(n)) if (!(k in top) && typeof v !== "function") top[k] = v;
  return structOf("overlay.TemplateStruct", top);
}

// ---- functions ----

/** Go's path.Base. */
const basename = (p: string) => {
  if (p === "") return ".";
  const t = p.replace(/\/+$/, "");
  if (t === "") return "/";
  return t.slice(t.lastIndexOf("/") + 1);
};

/** systemd's unit name escaping (systemd-escape; `--path` normalises first). */
export function systemdEscape(s: string, path = false): string {
  let x = s;
  if (path) {
    x = posix.normalize(x).replace(/^\/+|\/+$/g, "");
    if (x === "" || x === ".") return "-";
  }
  let out = "";
  const bytes = new TextEncoder().encode(x);
  for (let i = 0; i < bytes.length; i++) {
    const c = String.fromCharCode(bytes[i]!);
    if (c === "/") out += "-";
    else if ((i === 0 && c === ".") || !/[A-Za-z0-9:_.]/.test(c)) out += `\\x${bytes[i]!.toString(16).padStart(2, "0")}`;
    else out += c;
  }
  return out;
}

export function uniqueField(sep: string, index: number, input: string): string {
  const found = new Set<string>();
  const out: string[] = [];
  for (const line of input.split("\n")) {
    const f = line.split(sep);
    if (f.length > index) {
      const field = f[index]!;
      if (field !== "") {
        if (found.has(field)) continue;
        found.add(field);
      }
    }
    out.push(line);
  }
  return out.join("\n");
}

class Aborted extends Halt {}

interface Slot {
  name: string;
  link?: string;
  text: string;
}

/** Absolute Warewulf include path: relative ones are under Sysconfdir/warewulf. */
const wwPath = (p: string, s: WarewulfSettings) => (p.startsWith("/") ? p : posix.join(s.paths.Sysconfdir ?? "/etc", "warewulf", p));

function functions(
  host: WarewulfHost,
  data: { ImageName?: unknown },
  s: WarewulfSettings,
  slots: Slot[],
  cur: { slot: Slot; backup: boolean },
  buildTime: Date,
): FuncMap {
  const f = (fn: FuncDef["fn"], params: FuncDef["params"] = [], variadic?: FuncDef["variadic"]): FuncDef => ({ fn, params, ...(variadic ? { variadic } : {}) });
  const include = (p: string): string => {
    const abs = wwPath(p, s);
    const key = /^\/etc\/warewulf\/keys\/ssh_host_(\w+)_key(\.pub)?$/.exec(abs);
    if (key && host.hostKey) return host.hostKey(key[1]!, key[2] ? "public" : "private").replace(/\n$/, "");
    const text = host.include(abs);
    if (text === undefined) {
      host.note(`Include ${JSON.stringify(p)}: the head node has no ${abs} (rendered empty, as Warewulf does)`);
      return "";
    }
    return text.replace(/\n$/, "");
  };
  const softlink = (target: string) => {
    const last = slots[slots.length - 1]!;
    last.link = target;
    return "";
  };
  const m: [string, FuncDef][] = [
    ["Include", f(include, ["string"])],
    [
      "IncludeFrom",
      f(
        (image: string, p: string) => {
          if (!image) {
            host.note(`IncludeFrom ${JSON.stringify(p)}: the node has no image (rendered empty, as Warewulf does)`);
            return "";
          }
          const text = host.includeFrom(image, p);
          if (text === undefined) {
            host.note(`IncludeFrom ${image} ${JSON.stringify(p)}: no such image or file (rendered empty, as Warewulf does)`);
            return "";
          }
          return text.replace(/\n$/, "");
        },
        ["string", "string"],
      ),
    ],
    [
      "IncludeBlock",
      f(
        (p: string, abortStr: string) => {
          const text = host.include(wwPath(p, s));
          if (text === undefined) return abortStr;
          let out = "";
          const lines = text.split("\n");
          if (lines.at(-1) === "") lines.pop();
          for (const line of lines) {
            if (line.includes(abortStr)) break;
            out += `${line}\n`;
          }
          return out + abortStr;
        },
        ["string", "string"],
      ),
    ],
    [
      "ImportLink",
      f(
        (lnk: string) => {
          const target = host.readlink(lnk);
          if (target === undefined) throw new GoError(`ImportLink: failed to resolve symlink ${JSON.stringify(lnk)}: no such file or directory`);
          return softlink(target);
        },
        ["string"],
      ),
    ],
    [
      "readlink",
      f(
        (p: string) => {
          const target = host.readlink(p);
          if (target === undefined) throw new GoError(`lstat ${p}: no such file or directory`);
          return target;
        },
        ["string"],
      ),
    ],
    ["basename", f(basename, ["string"])],
    ["inc", f((i: number) => i + 1, ["int"])],
    ["dec", f((i: number) => i - 1, ["int"])],
    [
      "file",
      f(
        (name: string) => {
          const slot: Slot = { name, text: "" };
          slots.push(slot);
          cur.slot = slot;
          return "";
        },
        ["string"],
      ),
    ],
    ["softlink", f(softlink, ["string"])],
    [
      "abort",
      f(() => {
        throw new Aborted("abort");
      }),
    ],
    [
      "nobackup",
      f(() => {
        cur.backup = false;
        return "";
      }),
    ],
    ["UniqueField", f(uniqueField, ["string", "int", "string"])],
    ["SystemdEscape", f((x: string) => systemdEscape(x), ["string"])],
    ["SystemdEscapePath", f((x: string) => systemdEscape(x, true), ["string"])],
    [
      "IgnitionJson",
      f(() => {
        // Warewulf builds an Ignition storage config from the node's disks and filesystems.
        void data;
        return "";
      }),
    ],
    // Warewulf's helpers on top of Sprig; a few older templates use them.
    ["tr", f((x: string, from: string, to: string) => x.split(from).join(to), ["string", "string", "string"])],
  ];
  return new Map([...standardFuncs(buildTime), ...m]);
}

/** Every function name a `.ww` template may call (for parsing without a node). */
const FUNC_NAMES = new Set([
  ...standardFuncs().keys(),
  "Include",
  "IncludeFrom",
  "IncludeBlock",
  "ImportLink",
  "readlink",
  "basename",
  "inc",
  "dec",
  "file",
  "softlink",
  "abort",
  "nobackup",
  "UniqueField",
  "SystemdEscape",
  "SystemdEscapePath",
  "IgnitionJson",
  "tr",
]);

const parsed = new Map<string, Template>();

function compile(src: Pick<TemplateSource, "path" | "text">): Template {
  const key = `${src.path}\0${src.text}`;
  let t = parsed.get(key);
  if (!t) {
    t = new Template(basename(src.path), src.text, FUNC_NAMES);
    if (parsed.size > 2000) parsed.clear();
    parsed.set(key, t);
  }
  return t;
}

/** A `.ww` template's syntax problem, or undefined (lint, `overlay import`). */
export function wwSyntaxError(path: string, text: string): string | undefined {
  try {
    compile({ path, text });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface WwRenderInput {
  src: TemplateSource;
  node: NodeView;
  conf?: Conf;
  peers: readonly PeerView[];
  settings: WarewulfSettings;
  build: WarewulfBuild;
  host: WarewulfHost;
  /** Date.now() after which the render stops. */
  deadline?: number;
  /** Errors of the host's functions to pass on unwrapped (a build thread deferring a job). */
  rethrow?: (e: unknown) => boolean;
}

export interface WwRendered {
  files: RenderedFile[];
  /** `node`, and `allNodes` when the template read `$.AllNodes` (the build's freshness keys). */
  touched: Set<string>;
  /** False when the template called `nobackup` (Warewulf then keeps no `.wwbackup` of the file; drover keeps none anyway). */
  backupFile: boolean;
  /** `abort` was called: the text rendered before it (of the first file), which Warewulf's `overlay show` prints. */
  aborted?: string;
  /** For each of `files`, the name given to `file` ("" for the template's own file), as `overlay show` prints it. */
  names: string[];
}

/** A `.ww` template failed: Go's message (template name and line), for template.ts to wrap. */
export class WwError extends Error {
  constructor(
    message: string,
    readonly line: number | undefined,
    /** The budget that stopped the run (steps, time, output, depth), when one did. */
    readonly budget?: Budget,
  ) {
    super(message);
  }
}

/**
 * Renders a `.ww` template for a node into files, as Warewulf writes them: the template's path without
 * `.ww`; `file NAME` starts another file (relative to the template's directory, or absolute) and then the
 * text before the first `file` is dropped unless `softlink` made it a link; `abort` writes nothing.
 */
export function renderWarewulf(input: WwRenderInput): WwRendered {
  const { src } = input;
  const target = src.path.slice(0, -WW_SUFFIX.length);
  const slots: Slot[] = [{ name: "", text: "" }];
  const cur = { slot: slots[0]!, backup: true };
  let t: Template;
  try {
    t = compile(src);
  } catch (e) {
    throw new WwError((e as Error).message, e instanceof GoTemplateError ? e.line : undefined);
  }
  const data = templateStruct(input.node, input.conf, input.peers, input.settings, input.build);
  const touched = new Set(["node"]);
  const all = data.AllNodes;
  Object.defineProperty(data, "AllNodes", {
    enumerable: true,
    get: () => {
      touched.add("allNodes");
      return all;
    },
  });
  const funcs = functions(input.host, data as { ImageName?: unknown }, input.settings, slots, cur, input.build.time);
  try {
    t.execute(data, funcs, {
      maxOutput: MAX_OUTPUT,
      ...(input.deadline !== undefined ? { deadline: input.deadline } : {}),
      write: (x) => void (cur.slot.text += x),
      ...(input.rethrow ? { rethrow: input.rethrow } : {}),
      onNoValue: (_name, line, expr) => input.host.note(`line ${line}: {{${expr}}} printed "<no value>" (a missing key; Warewulf prints the same)`),
    });
  } catch (e) {
    if (e instanceof Aborted) return { files: [], touched, aborted: slots[0]!.text, names: [], backupFile: cur.backup };
    if (e instanceof GoTemplateError) throw new WwError(e.message, e.line || undefined, e.budget);
    throw e;
  }
  const dir = posix.dirname(target);
  const files: RenderedFile[] = [];
  const names: string[] = [];
  for (const slot of slots) {
    let path: string;
    if (slot.name === "") {
      if (slots.length > 1 && slot.link === undefined) continue;
      path = target;
    } else path = slot.name.startsWith("/") ? posix.normalize(slot.name).slice(1) : posix.normalize(posix.join(dir === "." ? "" : dir, slot.name));
    if (path.startsWith("..") || path === "" || path === ".") throw new WwError(`file() path ${JSON.stringify(slot.name)} escapes the overlay`, undefined);
    if (slot.link !== undefined) files.push({ type: "symlink", path, target: slot.link, uid: src.uid, gid: src.gid });
    else files.push({ type: "file", path, mode: src.mode, uid: src.uid, gid: src.gid, data: slot.text });
    names.push(slot.name);
  }
  return { files, touched, names, backupFile: cur.backup };
}
