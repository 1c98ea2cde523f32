import { networkInterfaces } from "node:os";
import { IPXE_SETS, type IpxeSetName } from "../../assets/ipxe/sets";
import { invalidField } from "../domain/errors";
import { expandHostlist } from "../domain/hostlist";
import { networkOf, parseIPv4, prefixToNetmask } from "../domain/net";

/**
 * `drover serve`'s configuration: resolved once from typed input (its flags, parsed once by fromFlags, with
 * the values saved on the Settings page merged in) and the host's interfaces; validated, frozen.
 * DHCP stays off unless an interface or a DHCP mode is given: drover never answers DHCP on a network
 * nobody told it to serve.
 */
export type DhcpModeName = "authoritative" | "proxy" | "off";
export type LeaseSync = "normal" | "full";

export interface ServeConfig {
  http: {
    port: number;
    listen: string;
    /** Image (and stage-1) downloads streaming at once; more wait or get 503 + Retry-After; 0 = no limit. */
    maxImageStreams: number;
  };
  tftp: { enabled: boolean; port: number; address: string };
  dhcp: {
    mode: DhcpModeName;
    port: number;
    pxePort: number;
    interfaces: {
      name: string;
      serverIp: string;
      network: string;
      netmask: string;
      router?: string;
      dns?: string[];
      pool?: { start: string; end: string };
    }[];
    relaySubnets: { network: string; netmask: string; router?: string; pool?: { start: string; end: string } }[];
    leaseSeconds: number;
    /** Answer IPv6 router solicitations (no prefix, no route) so iPXE does not wait ~13 s for IPv6. */
    routerAdvertisements: boolean;
    /**
     * normal: each group commit of leases survives drover being killed (SQLite WAL, synchronous=NORMAL);
     * full: it is also fsync'd before the ACKs go out, so it survives a power cut (docs/dhcp.md).
     */
    leaseSync: LeaseSync;
  };
  discovery: {
    enabled: boolean;
    register?: { pattern: string; range?: { start: string; end: string; netmask: string; gateway?: string }; profiles?: string[] };
  };
  ipxeDir?: string;
  /** Which embedded iPXE set is served when there is no ipxeDir (assets/ipxe/SOURCES.md). */
  ipxeBuild: IpxeSetName;
  ipxeTemplateDir?: string;
  runtime: {
    /** Serve runtime overlays only to privileged source ports from the node's own address. */
    secure: boolean;
    /** How often node agents poll their runtime overlay. */
    pollSeconds: number;
  };
}

/**
 * Image downloads streaming at once unless --max-image-streams says otherwise. Measured (bench/storm.ts, 1,000
 * nodes, 64 MiB images, a veth faster than 10 GbE): 128 booted them sooner than no limit in the same run,
 * 32 took twice as long as no limit (too few streams to fill that link); no limit left stragglers crawling
 * for minutes under bbr. A slower link wants fewer (docs/booting.md, "Boot storms").
 */
export const DEFAULT_MAX_IMAGE_STREAMS = 128;

/** `drover serve`'s options as commander gives them (its attribute names; numbers still text). */
export interface ServeFlags {
  port?: string;
  listen?: string;
  interface?: string[];
  dhcp?: string;
  serverIp?: string;
  dhcpPort?: string;
  pxePort?: string;
  pool?: string;
  router?: string;
  dns?: string[];
  relaySubnet?: string[];
  leaseTime?: string;
  ipv6Ra?: boolean;
  tftp?: boolean;
  tftpPort?: string;
  discovery?: boolean;
  registerPattern?: string;
  registerRange?: string;
  registerProfile?: string[];
  ipxeDir?: string;
  ipxeBuild?: string;
  pollInterval?: string;
  insecureRuntime?: boolean;
  maxImageStreams?: string;
  leaseSync?: string;
  apiSubnet?: string[];
  secureCookies?: boolean;
}

