import { basename } from "node:path";
import { LineCounter, type Node as YamlNode, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { invalid } from "../domain/errors";
import { networkOf, parseAddressWithPrefix, parseIPv4, requireNetmask } from "../domain/net";
import type { HostInterface } from "./serve";
import type { SettingKey, SettingsPatch } from "./settings";

/**
 * Warewulf's warewulf.conf (/etc/warewulf/warewulf.conf) read for `drover settings import`: every key Warewulf
 * 4.3-4.7 knows (internal/pkg/config/*.go and the legacy keys internal/pkg/upgrade/config.go still reads, in
 * warewulf/warewulf at 148e8de75b8a0a056868a8187b2daf382d9255c9), checked strictly (an unknown key is an error
 * naming its line: a typo would otherwise silently import nothing), then planned into drover's terms: the
 * live serve settings (the Settings page's fields), what `drover configure` uses (NFS export paths, root's key
 * type), NFS mounts for the default profile, and one report row per key saying what it became or why not.
 * Planning is pure; the CLI applies the plan (src/cli/settings/import.ts).
 */

/** Known keys per section; a section ending in [] is a list of maps. */
const KNOWN: Record<string, readonly string[]> = {
  "": [
    "comment",
    "ipaddr",
    "netmask",
    "network",
    "fqdn",
    "ipaddr6",
    "prefixlen6",
    "ipv6net",
    "WW_INTERNAL",
    "warewulf",
    "api",
    "dhcp",
    "tftp",
    "nfs",
    "ssh",
    "image mounts",
    "container mounts",
    "paths",
    "wwclient",
  ],
  warewulf: [
    "port",
    "tls port",
    "secure",
    "secure files",
    "tls",
    "update interval",
    "autobuild overlays",
    "host overlay",
    "syslog",
    "datastore",
    "grubboot",
    "systemd name",
  ],
  api: ["enabled", "tls", "allowed subnets"],
  dhcp: ["enabled", "template", "range start", "range end", "range6 start", "range6 end", "systemd name"],
  tftp: ["enabled", "tftproot", "systemd name", "ipxe"],
  nfs: ["enabled", "exports", "export paths", "systemd name"],
  "nfs.export paths[]": ["path", "export options", "mount options", "mount"],
  ssh: ["key types"],
  "image mounts[]": ["source", "dest", "readonly", "options", "copy"],
  "container mounts[]": ["source", "dest", "readonly", "options", "copy"],
  paths: [
    "bindir",
    "sysconfdir",
    "localstatedir",
    "cachedir",
    "ipxesource",
    "srvdir",
    "firewallddir",
    "systemddir",
    "datadir",
    "wwoverlaydir",
    "wwchrootdir",
    "wwprovisiondir",
    "wwclientdir",
    "wwfilesdir",
  ],
  wwclient: ["port"],
};

/** An NFS export as `drover configure nfs` writes it: path and export options (Warewulf's default options). */
export interface NfsExport {
  path: string;
  options: string;
}

/** What `drover configure` reads beside the node store: saved by settings import under the settings key "headnode". */
export interface HeadNodeSettings {
  /** Where it came from ("warewulf.conf /etc/warewulf/warewulf.conf"). */
  source?: string;
  /** The head node's addresses from warewulf.conf (ipaddr): NFS mounts from these are exported here. */
  addresses?: string[];
  nfsExports?: NfsExport[];
  /** Extra clients for every export ("10.0.0.0/255.255.252.0"): warewulf.conf's network/netmask. */
  nfsClients?: string[];
  /** Root's key types, the first is made by `drover configure ssh`. */
  sshKeyTypes?: string[];
}

export const HEADNODE_SETTINGS_KEY = "headnode";
export const DEFAULT_EXPORT_OPTIONS = "rw,sync,no_subtree_check";
/** The key types drover's ssh.authorized_keys overlay carries (id_TYPE.pub). */
export const SSH_KEY_TYPES = ["ed25519", "ecdsa", "rsa"] as const;

/** An fstab resource entry for the default profile (Warewulf ≤4.5 `mount: true` exports). */
export interface FstabMount {
  spec: string;
  file: string;
  vfstype: string;
  mntops?: string;
}

export type RowOutcome = "mapped" | "checked" | "not mapped";

export interface ImportRow {
  /** The warewulf.conf key, dotted: "dhcp.range start", "tftp.ipxe.00:09". */
  key: string;
  value: string;
  outcome: RowOutcome;
  /** What it became, or why not. */
  text: string;
  /** The drover settings it set (so a validation error can name the warewulf.conf key). */
  fields?: SettingKey[];
}

export interface WarewulfImportPlan {
  rows: ImportRow[];
  /** Live serve settings (Settings page). */
  patch: SettingsPatch;
  headNode: HeadNodeSettings;
  /** NFS mounts to add to the default profile's fstab resource. */
  fstab: FstabMount[];
}

type Obj = Record<string, unknown>;

/** Parses and checks a warewulf.conf: YAML errors and unknown keys are errors with their line. */
export function parseWarewulfConf(text: string, file: string): Obj {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw invalid(`${file} is not valid YAML${line ? ` (line ${line})` : ""}: ${e.message.split("\n")[0]}; nothing was changed`);
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ""))) throw invalid(`${file} is empty; nothing was changed`);
  if (!isMap(root)) throw invalid(`${file} is not a warewulf.conf: expected a YAML map of keys (ipaddr:, dhcp:, tftp: …); nothing was changed`);
  const lineOf = (n: YamlNode | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : undefined);
  const check = (node: unknown, section: string, where: string) => {
    if (!isMap(node)) return;
    const known = KNOWN[section]!;
    for (const item of node.items) {
      const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
      const path = where ? `${where}.${k}` : k;
      if (!known.includes(k)) {
        const line = lineOf(item.key as YamlNode);
        throw invalid(
          `${file}${line ? ` line ${line}` : ""}: unknown key '${path}'; ${section ? `the keys of ${where}` : "warewulf.conf's top-level keys"} are: ` +
            `${known.join(", ")}; nothing was changed`,
        );
      }
      const sub = section ? `${section}.${k}` : k;
      if (KNOWN[sub]) check(item.value, sub, path);
      else if (KNOWN[`${sub}[]`] && isSeq(item.value)) item.value.items.forEach((x, i) => check(x, `${sub}[]`, `${path}[${i}]`));
    }
  };
  check(root, "", "");
  return doc.toJS() as Obj;
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
const bool = (v: unknown, key: string, file: string): boolean | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false|yes|no|on|off)$/i.test(v)) return /^(true|yes|on)$/i.test(v);
  throw invalid(`${file}: ${key} is ${JSON.stringify(v)}, not true or false; nothing was changed`);
};
const section = (c: Obj, k: string, file: string): Obj => {
  const v = c[k];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalid(`${file}: ${k} must be a map of keys (${KNOWN[k]?.join(", ")}); nothing was changed`);
  return v as Obj;
};
const list = (v: unknown, key: string, file: string): unknown[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(`${file}: ${key} must be a list; nothing was changed`);
  return v;
};

