/**
 * The node/profile configuration document, shaped like Warewulf's nodes.conf so that a Warewulf site can
 * move in and out again. A node and a profile share one type; `discoverable` and `assetKey` are node-only.
 *
 * `SCHEMA` describes every field once: its name in nodes.conf, its display name in `node list -a`, and how it
 * cascades (scalar: last writer wins; list: concatenate, `~item` removes; map: merge by key; struct: per field).
 * The cascade, nodes.conf import/export, provenance and the CLI's unset all walk this one table.
 */
export interface NetDev {
  type?: string;
  onboot?: boolean;
  device?: string;
  hwaddr?: string;
  ipaddr?: string;
  netmask?: string;
  gateway?: string;
  ipaddr6?: string;
  prefixlen6?: string;
  gateway6?: string;
  mtu?: number;
  tags?: Record<string, string>;
}

export type BmcType = "ipmi" | "redfish" | "none";

export interface Ipmi {
  username?: string;
  password?: string;
  ipaddr?: string;
  gateway?: string;
  netmask?: string;
  port?: number;
  interface?: string;
  escapechar?: string;
  write?: boolean;
  template?: string;
  /** Which BMC protocol drives power and console: ipmitool, Redfish over HTTPS, or none. */
  type?: BmcType;
  /** Accept the BMC's self-signed TLS certificate (Redfish). Off unless a node or profile says so. */
  insecure?: boolean;
  tags?: Record<string, string>;
}

export interface Conf {
  profiles?: string[];
  comment?: string;
  cluster?: string;
  image?: string;
  ipxe?: string;
  runtimeOverlay?: string[];
  systemOverlay?: string[];
  kernel?: { version?: string; args?: string[] };
  ipmi?: Ipmi;
  init?: string;
  root?: string;
  networkDevices?: Record<string, NetDev>;
  primaryNetwork?: string;
  tags?: Record<string, string>;
  resources?: Record<string, unknown>;
  disks?: Record<string, unknown>;
  filesystems?: Record<string, unknown>;
  /** Node only: the next unknown MAC that asks to boot is bound to this node. */
  discoverable?: boolean;
  /** Node only: must match the SMBIOS asset tag iPXE sends as `?assetkey=`. */
  assetKey?: string;
}

export type ScalarType = "string" | "bool" | "int";

export type Schema =
  | { t: "scalar"; type: ScalarType; secret?: boolean }
  | { t: "list" }
  /** Free-form YAML value, replaced whole (resources entries, disks, filesystems). */
  | { t: "opaque" }
  | { t: "map"; of: Schema }
  | { t: "struct"; fields: Record<string, FieldDef> };

export interface FieldDef {
  /** Key in nodes.conf (Warewulf's spelling). */
  yaml: string;
  /** Older nodes.conf spellings accepted on import. */
  yamlAliases?: string[];
  /** Name in `node list -a`. */
  display: string;
  schema: Schema;
  /** Not inherited from profiles. */
  local?: boolean;
  /** Only nodes have it. */
  nodeOnly?: boolean;
}

const str: Schema = { t: "scalar", type: "string" };
const bool: Schema = { t: "scalar", type: "bool" };
const int: Schema = { t: "scalar", type: "int" };
const list: Schema = { t: "list" };
const tags: Schema = { t: "map", of: str };

export const NETDEV_SCHEMA: Schema = {
  t: "struct",
  fields: {
    type: { yaml: "type", display: "Type", schema: str },
    onboot: { yaml: "onboot", display: "OnBoot", schema: bool },
    device: { yaml: "device", display: "Device", schema: str },
    hwaddr: { yaml: "hwaddr", display: "Hwaddr", schema: str },
    ipaddr: { yaml: "ipaddr", display: "Ipaddr", schema: str },
    netmask: { yaml: "netmask", display: "Netmask", schema: str },
    gateway: { yaml: "gateway", display: "Gateway", schema: str },
    ipaddr6: { yaml: "ipaddr6", display: "Ipaddr6", schema: str },
    prefixlen6: { yaml: "prefixlen6", display: "Prefixlen6", schema: str },
    gateway6: { yaml: "gateway6", display: "Gateway6", schema: str },
    mtu: { yaml: "mtu", display: "MTU", schema: int },
    tags: { yaml: "tags", display: "Tags", schema: tags },
  },
};