/**
 * What resolveServeConfig works from: typed values, each optional (unset: its default). The command line
 * becomes one once (fromFlags); the values saved on the Settings page are its live fields, merged in field
 * by field (config/settings.ts). The keys are the settings fields' names: an error about one carries it in
 * `field`.
 */
export interface ServeInput {
  // Live: the Settings page changes these while drover serve runs.
  dhcpMode?: DhcpModeName;
  interfaces?: string[];
  serverIp?: string;
  router?: string;
  dns?: string[];
  /** "START-END", as --pool. */
  pool?: string;
  /** "NET/PREFIX[,router=IP][,pool=A-B]" each, as --relay-subnet. */
  relaySubnets?: string[];
  leaseSeconds?: number;
  /** Unset: on in authoritative mode, off in proxy mode. */
  ipv6Ra?: boolean;
  discovery?: boolean;
  registerPattern?: string;
  registerRange?: string;
  registerProfiles?: string[];
  pollSeconds?: number;
  // Restart-only: set by flags when drover serve starts.
  httpPort?: number;
  listen?: string;
  tftp?: boolean;
  tftpPort?: number;
  dhcpPort?: number;
  pxePort?: number;
  ipxeDir?: string;
  ipxeBuild?: IpxeSetName;
  /** Read by the HTTP layer (startServer's options), shown on the settings page. */
  apiSubnets?: string[];
  secureCookies?: boolean;
  insecureRuntime?: boolean;
  maxImageStreams?: number;
  leaseSync?: LeaseSync;
}

/** Each input's flag, as commander names it (its ServeFlags attribute). */
const OPTION_OF: { readonly [K in keyof Required<ServeInput>]: keyof ServeFlags } = {
  dhcpMode: "dhcp",
  interfaces: "interface",
  serverIp: "serverIp",
  router: "router",
  dns: "dns",
  pool: "pool",
  relaySubnets: "relaySubnet",
  leaseSeconds: "leaseTime",
  ipv6Ra: "ipv6Ra",
  discovery: "discovery",
  registerPattern: "registerPattern",
  registerRange: "registerRange",
  registerProfiles: "registerProfile",
  pollSeconds: "pollInterval",
  httpPort: "port",
  listen: "listen",
  tftp: "tftp",
  tftpPort: "tftpPort",
  dhcpPort: "dhcpPort",
  pxePort: "pxePort",
  ipxeDir: "ipxeDir",
  ipxeBuild: "ipxeBuild",
  apiSubnets: "apiSubnet",
  secureCookies: "secureCookies",
  insecureRuntime: "insecureRuntime",
  maxImageStreams: "maxImageStreams",
  leaseSync: "leaseSync",
};

/** An invalid value of the input `field`: the settings page shows the error beside that field. */
const bad = (field: keyof ServeInput, msg: string) => invalidField(field, msg);

const DHCP_MODES: readonly DhcpModeName[] = ["authoritative", "proxy", "off"];
const badMode = (v: unknown) => bad("dhcpMode", `--dhcp ${v}: use authoritative, proxy or off`);
const LEASE_SYNCS: readonly LeaseSync[] = ["normal", "full"];
const badSync = (v: unknown) => bad("leaseSync", `--lease-sync ${v}: use normal (leases survive drover being killed) or full (also a power cut; slower)`);
const badBuild = (v: unknown) => bad("ipxeBuild", `--ipxe-build ${v}: use ${Object.keys(IPXE_SETS).join(" or ")} (assets/ipxe/SOURCES.md)`);

