import { CONF_SCHEMA, type Conf, type FieldDef, type Schema, pruneConf } from "./conf";
import { invalid } from "./errors";
import { INTERFACE_NAME, LIST_ENTRY, NETWORK_NAME, isTemplateName } from "./names";
import { isIPv6, netmaskToPrefix, normalizeMac, parseAddressWithPrefix, parseIPv4 } from "./net";

/**
 * Checks and normalises one configuration document (a node's or a profile's own fields, before the cascade):
 * types per the schema, MAC addresses to lower-case colon form, `10.0.0.2/24` split into address + netmask,
 * netmasks contiguous, BMC types known. All problems are collected so an admin fixes them in one go.
 * Throws `invalid` listing every problem; returns a new, pruned document.
 */
export function normalizeConf(input: unknown, kind: "node" | "profile", name: string): Conf {
  const problems: string[] = [];
  const where = `${kind} '${name}'`;
  if (input === null || input === undefined) return {};
  if (typeof input !== "object" || Array.isArray(input)) throw invalid(`${where}: expected a map of fields`);
  const conf = checkStruct(CONF_SCHEMA.fields, input as Record<string, unknown>, "", problems, kind) as Conf;

  for (const p of conf.profiles ?? []) {
    if (!LIST_ENTRY.test(p)) problems.push(`profile name '${p}' has characters other than letters, digits, '_', '.', '-'`);
  }
  for (const [net, dev] of Object.entries(conf.networkDevices ?? {})) {
    if (!NETWORK_NAME.test(net)) problems.push(`network name '${net}' has characters other than letters, digits, '_', '.', '-'`);
    try {
      if (dev.hwaddr !== undefined) dev.hwaddr = normalizeMac(dev.hwaddr);
    } catch (e) {
      problems.push(`network '${net}': ${(e as Error).message}`);
    }
    if (dev.ipaddr !== undefined) {
      try {
        const { ip, netmask } = parseAddressWithPrefix(dev.ipaddr);
        dev.ipaddr = ip;
        if (netmask) {
          if (dev.netmask !== undefined && dev.netmask !== netmask) {
            problems.push(`network '${net}': address ${ip}/${netmaskToPrefix(netmask)} disagrees with netmask ${dev.netmask}`);
          }
          dev.netmask = netmask;
        }
      } catch (e) {
        problems.push(`network '${net}' ipaddr: ${(e as Error).message}`);
      }
    }
    checkMask(dev.netmask, `network '${net}' netmask`, problems);
    checkIp(dev.gateway, `network '${net}' gateway`, problems);
    if (dev.ipaddr6 !== undefined && !isIPv6(dev.ipaddr6.split("/")[0]!)) problems.push(`network '${net}': '${dev.ipaddr6}' is not an IPv6 address`);
    if (dev.gateway6 !== undefined && !isIPv6(dev.gateway6)) problems.push(`network '${net}': '${dev.gateway6}' is not an IPv6 gateway`);
    if (dev.prefixlen6 !== undefined && !/^\d{1,3}$/.test(dev.prefixlen6))
      problems.push(`network '${net}': prefixlen6 '${dev.prefixlen6}' is not a number 0-128`);
    if (dev.mtu !== undefined && (dev.mtu < 68 || dev.mtu > 65535)) problems.push(`network '${net}': MTU ${dev.mtu} is outside 68-65535`);
    if (dev.device !== undefined && !INTERFACE_NAME.test(dev.device))
      problems.push(`network '${net}': '${dev.device}' is not an interface name (at most 15 characters, no spaces or '/')`);
  }
  const ipmi = conf.ipmi;
  if (ipmi) {
    if (ipmi.ipaddr !== undefined) {
      try {
        const { ip, netmask } = parseAddressWithPrefix(ipmi.ipaddr);
        ipmi.ipaddr = ip;
        if (netmask) ipmi.netmask ??= netmask;
      } catch (e) {
        problems.push(`ipmi ipaddr: ${(e as Error).message}`);
      }
    }
    checkMask(ipmi.netmask, "ipmi netmask", problems);
    checkIp(ipmi.gateway, "ipmi gateway", problems);
    if (ipmi.port !== undefined && (ipmi.port < 1 || ipmi.port > 65535)) problems.push(`ipmi port ${ipmi.port} is outside 1-65535`);
    if (ipmi.type !== undefined && !["ipmi", "redfish", "none"].includes(ipmi.type)) problems.push(`BMC type '${ipmi.type}' is not one of ipmi, redfish, none`);
  }
  if (conf.root !== undefined && !/^(initramfs|tmpfs|ramfs|\/dev\/\S+|(UUID|LABEL|PARTUUID)=\S+)$/.test(conf.root)) {
    problems.push(`root '${conf.root}' is not initramfs, tmpfs, ramfs or a device (/dev/…, UUID=…, LABEL=…)`);
  }
  if (conf.init !== undefined && !conf.init.startsWith("/")) problems.push(`init '${conf.init}' must be an absolute path, e.g. /sbin/init`);
  if (conf.ipxe !== undefined && !isTemplateName(conf.ipxe)) {
    problems.push(
      `iPXE template '${conf.ipxe.slice(0, 80)}' is not a template name: 1-64 letters, digits, '_', '.', '-', not starting with '.' (a site template ` +
        `is <name>.ipxe in the iPXE template directory)`,
    );
  }
  for (const o of [...(conf.runtimeOverlay ?? []), ...(conf.systemOverlay ?? [])]) {
    if (!LIST_ENTRY.test(o)) problems.push(`overlay name '${o}' has characters other than letters, digits, '_', '.', '-'`);
  }
  if (problems.length) throw invalid(`${where} is not valid: ${problems.join("; ")}`, problems);
  return pruneConf(conf);
}

