import { type Conf, NODE_DEFAULTS, SECRET_MASK } from "../domain/conf";
import { netmaskToPrefix, networkOf, parseIPv4 } from "../domain/net";

/**
 * The data a template sees (`it.…`), built from a node after the cascade. Every field of the node document
 * is present on its view, set or `undefined`, so `if (dev.gateway)` works and a misspelt `dev.gatway`
 * fails (see template.ts). Derived values save templates from re-implementing address arithmetic.
 */

/** The head node as nodes see it; passed in by the composition root (drover serve's settings). */
export interface ServerSettings {
  /** The head node's address on the provisioning network. */
  address: string;
  /** The head node's host name (hosts overlay); the composition root fills in os.hostname(). */
  hostname?: string;
  netmask: string;
  /** Network address; derived from address and netmask when omitted. */
  network?: string;
  /** drover's HTTP port. */
  port: number;
  /** DNS servers for nodes without their own (resolv overlay). */
  dns?: string[];
  /** DNS search domain. */
  domain?: string;
  /** How often the node agent polls its runtime overlay, in seconds. */
  pollSeconds?: number;
}

export interface ServerView {
  address: string;
  hostname: string;
  netmask: string;
  prefix: number;
  network: string;
  port: number;
  url: string;
  dns: string[];
  domain: string | undefined;
  pollSeconds: number;
}

export function serverView(s: ServerSettings): ServerView {
  return {
    address: s.address,
    hostname: s.hostname ?? "localhost",
    netmask: s.netmask,
    prefix: netmaskToPrefix(s.netmask),
    network: s.network ?? networkOf(s.address, s.netmask),
    port: s.port,
    url: `http://${s.address}:${s.port}`,
    dns: [...(s.dns ?? [])],
    domain: s.domain,
    pollSeconds: s.pollSeconds ?? 60,
  };
}

export interface NetDevView {
  name: string;
  type: string;
  onboot: boolean;
  device: string | undefined;
  hwaddr: string | undefined;
  ipaddr: string | undefined;
  netmask: string | undefined;
  /** Prefix length from the netmask; undefined without a netmask. */
  prefix: number | undefined;
  network: string | undefined;
  gateway: string | undefined;
  ipaddr6: string | undefined;
  prefixlen6: string | undefined;
  gateway6: string | undefined;
  mtu: number | undefined;
  tags: Record<string, string>;
  /** The node's primary network device. */
  primary: boolean;
  /** No static IPv4 address: configure by DHCP. */
  dhcp: boolean;
}

export interface FstabEntry {
  spec: string;
  file: string;
  vfstype: string;
  mntops: string;
  freq: number;
  passno: number;
}

export interface NodeView {
  name: string;
  id: string;
  comment: string | undefined;
  cluster: string | undefined;
  image: string | undefined;
  ipxe: string;
  init: string;
  /** initramfs (run in place), tmpfs or ramfs (copy, then switch_root). */
  root: string;
  kernel: { version: string | undefined; args: string[] };
  ipmi: {
    username: string | undefined;
    password: string | undefined;
    ipaddr: string | undefined;
    gateway: string | undefined;
    netmask: string | undefined;
    port: number | undefined;
    interface: string | undefined;
    escapechar: string | undefined;
    write: boolean;
    type: string;
    tags: Record<string, string>;
  };
  netdevs: Record<string, NetDevView>;
  /** The same devices as a list, primary first, then by name. */
  netdevList: NetDevView[];
  primaryNetwork: string | undefined;
  primary: NetDevView | undefined;
  tags: Record<string, string>;
  resources: Record<string, unknown>;
  /** The `fstab` resource, normalised (defaults filled in). */
  fstab: FstabEntry[];
  disks: Record<string, unknown>;
  filesystems: Record<string, unknown>;
  profiles: string[];
}

/** The view of a network device. `primary` names the node's primary device. */
function netdevView(name: string, d: NonNullable<Conf["networkDevices"]>[string], primary: string | undefined): NetDevView {
  let ipaddr = d.ipaddr;
  let netmask = d.netmask;
  // Tolerate an address written with a prefix (as `--ipaddr 10.0.0.1/24` accepts).
  if (ipaddr?.includes("/")) {
    const [ip, p] = ipaddr.split("/");
    ipaddr = ip;
    const bits = Number(p);
    if (!netmask && Number.isInteger(bits) && bits >= 0 && bits <= 32) netmask = prefixMask(bits);
  }
  const prefix = netmask && parseIPv4(netmask) !== undefined ? safePrefix(netmask) : undefined;
  return {
    name,
    type: d.type ?? NODE_DEFAULTS.netdevType,
    onboot: d.onboot ?? true,
    device: d.device,
    hwaddr: d.hwaddr,
    ipaddr,
    netmask,
    prefix,
    network: ipaddr && netmask && prefix !== undefined ? networkOf(ipaddr, netmask) : undefined,
    gateway: d.gateway,
    ipaddr6: d.ipaddr6,
    prefixlen6: d.prefixlen6,
    gateway6: d.gateway6,
    mtu: d.mtu,
    tags: { ...(d.tags ?? {}) },
    primary: name === primary,
    dhcp: !ipaddr,
  };
}

