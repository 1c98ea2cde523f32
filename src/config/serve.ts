import { networkInterfaces } from "node:os";
import { IPXE_SETS, type IpxeSetName } from "../../assets/ipxe/sets";
import { invalidField } from "../domain/errors";
import { expandHostlist } from "../domain/hostlist";
import { networkOf, parseIPv4, prefixToNetmask } from "../domain/net";

/**
 * `drover serve`'s configuration: resolved once from flags (and the host's interfaces), validated, frozen.
 * DHCP stays off unless an interface or a DHCP mode is given: drover never answers DHCP on a network
 * nobody told it to serve.
 */
export type DhcpModeName = "authoritative" | "proxy" | "off";

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
  /** Read by the HTTP layer, shown on the settings page. */
  apiSubnet?: string[];
  secureCookies?: boolean;
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

/** An invalid value of the option `field` (a ServeFlags key): the settings page names its field by it. */
const bad = (field: keyof ServeFlags, msg: string) => invalidField(field, msg);

const port = (v: string | undefined, def: number, field: keyof ServeFlags, flag: string) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw bad(field, `${flag} ${v} is not a port number (0-65535)`);
  return n;
};

function range(v: string, field: keyof ServeFlags, flag: string): { start: string; end: string } {
  const [start, end, extra] = v.split("-");
  if (!start || !end || extra !== undefined || parseIPv4(start) === undefined || parseIPv4(end) === undefined || parseIPv4(start)! > parseIPv4(end)!) {
    throw bad(field, `${flag} '${v}' is not an address range like 10.0.0.100-10.0.0.199`);
  }
  return { start, end };
}

const inSubnet = (ip: string, net: { network: string; netmask: string }) => networkOf(ip, net.netmask) === networkOf(net.network, net.netmask);

/** A range handed out on an interface must lie in its subnet and leave out the head node's own address. */
function inside(r: { start: string; end: string }, iface: HostInterface, field: keyof ServeFlags, flag: string) {
  const net = { network: networkOf(iface.address, iface.netmask), netmask: iface.netmask };
  if (!inSubnet(r.start, net) || !inSubnet(r.end, net)) throw bad(field, `${flag} ${r.start}-${r.end} is not inside ${iface.name}'s subnet ${net.network}/${iface.netmask}`);
  const own = parseIPv4(iface.address)!;
  if (parseIPv4(r.start)! <= own && own <= parseIPv4(r.end)!) throw bad(field, `${flag} ${r.start}-${r.end} includes this head node's own address ${iface.address}; start it after that address`);
}