/** The whole-number inputs: their bounds, default, and the message (naming the flag) for a value outside them. */
interface WholeSpec {
  min: number;
  max: number;
  def: number;
  /** The flag's text must be decimal digits (else anything Number() reads as a whole number). */
  digits?: boolean;
  msg: (v: unknown) => string;
}
const portSpec = (flag: string, def: number): WholeSpec => ({ min: 0, max: 65535, def, msg: (v) => `${flag} ${v} is not a port number (0-65535)` });
const WHOLE = {
  httpPort: portSpec("--port", 9873),
  tftpPort: portSpec("--tftp-port", 69),
  dhcpPort: portSpec("--dhcp-port", 67),
  pxePort: portSpec("--pxe-port", 4011),
  leaseSeconds: { min: 60, max: Number.POSITIVE_INFINITY, def: 86400, msg: (v) => `--lease-time ${v}: at least 60 seconds` },
  pollSeconds: { min: 1, max: 86400, def: 60, msg: (v) => `--poll-interval ${v}: a whole number of seconds, 1-86400` },
  maxImageStreams: {
    min: 0,
    max: 100_000,
    def: DEFAULT_MAX_IMAGE_STREAMS,
    digits: true,
    msg: (v) => `--max-image-streams ${v}: a whole number of downloads at once, 0 for no limit (default ${DEFAULT_MAX_IMAGE_STREAMS})`,
  },
} as const satisfies Partial<Record<keyof ServeInput, WholeSpec>>;
type WholeKey = keyof typeof WHOLE;

/** A whole-number flag's text as its number; text that is none is refused naming the flag. */
function parseWhole(key: WholeKey, v: string): number {
  const s: WholeSpec = WHOLE[key];
  const n = s.digits && !/^\d+$/.test(v) ? Number.NaN : Number(v);
  if (!Number.isInteger(n)) throw bad(key, s.msg(v));
  return n;
}

/** A whole-number input, its default when unset; refused naming its flag when out of bounds. */
function whole(input: ServeInput, key: WholeKey): number {
  const s: WholeSpec = WHOLE[key];
  const n = input[key] ?? s.def;
  if (!Number.isInteger(n) || n < s.min || n > s.max) throw bad(key, s.msg(n));
  return n;
}

/**
 * `drover serve`'s command line as typed input: numbers parsed, names checked, each refused with its flag
 * named and its input in `field`. Unset flags stay unset (commander's defaults are set, and so parsed too).
 * The values are validated together by resolveServeConfig.
 */
export function fromFlags(f: ServeFlags): ServeInput {
  const out: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(OPTION_OF) as [keyof ServeInput, keyof ServeFlags][]) {
    const v = f[option];
    if (v === undefined) continue;
    if (key in WHOLE) out[key] = parseWhole(key as WholeKey, v as string);
    else if (key === "dhcpMode") {
      if (!DHCP_MODES.includes(v as DhcpModeName)) throw badMode(v);
      out[key] = v;
    } else if (key === "leaseSync") {
      if (!LEASE_SYNCS.includes(v as LeaseSync)) throw badSync(v);
      out[key] = v;
    } else if (key === "ipxeBuild") {
      if (!Object.hasOwn(IPXE_SETS, v as string)) throw badBuild(v);
      out[key] = v;
    } else out[key] = v;
  }
  return out as ServeInput;
}

/** The inputs the command line gave explicitly, from the names of the options it gave (commander's attributes). */
export function inputsGiven(options: ReadonlySet<string>): Set<keyof ServeInput> {
  return new Set((Object.entries(OPTION_OF) as [keyof ServeInput, string][]).filter(([, o]) => options.has(o)).map(([k]) => k));
}

export interface HostInterface {
  name: string;
  address: string;
  netmask: string;
}

/** The host's IPv4 interfaces, loopback excluded. */
export function hostInterfaces(): HostInterface[] {
  const out: HostInterface[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) out.push({ name, address: a.address, netmask: a.netmask });
  }
  return out;
}

function range(v: string, field: keyof ServeInput, flag: string): { start: string; end: string } {
  const [start, end, extra] = v.split("-");
  if (!start || !end || extra !== undefined || parseIPv4(start) === undefined || parseIPv4(end) === undefined || parseIPv4(start)! > parseIPv4(end)!) {
    throw bad(field, `${flag} '${v}' is not an address range like 10.0.0.100-10.0.0.199`);
  }
  return { start, end };
}

