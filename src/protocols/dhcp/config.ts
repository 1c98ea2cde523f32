/**
 * DHCP server configuration: a plain object, validated and frozen once by dhcpConfig(). The composition
 * root builds it from drover's own configuration; tests build it directly.
 */
import { invalid } from "../../domain/errors";
import { netmaskToPrefix, parseIPv4 } from "../../domain/net";

export type DhcpMode = "authoritative" | "proxy" | "off";

export interface DhcpPool {
  /** First and last address handed to unknown MACs (inclusive). Keep it clear of node reservations. */
  start: string;
  end: string;
}

export interface DhcpSubnet {
  network: string;
  netmask: string;
  /** Default route for pool clients (option 3); reservations carry their own gateway. */
  router?: string;
  dns?: readonly string[];
  domain?: string;
  pool?: DhcpPool;
}

export interface DhcpInterface {
  /** Linux interface name; the server's sockets are bound to it (SO_BINDTODEVICE). */
  name: string;
  mode: DhcpMode;
  /** This head node's address on the interface: server identifier, next-server, and the host in URLs. */
  serverIp: string;
  /** The interface's own subnet, plus any subnet reached through relays (matched by giaddr). */
  subnets: readonly DhcpSubnet[];
}

export interface DhcpBootFiles {
  /** Option 93 = 0, fetched over TFTP. */
  bios: string;
  /** Option 93 = 7 or 9, fetched over TFTP. */
  uefiX64: string;
  /** Option 93 = 11; arm64 clients get no boot file when unset. */
  uefiArm64?: string;
  /** UEFI HTTP boot (vendor class HTTPClient, arch 16), fetched from the HTTP server. */
  httpX64: string;
  /** UEFI HTTP boot arm64 (arch 19). */
  httpArm64?: string;
}

export interface DhcpConfig {
  interfaces: readonly DhcpInterface[];
  /** Port of drover's HTTP server, used in iPXE script and HTTP-boot URLs. */
  httpPort: number;
  /** Whether drover's TFTP server runs; without it PXE ROMs get an address but no boot file. */
  tftp: boolean;
  bootFiles: DhcpBootFiles;
  /** URL path under which the HTTP server serves boot files (HTTP boot), e.g. "/" or "/boot/". */
  httpFilesPrefix: string;
  /** Path of the iPXE script, with iPXE settings iPXE itself expands. */
  ipxeScriptPath: string;
  /** Unknown MACs get a pool address only when discovery is on (and the subnet has a pool). */
  discovery: boolean;
  leaseSeconds: { reserved: number; pool: number };
  /** UDP ports; tests and benchmarks may move them. */
  ports: { server: number; client: number; pxe: number };
}

export type DhcpConfigInput = Partial<Omit<DhcpConfig, "interfaces" | "bootFiles" | "leaseSeconds" | "ports">> & {
  interfaces: readonly DhcpInterface[];
  bootFiles?: Partial<DhcpBootFiles>;
  leaseSeconds?: Partial<DhcpConfig["leaseSeconds"]>;
  ports?: Partial<DhcpConfig["ports"]>;
};

export const DEFAULT_IPXE_SCRIPT_PATH = "/ipxe/${mac:hexhyp}?assetkey=${asset}&uuid=${uuid}";