function prefixMask(bits: number): string {
  const v = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

function safePrefix(mask: string): number | undefined {
  try {
    return netmaskToPrefix(mask);
  } catch {
    return undefined;
  }
}

/** The node's primary device name: `primary network`, else `default`, else the only/first device. */
export function primaryName(conf: Conf): string | undefined {
  const names = Object.keys(conf.networkDevices ?? {}).sort();
  if (conf.primaryNetwork && names.includes(conf.primaryNetwork)) return conf.primaryNetwork;
  if (names.includes("default")) return "default";
  return names[0];
}

/** Normalises the `fstab` resource: a list of {spec, file, vfstype, mntops, freq, passno}. */
export function fstabOf(resources: Record<string, unknown> | undefined): FstabEntry[] {
  const raw = resources?.fstab;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new Error("the fstab resource must be a list of {spec, file, vfstype, mntops, freq, passno}");
  return raw.map((e, i) => {
    const o = (e ?? {}) as Record<string, unknown>;
    if (typeof o.spec !== "string" || typeof o.file !== "string")
      throw new Error(`fstab entry ${i + 1} needs 'spec' (what to mount) and 'file' (where), e.g. {spec: "10.0.0.1:/home", file: /home, vfstype: nfs}`);
    return {
      spec: o.spec,
      file: o.file,
      vfstype: typeof o.vfstype === "string" ? o.vfstype : "auto",
      mntops: typeof o.mntops === "string" ? o.mntops : "defaults",
      freq: Number(o.freq ?? 0) || 0,
      passno: Number(o.passno ?? 0) || 0,
    };
  });
}

/** A deep copy of JSON-shaped data (what the store holds): structuredClone's result, several times faster. */
function plainCopy<T>(v: T): T {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(plainCopy) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = plainCopy((v as Record<string, unknown>)[k]);
  return out as T;
}

export function nodeView(name: string, conf: Conf, profiles: readonly string[] = []): NodeView {
  const primary = primaryName(conf);
  const netdevs: Record<string, NetDevView> = {};
  for (const [n, d] of Object.entries(conf.networkDevices ?? {}).sort(([a], [b]) => a.localeCompare(b))) netdevs[n] = netdevView(n, d, primary);
  const list = Object.values(netdevs).sort((a, b) => Number(b.primary) - Number(a.primary) || a.name.localeCompare(b.name));
  const i = conf.ipmi ?? {};
  return {
    name,
    id: name,
    comment: conf.comment,
    cluster: conf.cluster,
    image: conf.image,
    ipxe: conf.ipxe ?? NODE_DEFAULTS.ipxe,
    init: conf.init ?? NODE_DEFAULTS.init,
    root: conf.root ?? "tmpfs",
    kernel: { version: conf.kernel?.version, args: [...(conf.kernel?.args ?? [])] },
    ipmi: {
      username: i.username,
      password: i.password,
      ipaddr: i.ipaddr,
      gateway: i.gateway,
      netmask: i.netmask,
      port: i.port,
      interface: i.interface,
      escapechar: i.escapechar,
      write: i.write ?? false,
      type: i.type ?? NODE_DEFAULTS.bmcType,
      tags: { ...(i.tags ?? {}) },
    },
    netdevs,
    netdevList: list,
    primaryNetwork: primary,
    primary: primary ? netdevs[primary] : undefined,
    tags: { ...(conf.tags ?? {}) },
    resources: plainCopy(conf.resources ?? {}),
    fstab: fstabOf(conf.resources),
    disks: plainCopy(conf.disks ?? {}),
    filesystems: plainCopy(conf.filesystems ?? {}),
    profiles: [...profiles],
  };
}

/** What `it.allNodes` holds per node: enough for hosts files and peer lists, no secrets. */
export interface PeerView {
  name: string;
  cluster: string | undefined;
  netdevs: Record<string, NetDevView>;
  netdevList: NetDevView[];
  primary: NetDevView | undefined;
  tags: Record<string, string>;
}

export function peerView(name: string, conf: Conf): PeerView {
  const v = nodeView(name, { networkDevices: conf.networkDevices, primaryNetwork: conf.primaryNetwork, cluster: conf.cluster, tags: conf.tags }, []);
  return { name, cluster: v.cluster, netdevs: v.netdevs, netdevList: v.netdevList, primary: v.primary, tags: v.tags };
}

/** A copy of template data for `it.dump()` and `overlay info`: secrets masked. */
export function maskedData(data: { node: NodeView } & Record<string, unknown>): Record<string, unknown> {
  const c = structuredClone(data) as { node: NodeView } & Record<string, unknown>;
  if (c.node.ipmi.password !== undefined) c.node.ipmi.password = SECRET_MASK;
  return c;
}