const inSubnet = (ip: string, net: { network: string; netmask: string }) => networkOf(ip, net.netmask) === networkOf(net.network, net.netmask);

/** A range handed out on an interface must lie in its subnet and leave out the head node's own address. */
function inside(r: { start: string; end: string }, iface: HostInterface, field: keyof ServeInput, flag: string) {
  const net = { network: networkOf(iface.address, iface.netmask), netmask: iface.netmask };
  if (!inSubnet(r.start, net) || !inSubnet(r.end, net))
    throw bad(field, `${flag} ${r.start}-${r.end} is not inside ${iface.name}'s subnet ${net.network}/${iface.netmask}`);
  const own = parseIPv4(iface.address)!;
  if (parseIPv4(r.start)! <= own && own <= parseIPv4(r.end)!)
    throw bad(field, `${flag} ${r.start}-${r.end} includes this head node's own address ${iface.address}; start it after that address`);
}

/**
 * The configuration from typed input (fromFlags, with saved settings merged in): defaults filled in, every
 * value checked against the others and the host's interfaces. An error names the flag of the value it is
 * about, and its input in `field`.
 */
export function resolveServeConfig(f: ServeInput, dataDir: string, host: HostInterface[] = hostInterfaces()): Readonly<ServeConfig> {
  const names = f.interfaces ?? [];
  const mode = f.dhcpMode ?? (names.length ? "authoritative" : "off");
  // Saved settings are typed by what wrote them; a row from elsewhere is checked like a flag.
  if (!DHCP_MODES.includes(mode)) throw badMode(mode);
  const choices = () => host.map((h) => `${h.name} (${h.address})`).join(", ") || "none found";
  let chosen: HostInterface[] = [];
  if (mode !== "off") {
    if (names.length === 0) {
      if (host.length !== 1)
        throw bad("dhcpMode", `--dhcp ${mode} needs an interface to serve; pick one with --interface NAME (interfaces with IPv4: ${choices()})`);
      chosen = host;
    } else {
      for (const n of names) {
        const hits = host.filter((h) => h.name === n);
        if (hits.length === 0) throw bad("interfaces", `--interface ${n}: no such interface with an IPv4 address (interfaces with IPv4: ${choices()})`);
        const pick = f.serverIp ? hits.find((h) => h.address === f.serverIp) : hits[0];
        if (!pick) throw bad("serverIp", `--server-ip ${f.serverIp} is not an address of ${n} (${hits.map((h) => h.address).join(", ")})`);
        if (hits.length > 1 && !f.serverIp)
          throw bad("interfaces", `--interface ${n} has several addresses (${hits.map((h) => h.address).join(", ")}); choose one with --server-ip`);
        chosen.push(pick);
      }
    }
  }
  if (f.pool && chosen.length !== 1) throw bad("pool", "--pool applies to one interface; give exactly one --interface");
  const pool = f.pool ? range(f.pool, "pool", "--pool") : undefined;
  if (pool) inside(pool, chosen[0]!, "pool", "--pool");
  for (const d of f.dns ?? []) if (parseIPv4(d) === undefined) throw bad("dns", `--dns ${d} is not an IPv4 address`);
  if (f.router && parseIPv4(f.router) === undefined) throw bad("router", `--router ${f.router} is not an IPv4 address`);
  const relaySubnets = (f.relaySubnets ?? []).map((spec) => {
    // NETWORK/PREFIX[,router=IP][,pool=A-B]
    const [cidr, ...kv] = spec.split(",");
    const [net, prefix] = (cidr ?? "").split("/");
    if (!net || parseIPv4(net) === undefined || !prefix || !/^\d+$/.test(prefix))
      throw bad(
        "relaySubnets",
        `--relay-subnet '${spec}': expected NETWORK/PREFIX[,router=IP][,pool=A-B], e.g. 10.1.0.0/24,router=10.1.0.1,pool=10.1.0.100-10.1.0.199`,
      );
    const netmask = prefixToNetmask(Number(prefix));
    const out: ServeConfig["dhcp"]["relaySubnets"][number] = { network: networkOf(net, netmask), netmask };
    for (const p of kv) {
      const [k, v] = p.split("=");
      if (k === "router" && v && parseIPv4(v) !== undefined) out.router = v;
      else if (k === "pool" && v) {
        out.pool = range(v, "relaySubnets", "--relay-subnet pool");
        if (!inSubnet(out.pool.start, out) || !inSubnet(out.pool.end, out))
          throw bad("relaySubnets", `--relay-subnet '${spec}': the pool is not inside ${out.network}/${prefix}`);
      } else throw bad("relaySubnets", `--relay-subnet '${spec}': unknown part '${p}'`);
    }
    return out;
  });
  const ipxeBuild = f.ipxeBuild ?? "current";
  if (!Object.hasOwn(IPXE_SETS, ipxeBuild)) throw badBuild(ipxeBuild);
  if (f.ipxeDir && f.ipxeBuild)
    throw bad("ipxeBuild", "--ipxe-build chooses an embedded set; with --ipxe-dir the directory's builds are served instead: give one of them");
  const pollSeconds = whole(f, "pollSeconds");
  const maxImageStreams = whole(f, "maxImageStreams");
  const leaseSeconds = whole(f, "leaseSeconds");

  let register: ServeConfig["discovery"]["register"];
  if (f.registerPattern) {
    expandHostlist(f.registerPattern); // validates
    register = { pattern: f.registerPattern, ...(f.registerProfiles?.length ? { profiles: f.registerProfiles } : {}) };
    if (f.registerRange) {
      const r = range(f.registerRange, "registerRange", "--register-range");
      const iface = chosen[0];
      if (iface) inside(r, iface, "registerRange", "--register-range");
      register.range = { ...r, netmask: iface?.netmask ?? "255.255.255.0", ...(f.router ? { gateway: f.router } : {}) };
    }
  } else if (f.registerProfiles?.length) throw bad("registerProfiles", "--register-profile needs --register-pattern");
  else if (f.registerRange) throw bad("registerRange", "--register-range needs --register-pattern (the names to give new nodes, e.g. n[001-999])");
  if (register && !f.discovery) throw bad("registerPattern", "--register-pattern registers unknown machines during discovery; add --discovery");

  const cfg: ServeConfig = {
    http: { port: whole(f, "httpPort"), listen: f.listen ?? "0.0.0.0", maxImageStreams },
    // --listen binds TFTP too: a head node that serves HTTP on one address does not answer TFTP on every other.
    tftp: { enabled: f.tftp !== false, port: whole(f, "tftpPort"), address: f.listen ?? "0.0.0.0" },
    dhcp: {
      mode,
      port: whole(f, "dhcpPort"),
      pxePort: whole(f, "pxePort"),
      interfaces: chosen.map((h) => ({
        name: h.name,
        serverIp: h.address,
        network: networkOf(h.address, h.netmask),
        netmask: h.netmask,
        ...(f.router ? { router: f.router } : {}),
        ...(f.dns?.length ? { dns: f.dns } : {}),
        ...(pool ? { pool } : {}),
      })),
      relaySubnets,
      leaseSeconds,
      // On where drover owns the network (authoritative); next to another DHCP server only when asked.
      routerAdvertisements: mode !== "off" && (f.ipv6Ra ?? mode === "authoritative"),
      leaseSync: f.leaseSync ?? "normal",
    },
    discovery: { enabled: !!f.discovery, ...(register ? { register } : {}) },
    ...(f.ipxeDir ? { ipxeDir: f.ipxeDir } : {}),
    ipxeBuild,
    ipxeTemplateDir: `${dataDir}/ipxe`,
    runtime: { secure: !f.insecureRuntime, pollSeconds },
  };
  if (mode === "off") cfg.dhcp.interfaces = [];
  return Object.freeze(cfg);
}