export { isTemplateName };

function checkIp(v: string | undefined, what: string, problems: string[]) {
  if (v !== undefined && parseIPv4(v) === undefined) problems.push(`${what}: '${v}' is not an IPv4 address`);
}
function checkMask(v: string | undefined, what: string, problems: string[]) {
  if (v === undefined) return;
  try {
    netmaskToPrefix(v);
  } catch (e) {
    problems.push(`${what}: ${(e as Error).message}`);
  }
}

function checkStruct(
  fields: Record<string, FieldDef>,
  input: Record<string, unknown>,
  path: string,
  problems: string[],
  kind: "node" | "profile",
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    const def = fields[k];
    const p = path ? `${path}.${k}` : k;
    if (!def) {
      problems.push(`unknown field '${p}'`);
      continue;
    }
    if (def.nodeOnly && kind === "profile") {
      problems.push(`'${def.yaml}' is a node-only field and cannot be set on a profile`);
      continue;
    }
    if (v === undefined || v === null) continue;
    const c = checkValue(def.schema, v, p, problems, kind);
    if (c !== undefined) out[k] = c;
  }
  return out;
}

function checkValue(schema: Schema, v: unknown, path: string, problems: string[], kind: "node" | "profile"): unknown {
  switch (schema.t) {
    case "scalar":
      if (schema.type === "string") {
        if (typeof v === "number" || typeof v === "boolean") return String(v);
        if (typeof v !== "string") return void problems.push(`'${path}' must be a string`);
        if (v.includes("\0")) return void problems.push(`'${path}' contains a NUL byte`);
        return v;
      }
      if (schema.type === "bool") {
        if (typeof v === "boolean") return v;
        if (v === "true" || v === "yes" || v === "1") return true;
        if (v === "false" || v === "no" || v === "0") return false;
        return void problems.push(`'${path}' must be true or false, not '${String(v)}'`);
      }
      {
        const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
        if (typeof n !== "number" || !Number.isInteger(n)) return void problems.push(`'${path}' must be a whole number, not '${String(v)}'`);
        return n;
      }
    case "list": {
      const arr =
        typeof v === "string"
          ? v
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : v;
      if (!Array.isArray(arr) || !arr.every((x) => typeof x === "string" || typeof x === "number")) {
        return void problems.push(`'${path}' must be a list of strings`);
      }
      return arr.map(String);
    }
    case "opaque":
      return structuredClone(v);
    case "map": {
      if (typeof v !== "object" || Array.isArray(v)) return void problems.push(`'${path}' must be a map`);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as object)) {
        if (k === "" || k.includes("\0")) {
          problems.push(`'${path}' has an empty or invalid key`);
          continue;
        }
        if (x === undefined || x === null) continue;
        const c = checkValue(schema.of, x, `${path}[${k}]`, problems, kind);
        if (c !== undefined) out[k] = c;
      }
      return out;
    }
    case "struct":
      if (typeof v !== "object" || Array.isArray(v)) return void problems.push(`'${path}' must be a map`);
      return checkStruct(schema.fields, v as Record<string, unknown>, path, problems, kind);
  }
}

/**
 * Checks that need the resolved node (after the cascade): an IPv4 address needs a netmask from somewhere
 * (Warewulf silently renders a config with no address), and the primary network must exist.
 */
export function checkResolvedNode(name: string, conf: Conf): string[] {
  const problems: string[] = [];
  for (const [net, dev] of Object.entries(conf.networkDevices ?? {})) {
    if (dev.ipaddr && !dev.netmask) {
      problems.push(
        `node '${name}': network '${net}' has address ${dev.ipaddr} but no netmask; give --netmask 255.255.255.0 or --ipaddr ${dev.ipaddr}/24 (or set the netmask on a profile)`,
      );
    }
  }
  if (conf.primaryNetwork && !conf.networkDevices?.[conf.primaryNetwork]) {
    problems.push(
      `node '${name}': primary network '${conf.primaryNetwork}' is not one of its network devices (${Object.keys(conf.networkDevices ?? {}).join(", ") || "none"})`,
    );
  }
  return problems;
}