export function resolveServeConfig(f: ServeFlags, dataDir: string, host: HostInterface[] = hostInterfaces()): Readonly<ServeConfig> {
  const names = f.interface ?? [];
  const mode = (f.dhcp ?? (names.length ? "authoritative" : "off")) as DhcpModeName;
  if (!["authoritative", "proxy", "off"].includes(mode)) throw bad("dhcp", `--dhcp ${f.dhcp}: use authoritative, proxy or off`);
  const choices = () => host.map((h) => `${h.name} (${h.address})`).join(", ") || "none found";
  let chosen: HostInterface[] = [];
  if (mode !== "off") {
    if (names.length === 0) {
      if (host.length !== 1) throw bad("dhcp", `--dhcp ${mode} needs an interface to serve; pick one with --interface NAME (interfaces with IPv4: ${choices()})`);
      chosen = host;
    } else {
      for (const n of names) {
        const hits = host.filter((h) => h.name === n);
        if (hits.length === 0) throw bad("interface", `--interface ${n}: no such interface with an IPv4 address (interfaces with IPv4: ${choices()})`);
        const pick = f.serverIp ? hits.find((h) => h.address === f.serverIp) : hits[0];
        if (!pick) throw bad("serverIp", `--server-ip ${f.serverIp} is not an address of ${n} (${hits.map((h) => h.address).join(", ")})`);
        if (hits.length > 1 && !f.serverIp) throw bad("interface", `--interface ${n} has several addresses (${hits.map((h) => h.address).join(", ")}); choose one with --server-ip`);
        chosen.push(pick);
      }
    }
  }
  if (f.pool && chosen.length !== 1) throw bad("pool", "--pool applies to one interface; give exactly one --interface");
  const pool = f.pool ? range(f.pool, "pool", "--pool") : undefined;
  if (pool) inside(pool, chosen[0]!, "pool", "--pool");
  for (const d of f.dns ?? []) if (parseIPv4(d) === undefined) throw bad("dns", `--dns ${d} is not an IPv4 address`);
  if (f.router && parseIPv4(f.router) === undefined) throw bad("router", `--router ${f.router} is not an IPv4 address`);
  const relaySubnets = (f.relaySubnet ?? []).map((spec) => {
    // NETWORK/PREFIX[,router=IP][,pool=A-B]
    const [cidr, ...kv] = spec.split(",");
    const [net, prefix] = (cidr ?? "").split("/");
    if (!net || parseIPv4(net) === undefined || !prefix || !/^\d+$/.test(prefix)) throw bad("relaySubnet", `--relay-subnet '${spec}': expected NETWORK/PREFIX[,router=IP][,pool=A-B], e.g. 10.1.0.0/24,router=10.1.0.1,pool=10.1.0.100-10.1.0.199`);
    const netmask = prefixToNetmask(Number(prefix));
    const out: ServeConfig["dhcp"]["relaySubnets"][number] = { network: networkOf(net, netmask), netmask };
    for (const p of kv) {
      const [k, v] = p.split("=");
      if (k === "router" && v && parseIPv4(v) !== undefined) out.router = v;
      else if (k === "pool" && v) {
        out.pool = range(v, "relaySubnet", "--relay-subnet pool");
        if (!inSubnet(out.pool.start, out) || !inSubnet(out.pool.end, out)) throw bad("relaySubnet", `--relay-subnet '${spec}': the pool is not inside ${out.network}/${prefix}`);
      } else throw bad("relaySubnet", `--relay-subnet '${spec}': unknown part '${p}'`);
    }
    return out;
  });
  const ipxeBuild = (f.ipxeBuild ?? "current") as IpxeSetName;
  if (!(ipxeBuild in IPXE_SETS)) throw bad("ipxeBuild", `--ipxe-build ${f.ipxeBuild}: use ${Object.keys(IPXE_SETS).join(" or ")} (assets/ipxe/SOURCES.md)`);
  if (f.ipxeDir && f.ipxeBuild) throw bad("ipxeBuild", "--ipxe-build chooses an embedded set; with --ipxe-dir the directory's builds are served instead: give one of them");
  const pollSeconds = f.pollInterval === undefined ? 60 : Number(f.pollInterval);
  if (!Number.isInteger(pollSeconds) || pollSeconds < 1 || pollSeconds > 86400) throw bad("pollInterval", `--poll-interval ${f.pollInterval}: a whole number of seconds, 1-86400`);
  const maxImageStreams = f.maxImageStreams === undefined ? DEFAULT_MAX_IMAGE_STREAMS : Number(f.maxImageStreams);
  if ((f.maxImageStreams !== undefined && !/^\d+$/.test(f.maxImageStreams)) || maxImageStreams > 100_000)
    throw bad("maxImageStreams", `--max-image-streams ${f.maxImageStreams}: a whole number of downloads at once, 0 for no limit (default ${DEFAULT_MAX_IMAGE_STREAMS})`);
  const leaseSeconds = f.leaseTime === undefined ? 86400 : Number(f.leaseTime);
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 60) throw bad("leaseTime", `--lease-time ${f.leaseTime}: at least 60 seconds`);

  let register: ServeConfig["discovery"]["register"];
  if (f.registerPattern) {
    expandHostlist(f.registerPattern); // validates
    register = { pattern: f.registerPattern, ...(f.registerProfile?.length ? { profiles: f.registerProfile } : {}) };
    if (f.registerRange) {
      const r = range(f.registerRange, "registerRange", "--register-range");
      const iface = chosen[0];
      if (iface) inside(r, iface, "registerRange", "--register-range");
      register.range = { ...r, netmask: iface?.netmask ?? "255.255.255.0", ...(f.router ? { gateway: f.router } : {}) };
    }
  } else if (f.registerProfile?.length) throw bad("registerProfile", "--register-profile needs --register-pattern");
  else if (f.registerRange) throw bad("registerRange", "--register-range needs --register-pattern (the names to give new nodes, e.g. n[001-999])");
  if (register && !f.discovery) throw bad("registerPattern", "--register-pattern registers unknown machines during discovery; add --discovery");

  const cfg: ServeConfig = {
    http: { port: port(f.port, 9873, "port", "--port"), listen: f.listen ?? "0.0.0.0", maxImageStreams },
    // --listen binds TFTP too: a head node that serves HTTP on one address does not answer TFTP on every other.
    tftp: { enabled: f.tftp !== false, port: port(f.tftpPort, 69, "tftpPort", "--tftp-port"), address: f.listen ?? "0.0.0.0" },
    dhcp: {
      mode,
      port: port(f.dhcpPort, 67, "dhcpPort", "--dhcp-port"),
      pxePort: port(f.pxePort, 4011, "pxePort", "--pxe-port"),
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