/** Fills defaults, validates and deep-freezes. Throws a DroverError (invalid) listing every problem. */
export function dhcpConfig(input: DhcpConfigInput): Readonly<DhcpConfig> {
  const cfg: DhcpConfig = {
    interfaces: input.interfaces.map((i) => ({
      ...i,
      subnets: i.subnets.map((s) => ({ ...s, dns: s.dns ? [...s.dns] : undefined, pool: s.pool ? { ...s.pool } : undefined })),
    })),
    httpPort: input.httpPort ?? 9873,
    tftp: input.tftp ?? true,
    bootFiles: { bios: "undionly.kpxe", uefiX64: "snponly.efi", httpX64: "ipxe.efi", ...input.bootFiles },
    httpFilesPrefix: input.httpFilesPrefix ?? "/",
    ipxeScriptPath: input.ipxeScriptPath ?? DEFAULT_IPXE_SCRIPT_PATH,
    discovery: input.discovery ?? false,
    leaseSeconds: { reserved: 86400, pool: 600, ...input.leaseSeconds },
    ports: { server: 67, client: 68, pxe: 4011, ...input.ports },
  };
  const problems: string[] = [];
  const ipOk = (s: string | undefined, what: string) => {
    if (s !== undefined && parseIPv4(s) === undefined) problems.push(`${what}: '${s}' is not an IPv4 address`);
  };
  const names = new Set<string>();
  for (const i of cfg.interfaces) {
    const at = `interface ${i.name}`;
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(i.name)) problems.push(`${at}: not a Linux interface name`);
    if (names.has(i.name)) problems.push(`${at}: listed twice`);
    names.add(i.name);
    if (!["authoritative", "proxy", "off"].includes(i.mode)) problems.push(`${at}: mode '${i.mode}' (use authoritative, proxy or off)`);
    ipOk(i.serverIp, `${at} serverIp`);
    if (i.mode === "authoritative" && i.subnets.length === 0) problems.push(`${at}: authoritative mode needs at least one subnet`);
    for (const s of i.subnets) {
      const sat = `${at} subnet ${s.network}`;
      ipOk(s.network, sat);
      try {
        netmaskToPrefix(s.netmask);
      } catch {
        problems.push(`${sat}: '${s.netmask}' is not a netmask`);
      }
      ipOk(s.router, `${sat} router`);
      for (const d of s.dns ?? []) ipOk(d, `${sat} dns`);
      if (s.pool) {
        ipOk(s.pool.start, `${sat} pool start`);
        ipOk(s.pool.end, `${sat} pool end`);
        const a = parseIPv4(s.pool.start);
        const b = parseIPv4(s.pool.end);
        if (a !== undefined && b !== undefined) {
          if (a > b) problems.push(`${sat}: pool ${s.pool.start}-${s.pool.end} ends before it starts`);
          if (parseIPv4(s.netmask) !== undefined && parseIPv4(s.network) !== undefined && (!inSubnet(s, s.pool.start) || !inSubnet(s, s.pool.end)))
            problems.push(`${sat}: pool ${s.pool.start}-${s.pool.end} is not inside ${s.network}/${s.netmask}`);
        }
      }
    }
  }
  for (const [k, v] of Object.entries(cfg.leaseSeconds)) if (!Number.isInteger(v) || v < 60) problems.push(`leaseSeconds.${k}: ${v} (at least 60 seconds)`);
  for (const [k, v] of Object.entries(cfg.ports)) if (!Number.isInteger(v) || v < 1 || v > 65535) problems.push(`ports.${k}: ${v}`);
  if (!Number.isInteger(cfg.httpPort) || cfg.httpPort < 1 || cfg.httpPort > 65535) problems.push(`httpPort: ${cfg.httpPort}`);
  if (!cfg.httpFilesPrefix.startsWith("/") || !cfg.httpFilesPrefix.endsWith("/"))
    problems.push(`httpFilesPrefix '${cfg.httpFilesPrefix}' must start and end with '/'`);
  if (!cfg.ipxeScriptPath.startsWith("/")) problems.push(`ipxeScriptPath '${cfg.ipxeScriptPath}' must start with '/'`);
  if (problems.length) throw invalid("the DHCP configuration has problems", problems);
  return deepFreeze(cfg);
}

export function inSubnet(s: Pick<DhcpSubnet, "network" | "netmask">, ip: string): boolean {
  const a = parseIPv4(ip);
  const n = parseIPv4(s.network);
  const m = parseIPv4(s.netmask);
  if (a === undefined || n === undefined || m === undefined) return false;
  return (a & m) >>> 0 === (n & m) >>> 0;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