export const IPMI_SCHEMA: Schema = {
  t: "struct",
  fields: {
    username: { yaml: "username", display: "UserName", schema: str },
    password: { yaml: "password", display: "Password", schema: { t: "scalar", type: "string", secret: true } },
    ipaddr: { yaml: "ipaddr", display: "Ipaddr", schema: str },
    gateway: { yaml: "gateway", display: "Gateway", schema: str },
    netmask: { yaml: "netmask", display: "Netmask", schema: str },
    port: { yaml: "port", display: "Port", schema: int },
    interface: { yaml: "interface", display: "Interface", schema: str },
    escapechar: { yaml: "escapechar", display: "EscapeChar", schema: str },
    write: { yaml: "write", display: "Write", schema: bool },
    template: { yaml: "template", display: "Template", schema: str },
    type: { yaml: "type", display: "Type", schema: str },
    insecure: { yaml: "insecure", display: "Insecure", schema: bool },
    tags: { yaml: "tags", display: "Tags", schema: tags },
  },
};

export const CONF_SCHEMA: { t: "struct"; fields: Record<keyof Conf, FieldDef> } = {
  t: "struct",
  fields: {
    profiles: { yaml: "profiles", display: "Profiles", schema: list, local: true },
    comment: { yaml: "comment", display: "Comment", schema: str, local: true },
    cluster: { yaml: "cluster name", display: "ClusterName", schema: str },
    image: { yaml: "image name", yamlAliases: ["container name"], display: "ImageName", schema: str },
    ipxe: { yaml: "ipxe template", display: "Ipxe", schema: str },
    runtimeOverlay: { yaml: "runtime overlay", display: "RuntimeOverlay", schema: list },
    systemOverlay: { yaml: "system overlay", display: "SystemOverlay", schema: list },
    kernel: {
      yaml: "kernel",
      display: "Kernel",
      schema: {
        t: "struct",
        fields: {
          version: { yaml: "version", yamlAliases: ["override"], display: "Version", schema: str },
          args: { yaml: "args", display: "Args", schema: list },
        },
      },
    },
    ipmi: { yaml: "ipmi", display: "Ipmi", schema: IPMI_SCHEMA },
    init: { yaml: "init", display: "Init", schema: str },
    root: { yaml: "root", display: "Root", schema: str },
    networkDevices: { yaml: "network devices", display: "NetDevs", schema: { t: "map", of: NETDEV_SCHEMA } },
    primaryNetwork: { yaml: "primary network", display: "PrimaryNetwork", schema: str },
    tags: { yaml: "tags", display: "Tags", schema: tags },
    resources: { yaml: "resources", display: "Resources", schema: { t: "map", of: { t: "opaque" } } },
    disks: { yaml: "disks", display: "Disks", schema: { t: "map", of: { t: "opaque" } } },
    filesystems: { yaml: "filesystems", display: "FileSystems", schema: { t: "map", of: { t: "opaque" } } },
    discoverable: { yaml: "discoverable", display: "Discoverable", schema: bool, nodeOnly: true, local: true },
    assetKey: {
      yaml: "asset key",
      display: "AssetKey",
      schema: { t: "scalar", type: "string", secret: true },
      nodeOnly: true,
      local: true,
    },
  },
};

/** Defaults a node gets when neither it nor any profile sets the field (Warewulf's defaults). */
export const NODE_DEFAULTS = {
  init: "/sbin/init",
  root: "initramfs",
  ipxe: "default",
  netdevType: "ethernet",
  kernelArgs: ["quiet", "crashkernel=no"],
  bmcType: "ipmi" as BmcType,
} as const;

export const SECRET_MASK = "********";

/** Returns a copy with secrets (IPMI password, asset key) replaced by a mask, or removed. */
export function maskSecrets<T extends Conf>(conf: T, mode: "mask" | "remove" = "mask"): T {
  const c = structuredClone(conf);
  const hide = <O extends object>(o: O | undefined, k: keyof O) => {
    if (o && o[k] !== undefined) {
      if (mode === "mask") (o as Record<string, unknown>)[k as string] = SECRET_MASK;
      else delete o[k];
    }
  };
  hide(c.ipmi, "password");
  hide(c, "assetKey");
  if (c.ipmi && Object.keys(c.ipmi).length === 0) delete c.ipmi;
  return c;
}

/** Removes empty strings, empty lists/maps and undefined values, recursively, so stored documents stay small. */
export function pruneConf<T>(v: T): T {
  if (Array.isArray(v)) return v.filter((x) => x !== undefined) as T;
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const p = pruneConf(x);
      if (p === undefined || p === "" || p === null) continue;
      if (Array.isArray(p) ? p.length === 0 : typeof p === "object" && Object.keys(p).length === 0) continue;
      out[k] = p;
    }
    return out as T;
  }
  return v;
}