/** Where Warewulf finds a relative ipxe: file name (paths.ipxesource), and distribution iPXE directories. */
const DISTRO_IPXE = [/^\/usr\/share\/ipxe\//, /^\/usr\/lib\/ipxe\//];

/** The files drover embeds (assets/ipxe, SOURCES.md) and which DHCP option 93 values get each over TFTP. */
const EMBEDDED: Record<number, { file: string; what: string }> = {
  0: { file: "undionly.kpxe", what: "x86 BIOS" },
  7: { file: "snponly.efi", what: "x86-64 UEFI" },
  9: { file: "snponly.efi", what: "x86-64 UEFI" },
  11: { file: "ipxe-arm64.efi", what: "arm64 UEFI" },
};
const ARCH_NAMES: Record<number, string> = {
  0: "x86 BIOS",
  6: "x86 UEFI (32-bit)",
  7: "x86-64 UEFI",
  9: "x86-64 UEFI",
  10: "arm32 UEFI",
  11: "arm64 UEFI",
  16: "x86-64 UEFI HTTP",
  19: "arm64 UEFI HTTP",
};

export interface PlanOptions {
  file: string;
  /** This host's IPv4 interfaces (hostInterfaces()). */
  hosts: readonly HostInterface[];
  dataDir: string;
  /** Paths the default profile already mounts (fstab `file`), so a mount is not added twice. */
  defaultProfileMounts?: readonly string[];
}

/** warewulf.conf → drover: what each key becomes. Throws (invalid) on a value drover cannot read. */
export function planWarewulfImport(c: Obj, o: PlanOptions): WarewulfImportPlan {
  const file = o.file;
  const rows: ImportRow[] = [];
  const patch: SettingsPatch = {};
  const headNode: HeadNodeSettings = { source: `warewulf.conf ${file}` };
  const fstab: FstabMount[] = [];
  const row = (key: string, value: unknown, outcome: RowOutcome, text: string, fields?: SettingKey[]) =>
    rows.push({
      key,
      value: value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value),
      outcome,
      text,
      ...(fields ? { fields } : {}),
    });
  const ww = section(c, "warewulf", file);
  const dhcp = section(c, "dhcp", file);
  const tftp = section(c, "tftp", file);
  const nfs = section(c, "nfs", file);
  const ssh = section(c, "ssh", file);
  const api = section(c, "api", file);
  const paths = section(c, "paths", file);

  if (c.comment !== undefined) row("comment", c.comment, "not mapped", "a comment; drover keeps none");
  if (c.WW_INTERNAL !== undefined) row("WW_INTERNAL", c.WW_INTERNAL, "not mapped", "obsolete (Warewulf ignores it too)");

  // ---- the head node's address: which interface drover serves ----
  let ipaddr: string | undefined;
  let netmask = str(c.netmask);
  if (c.ipaddr !== undefined) {
    const given = String(c.ipaddr);
    let parsed: { ip: string; netmask?: string };
    try {
      parsed = parseAddressWithPrefix(given);
    } catch {
      throw invalid(`${file}: ipaddr '${given}' is not an IPv4 address (or address/prefix); nothing was changed`);
    }
    if (parseIPv4(parsed.ip) === undefined) throw invalid(`${file}: ipaddr '${given}' is not an IPv4 address; nothing was changed`);
    ipaddr = parsed.ip;
    netmask ??= parsed.netmask;
  }
  if (netmask !== undefined) {
    try {
      requireNetmask(netmask);
    } catch {
      throw invalid(`${file}: netmask '${netmask}' is not a netmask like 255.255.255.0; nothing was changed`);
    }
  }
  const iface = ipaddr ? o.hosts.find((h) => h.address === ipaddr) : undefined;
  const shown = o.hosts.map((h) => `${h.name} ${h.address}`).join(", ") || "none";
  const dhcpEnabled = bool(dhcp.enabled, "dhcp.enabled", file) ?? true;
  if (ipaddr === undefined)
    row(
      "ipaddr",
      "",
      "not mapped",
      "not set: Warewulf guesses this host's address; choose the interface drover serves DHCP on with the Settings page or drover serve -i IF",
    );
  else if (!iface)
    row(
      "ipaddr",
      c.ipaddr,
      "not mapped",
      `${ipaddr} is not an address of this host (its IPv4 addresses: ${shown}); the DHCP settings are left as they are: choose the interface on the ` +
        `Settings page, or import on the head node that has this address`,
    );
  else {
    const several = o.hosts.filter((h) => h.name === iface.name).length > 1;
    if (dhcpEnabled) {
      patch.interfaces = [iface.name];
      if (several) patch.serverIp = ipaddr;
      row(
        "ipaddr",
        c.ipaddr,
        "mapped",
        `interfaces: [${iface.name}]${several ? `, serverIp: ${ipaddr}` : ""} (the interface with this address: drover serves DHCP there)`,
        several ? ["interfaces", "serverIp"] : ["interfaces"],
      );
    } else row("ipaddr", c.ipaddr, "checked", `${iface.name} has this address (DHCP is off, so no interface is set)`);
  }
  if (c.netmask !== undefined) {
    if (!iface) row("netmask", c.netmask, "not mapped", "drover takes the netmask from the interface it serves (none found for ipaddr)");
    else if (iface.netmask === netmask) row("netmask", c.netmask, "checked", `${iface.name}'s netmask is the same; drover takes it from the interface`);
    else
      row(
        "netmask",
        c.netmask,
        "checked",
        `differs from ${iface.name}'s ${iface.netmask}: drover uses the interface's own netmask; correct the interface or drop the netmask from warewulf.conf`,
      );
  }
  if (c.network !== undefined) {
    const net = String(c.network);
    if (parseIPv4(net) === undefined) throw invalid(`${file}: network '${net}' is not an IPv4 address; nothing was changed`);
    const real = iface ? networkOf(iface.address, iface.netmask) : ipaddr && netmask ? networkOf(ipaddr, netmask) : undefined;
    row(
      "network",
      net,
      "checked",
      real === undefined
        ? "drover derives the network from the interface it serves"
        : real === net
          ? "the same as the network drover derives from the interface"
          : `differs from ${real}, the network of ${iface ? iface.name : "ipaddr/netmask"}: drover uses ${real}`,
    );
  }
  if (ipaddr) headNode.addresses = [ipaddr];
  if (ipaddr && netmask) headNode.nfsClients = [`${networkOf(ipaddr, netmask)}/${netmask}`];
  if (c.fqdn !== undefined) row("fqdn", c.fqdn, "not mapped", "nodes get the head node's host name in the hosts overlay (this host's hostname)");
  for (const k of ["ipaddr6", "prefixlen6", "ipv6net"])
    if (c[k] !== undefined)
      row(k, c[k], "not mapped", "drover's DHCP is IPv4; its router advertisements carry no prefix (nodes configure IPv6 from their network devices' ipaddr6)");

  // ---- warewulfd ----
  if (ww.port !== undefined) {
    const p = Number(ww.port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw invalid(`${file}: warewulf.port ${ww.port} is not a port number; nothing was changed`);
    row(
      "warewulf.port",
      p,
      p === 9873 ? "checked" : "not mapped",
      p === 9873
        ? "drover serve's default HTTP port is 9873 too"
        : `drover serve's port is its --port flag (fixed at start): install the service with 'drover install -- --port ${p}' (or add --port ${p} to ExecStart)`,
    );
  }
  if (ww["tls port"] !== undefined || ww.tls !== undefined)
    row(
      ww.tls !== undefined ? "warewulf.tls" : "warewulf.tls port",
      ww.tls ?? ww["tls port"],
      "not mapped",
      "drover serve speaks plain HTTP (iPXE fetches over HTTP); put a TLS proxy in front of the web page and use --secure-cookies",
    );
  if (ww.secure !== undefined) {
    const s = bool(ww.secure, "warewulf.secure", file);
    row(
      "warewulf.secure",
      s,
      s ? "checked" : "not mapped",
      s
        ? "drover's default: runtime overlays only to privileged source ports of the node's own address"
        : "drover serve --insecure-runtime does this (a flag, fixed at start: add it to ExecStart)",
    );
  }
  if (ww["secure files"] !== undefined)
    row("warewulf.secure files", ww["secure files"], "not mapped", "drover has no file-serving route; runtime overlays follow warewulf.secure");
  if (ww["update interval"] !== undefined) {
    const n = Number(ww["update interval"]);
    if (!Number.isInteger(n) || n < 1 || n > 86400)
      throw invalid(`${file}: warewulf.update interval ${ww["update interval"]} is not a whole number of seconds, 1-86400; nothing was changed`);
    patch.pollSeconds = n;
    row("warewulf.update interval", n, "mapped", `pollSeconds: ${n} (how often node agents fetch their runtime overlay)`, ["pollSeconds"]);
  }
  if (ww["autobuild overlays"] !== undefined) {
    const a = bool(ww["autobuild overlays"], "warewulf.autobuild overlays", file);
    row(
      "warewulf.autobuild overlays",
      a,
      a ? "checked" : "not mapped",
      a
        ? "always on in drover: an archive is rebuilt when anything it was built from changes"
        : "drover has no manual-build mode: archives are rebuilt when their inputs change",
    );
  }
  if (ww["host overlay"] !== undefined)
    row(
      "warewulf.host overlay",
      ww["host overlay"],
      "not mapped",
      "drover has no host overlay: 'drover configure nfs|hosts|ssh' writes the head node's exports, /etc/hosts block and root's key",
    );
  if (ww.syslog !== undefined)
    row("warewulf.syslog", ww.syslog, "not mapped", "drover serve logs to stderr, with syslog priorities under journald (--log-format json for JSON)");
  if (ww.datastore !== undefined) row("warewulf.datastore", ww.datastore, "not mapped", `drover keeps its state in its data dir (${o.dataDir}; -d/--data-dir)`);
  if (ww.grubboot !== undefined) {
    const g = bool(ww.grubboot, "warewulf.grubboot", file);
    row("warewulf.grubboot", g, g ? "not mapped" : "checked", g ? "drover boots nodes with iPXE only (no GRUB/shim boot)" : "drover boots with iPXE, as here");
  }
  if (ww["systemd name"] !== undefined)
    row(
      "warewulf.systemd name",
      ww["systemd name"],
      "not mapped",
      `drover runs as drover.service ('drover install'); stop and disable ${ww["systemd name"]} before drover serves the same network`,
    );

  // ---- the API ----
  if (api.enabled !== undefined)
    row("api.enabled", api.enabled, "not mapped", "drover's API (/api/v1) is always on at drover serve's port, behind accounts and tokens");
  if (api.tls !== undefined) row("api.tls", api.tls, "not mapped", "drover serve speaks plain HTTP; put a TLS proxy in front");
  if (api["allowed subnets"] !== undefined) {
    const nets = list(api["allowed subnets"], "api.allowed subnets", file).map(String);
    row(
      "api.allowed subnets",
      nets.join(", "),
      "not mapped",
      `drover serve --api-subnet does this (a flag, fixed at start): ${nets.map((n) => `--api-subnet ${n}`).join(" ")}`,
    );
  }

  // ---- DHCP ----
  if (dhcp.enabled !== undefined || iface) {
    if (!dhcpEnabled) {
      patch.dhcpMode = "off";
      row("dhcp.enabled", false, "mapped", "dhcpMode: off (if another DHCP server hands out the addresses, dhcpMode proxy lets drover answer the boot part)", [
        "dhcpMode",
      ]);
    } else if (iface) {
      patch.dhcpMode = "authoritative";
      row("dhcp.enabled", true, "mapped", `dhcpMode: authoritative (drover serve is the DHCP server on ${iface.name})`, ["dhcpMode"]);
    } else row("dhcp.enabled", true, "not mapped", "no interface of this host has ipaddr, so DHCP is left as it is");
  }
  if (dhcp.template !== undefined)
    row(
      "dhcp.template",
      dhcp.template,
      "not mapped",
      "drover's built-in DHCP server replaces dhcpd and its template: known nodes get their own address, PXE ROMs an iPXE binary, iPXE its script",
    );
  const rs = str(dhcp["range start"]);
  const re = str(dhcp["range end"]);
  if (rs !== undefined || re !== undefined) {
    const value = `${rs ?? "?"}-${re ?? "?"}`;
    if (rs === undefined || re === undefined)
      throw invalid(
        `${file}: dhcp has ${rs === undefined ? "range end" : "range start"} but no ${rs === undefined ? "range start" : "range end"}; give both; nothing was changed`,
      );
    for (const [k, v] of [
      ["range start", rs],
      ["range end", re],
    ] as const)
      if (parseIPv4(v) === undefined) throw invalid(`${file}: dhcp.${k} '${v}' is not an IPv4 address; nothing was changed`);
    if (parseIPv4(rs)! > parseIPv4(re)!) throw invalid(`${file}: dhcp range ${value} ends before it starts; nothing was changed`);
    if (!dhcpEnabled) row("dhcp.range start/end", value, "not mapped", "DHCP is off");
    else if (!iface) row("dhcp.range start/end", value, "not mapped", "no interface of this host has ipaddr, so the pool is left as it is");
    else {
      patch.pool = `${rs}-${re}`;
      row(
        "dhcp.range start/end",
        value,
        "mapped",
        `pool: ${rs}-${re} (drover gives these to unknown machines while discovery is on; registered nodes always get their own address)`,
        ["pool"],
      );
    }
  }
  if (dhcp["range6 start"] !== undefined || dhcp["range6 end"] !== undefined)
    row("dhcp.range6 start/end", `${dhcp["range6 start"] ?? ""}-${dhcp["range6 end"] ?? ""}`, "not mapped", "drover's DHCP is IPv4 only");
  if (dhcp["systemd name"] !== undefined)
    row(
      "dhcp.systemd name",
      dhcp["systemd name"],
      "not mapped",
      `drover serve is the DHCP server: stop and disable ${dhcp["systemd name"]} (systemctl disable --now ${dhcp["systemd name"]}) before drover serves DHCP on the same network`,
    );

  // ---- TFTP and the iPXE map ----
  if (tftp.enabled !== undefined) {
    const t = bool(tftp.enabled, "tftp.enabled", file);
    row(
      "tftp.enabled",
      t,
      t ? "checked" : "not mapped",
      t ? "drover serve runs its own TFTP server by default" : "drover serve --no-tftp does this (a flag, fixed at start)",
    );
  }
  if (tftp.tftproot !== undefined)
    row("tftp.tftproot", tftp.tftproot, "not mapped", "drover's TFTP serves its embedded iPXE binaries (or --ipxe-dir DIR), not a directory tree");
  if (tftp["systemd name"] !== undefined)
    row("tftp.systemd name", tftp["systemd name"], "not mapped", `drover serve is the TFTP server (port 69): stop and disable ${tftp["systemd name"]} first`);
  if (tftp.ipxe !== undefined) {
    if (typeof tftp.ipxe !== "object" || tftp.ipxe === null || Array.isArray(tftp.ipxe))
      throw invalid(`${file}: tftp.ipxe must be a map of DHCP option 93 values to iPXE files, e.g. "00:00: undionly.kpxe"; nothing was changed`);
    const builds = new Map<string, string>();
    for (const [k, v] of Object.entries(tftp.ipxe as Obj)) {
      const key = `tftp.ipxe.${k}`;
      if (!/^(0x)?[0-9a-fA-F]{1,2}:?[0-9a-fA-F]{1,2}$/.test(k))
        throw invalid(`${file}: ${key}: '${k}' is not a DHCP option 93 architecture like 00:00 or 00:0B; nothing was changed`);
      const arch = Number.parseInt(k.replace(/^0x/, "").replace(":", ""), 16);
      const f = String(v ?? "");
      const name = ARCH_NAMES[arch] ?? `architecture ${arch}`;
      const emb = EMBEDDED[arch];
      const distro = !f.startsWith("/") || DISTRO_IPXE.some((r) => r.test(f));
      if (!emb) {
        row(key, f, "not mapped", `drover's DHCP names no TFTP boot file for ${name}`);
      } else if (distro) {
        const same =
          basename(f) === emb.file ||
          (emb.file === "snponly.efi" && /snponly/.test(basename(f))) ||
          (emb.file === "undionly.kpxe" && /undionly/.test(basename(f))) ||
          (emb.file === "ipxe-arm64.efi" && /arm64/.test(f));
        row(
          key,
          f,
          "checked",
          `${name}: drover serves its embedded ${emb.file} (iPXE from Debian's ipxe package, assets/ipxe/SOURCES.md)${same ? "" : `, not ${basename(f)}`}`,
        );
      } else {
        const prev = builds.get(emb.file);
        if (prev && prev !== f)
          row(key, f, "not mapped", `${name}: a site build, but ${prev} is named for the same drover file ${emb.file}; drover serves one ${emb.file}`);
        else {
          builds.set(emb.file, f);
          row(key, f, "not mapped", `${name}: a site build; drover serves it only from --ipxe-dir DIR under the name ${emb.file} (below)`);
        }
      }
    }
    if (builds.size) {
      const dir = `${o.dataDir}/ipxe-builds`;
      const cmds = [`mkdir -p ${dir}`, ...[...builds].map(([as, from]) => `cp ${from} ${dir}/${as}`)];
      const missing = ["undionly.kpxe", "snponly.efi", "ipxe.efi"].filter((n) => !builds.has(n));
      row(
        "tftp.ipxe",
        `${builds.size} site build${builds.size === 1 ? "" : "s"}`,
        "not mapped",
        `to serve them: ${cmds.join(" && ")}${missing.length ? ` (add ${missing.join(", ")} too: --ipxe-dir replaces the embedded set)` : ""}, then ` +
          `start drover serve with --ipxe-dir ${dir} (a flag, fixed at start)`,
      );
    }
  }

  // ---- NFS ----
  const nfsEnabled = bool(nfs.enabled, "nfs.enabled", file) ?? true;
  if (nfs.enabled !== undefined)
    row(
      "nfs.enabled",
      nfsEnabled,
      "mapped",
      nfsEnabled
        ? "drover configure nfs exports the paths below and those the nodes mount from this head node"
        : "the export paths below are not imported; drover configure nfs still exports what the nodes' fstab mounts from this head node",
    );
  const exports: NfsExport[] = [];
  const have = new Set(o.defaultProfileMounts ?? []);
  const server = ipaddr ?? "HEAD-NODE-ADDRESS";
  const addMount = (path: string, mntops: string | undefined, key: string) => {
    if (have.has(path)) return `; profile default already mounts ${path}`;
    have.add(path);
    if (!ipaddr)
      throw invalid(`${file}: ${key} asks nodes to mount ${path}, but warewulf.conf has no ipaddr to mount it from; add ipaddr; nothing was changed`);
    fstab.push({ spec: `${server}:${path}`, file: path, vfstype: "nfs", ...(mntops ? { mntops } : {}) });
    return `; nodes mount it: fstab of profile default gets ${server}:${path} ${path} nfs ${mntops ?? "defaults"}`;
  };
  const checkPath = (p: unknown, key: string): string => {
    const s = str(p);
    if (!s || !s.startsWith("/") || /[\s(),]/.test(s))
      throw invalid(`${file}: ${key} '${s ?? ""}' is not an absolute path without spaces; nothing was changed`);
    return s;
  };
  list(nfs.exports, "nfs.exports", file).forEach((p, i) => {
    const key = `nfs.exports[${i}]`;
    const path = checkPath(p, key);
    if (!nfsEnabled) return row(key, path, "not mapped", "nfs is not enabled");
    exports.push({ path, options: DEFAULT_EXPORT_OPTIONS });
    // Warewulf 4.3's plain export list was mounted on every node (wwctl upgrade nodes moves them to fstab).
    row(key, path, "mapped", `exported by drover configure nfs (${DEFAULT_EXPORT_OPTIONS})${addMount(path, undefined, key)}`);
  });
  list(nfs["export paths"], "nfs.export paths", file).forEach((e, i) => {
    const key = `nfs.export paths[${i}]`;
    if (typeof e !== "object" || e === null || Array.isArray(e))
      throw invalid(`${file}: ${key} must be a map (path, export options, mount options, mount); nothing was changed`);
    const x = e as Obj;
    const path = checkPath(x.path, `${key}.path`);
    const options = str(x["export options"]) ?? DEFAULT_EXPORT_OPTIONS;
    if (/[\s()]/.test(options)) throw invalid(`${file}: ${key}.export options '${options}' may not contain spaces or parentheses; nothing was changed`);
    if (!nfsEnabled) return row(key, path, "not mapped", "nfs is not enabled");
    exports.push({ path, options });
    const mount = bool(x.mount, `${key}.mount`, file);
    const mntops = str(x["mount options"]);
    row(
      key,
      `${path} (${options})`,
      "mapped",
      `exported by drover configure nfs with ${options}${
        mount
          ? addMount(path, mntops, key)
          : mntops
            ? `; mount options ${mntops} apply only with mount: true (Warewulf 4.6+ keeps mounts in nodes.conf's fstab resource)`
            : ""
      }`,
    );
  });
  if (nfsEnabled) headNode.nfsExports = exports;
  if (nfs["systemd name"] !== undefined)
    row(
      "nfs.systemd name",
      nfs["systemd name"],
      "not mapped",
      `drover configure nfs runs exportfs -ra; the NFS server stays yours: systemctl enable --now ${nfs["systemd name"]}`,
    );

  // ---- SSH ----
  if (ssh["key types"] !== undefined) {
    const types = list(ssh["key types"], "ssh.key types", file).map(String);
    const known = types.filter((t) => (SSH_KEY_TYPES as readonly string[]).includes(t));
    if (!known.length)
      row("ssh.key types", types.join(", "), "not mapped", `drover's ssh.authorized_keys overlay carries ${SSH_KEY_TYPES.join(", ")} keys only`);
    else {
      headNode.sshKeyTypes = known;
      const dropped = types.filter((t) => !known.includes(t));
      row(
        "ssh.key types",
        types.join(", "),
        "mapped",
        `drover configure ssh makes root's ${known[0]} key when root has none; node host keys are made per type at overlay build ` +
          `(ssh.host_keys)${dropped.length ? `; ${dropped.join(", ")} not carried by the ssh.authorized_keys overlay` : ""}`,
      );
    }
  }

  // ---- the rest ----
  for (const k of ["image mounts", "container mounts"]) {
    const m = list(c[k], k, file);
    if (c[k] !== undefined)
      row(
        k,
        m.map((x) => (x as Obj)?.source).join(", "),
        "not mapped",
        "drover image exec/shell bind only what --bind names: give --bind SRC[:DST[:ro]] per command",
      );
  }
  for (const [k, v] of Object.entries(paths))
    row(
      `paths.${k}`,
      v,
      "not mapped",
      k === "wwoverlaydir"
        ? `drover keeps site overlays in its data dir (${o.dataDir}/overlays): bring these in with 'drover node import /etc/warewulf/nodes.conf --overlays ${v}'`
        : `drover keeps its images, overlays and state in its data dir (${o.dataDir})`,
    );
  if (section(c, "wwclient", file).port !== undefined)
    row(
      "wwclient.port",
      section(c, "wwclient", file).port,
      "not mapped",
      "drover's node agent fetches from drover serve's HTTP port (privileged source ports while runtime overlays are secure)",
    );
  return { rows, patch, headNode, fstab };
}
