import { type Command, Option } from "commander";
import type { Conf } from "../domain/conf";
import { invalid } from "../domain/errors";
import type { ConfPatch } from "../domain/patch";

/**
 * The field flags shared by `node add|set|unset` and `profile add|set|unset`, with Warewulf's names.
 * One table drives the options, their help, and the translation of parsed options into a ConfPatch.
 * Network flags apply to the device named by --netname (default `default`).
 */
type Kind = "string" | "list" | "args" | "bool" | "int";

interface FieldFlag {
  /** Commander's flags; the parsed value is under the long flag's camelCase name (`--runtime-overlays` → runtimeOverlays). */
  flags: string;
  help: string;
  kind: Kind;
  /** Path into the Conf; `$net` is replaced by --netname. */
  path: string[];
  nodeOnly?: boolean;
  aliases?: string[];
}

const N = ["networkDevices", "$net"];
export const FIELD_FLAGS: FieldFlag[] = [
  { flags: "-P, --profile <names>", help: "profiles, comma-separated, applied in order (~name removes one)", kind: "list", path: ["profiles"] },
  { flags: "--comment <text>", help: "free-form comment (not inherited)", kind: "string", path: ["comment"] },
  { flags: "--cluster <name>", help: "cluster name", kind: "string", path: ["cluster"] },
  { flags: "--image <name>", help: "image the node boots (alias: --container)", kind: "string", path: ["image"], aliases: ["--container <name>"] },
  { flags: "--ipxe <template>", help: "iPXE template name", kind: "string", path: ["ipxe"] },
  { flags: "-R, --runtime-overlays <names>", help: "runtime overlays, comma-separated", kind: "list", path: ["runtimeOverlay"] },
  { flags: "-O, --system-overlays <names>", help: "system overlays, comma-separated", kind: "list", path: ["systemOverlay"] },
  { flags: "--init <path>", help: "init to exec after provisioning (default /sbin/init)", kind: "string", path: ["init"] },
  { flags: "--root <fs>", help: "root filesystem: initramfs, tmpfs, ramfs or a device", kind: "string", path: ["root"] },
  { flags: "--primarynet <netname>", help: "network device used for provisioning", kind: "string", path: ["primaryNetwork"] },
  { flags: "--kernelversion <version>", help: "kernel version in the image to boot (default: highest)", kind: "string", path: ["kernel", "version"] },
  // Kernel arguments contain commas (console=ttyS0,115200n8, ip=…): they are separated by spaces, as on the
  // kernel command line, and/or the flag is repeated.
  {
    flags: "-A, --kernelargs <args>",
    help: 'kernel arguments, space-separated as on the kernel command line, or the flag repeated (commas are kept: "console=ttyS0,115200n8")',
    kind: "args",
    path: ["kernel", "args"],
  },
  { flags: "--discoverable [bool]", help: "bind the next unknown MAC that boots to this node", kind: "bool", path: ["discoverable"], nodeOnly: true },
  { flags: "--asset <key>", help: "asset key: must match the SMBIOS asset tag the node sends", kind: "string", path: ["assetKey"], nodeOnly: true },
  { flags: "--ipmiuser <user>", help: "BMC user name", kind: "string", path: ["ipmi", "username"] },
  { flags: "--ipmipass <password>", help: "BMC password (stored, never shown unless --show-secrets)", kind: "string", path: ["ipmi", "password"] },
  { flags: "--ipmiaddr <ip>", help: "BMC address (a hostlist increments it per node)", kind: "string", path: ["ipmi", "ipaddr"] },
  { flags: "--ipmigateway <ip>", help: "BMC gateway", kind: "string", path: ["ipmi", "gateway"] },
  { flags: "--ipminetmask <mask>", help: "BMC netmask", kind: "string", path: ["ipmi", "netmask"] },
  { flags: "--ipmiport <port>", help: "BMC port (IPMI default 623)", kind: "int", path: ["ipmi", "port"] },
  { flags: "--ipmiinterface <if>", help: "ipmitool interface (default lanplus)", kind: "string", path: ["ipmi", "interface"] },
  { flags: "--ipmiescapechar <c>", help: "serial-over-LAN escape character (default ~)", kind: "string", path: ["ipmi", "escapechar"] },
  { flags: "--ipmiwrite [bool]", help: "write the BMC network settings at boot", kind: "bool", path: ["ipmi", "write"] },
  { flags: "--ipmitemplate <name>", help: "ipmitool command template", kind: "string", path: ["ipmi", "template"] },
  { flags: "--bmctype <type>", help: "BMC protocol: ipmi, redfish or none", kind: "string", path: ["ipmi", "type"] },
  { flags: "--bmcinsecure [bool]", help: "accept the BMC's self-signed TLS certificate (Redfish)", kind: "bool", path: ["ipmi", "insecure"] },
  { flags: "--type <type>", help: "network device type (ethernet, infiniband …)", kind: "string", path: [...N, "type"] },
  { flags: "--onboot [bool]", help: "bring the network device up at boot", kind: "bool", path: [...N, "onboot"] },
  { flags: "-N, --netdev <device>", help: "device name on the node, e.g. eth0", kind: "string", path: [...N, "device"] },
  { flags: "-H, --hwaddr <mac>", help: "MAC address", kind: "string", path: [...N, "hwaddr"] },
  { flags: "-I, --ipaddr <ip[/prefix]>", help: "IPv4 address, optionally with /prefix (a hostlist increments it)", kind: "string", path: [...N, "ipaddr"] },
  { flags: "-M, --netmask <mask>", help: "IPv4 netmask", kind: "string", path: [...N, "netmask"] },
  { flags: "-G, --gateway <ip>", help: "IPv4 gateway", kind: "string", path: [...N, "gateway"] },
  { flags: "--ipaddr6 <ip6>", help: "IPv6 address", kind: "string", path: [...N, "ipaddr6"] },
  { flags: "--prefixlen6 <len>", help: "IPv6 prefix length", kind: "string", path: [...N, "prefixlen6"] },
  { flags: "--gateway6 <ip6>", help: "IPv6 gateway", kind: "string", path: [...N, "gateway6"] },
  { flags: "--mtu <mtu>", help: "MTU", kind: "int", path: [...N, "mtu"] },
];

/** Option parser for a repeatable, comma-separated option: `--x a,b --x c` → ["a", "b", "c"]. */
export const collect = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

/** --allow-missing-image, for the commands that write nodes' and profiles' image names (add, set, edit). */
export const allowMissingImage = () => new Option("--allow-missing-image", "accept an image name that is not imported yet");

/** The field flags a scope takes: profiles have no node-only ones. */
const fieldsFor = (scope: "node" | "profile") => FIELD_FLAGS.filter((f) => !(f.nodeOnly && scope === "profile"));

/** A field flag's long form, e.g. `--ipaddr` for `-I, --ipaddr <ip[/prefix]>`. */
const longFlag = (f: FieldFlag) => f.flags.split(/[ ,]+/).find((s) => s.startsWith("--"))!;

/** Where commander puts a field flag's parsed value: the camelCase of its long flag. */
const attrOf = (f: FieldFlag) => new Option(f.flags).attributeName();

/** An option whose parsed value lands under the field's attribute, whatever its flags (an alias, unset's). */
function fieldOption(flags: string, help: string, f: FieldFlag): Option {
  const o = new Option(flags, help);
  const attr = attrOf(f);
  o.attributeName = () => attr;
  return o;
}

/** The tag and network-device flags after the field flags, in help order; `unset` takes the deleting ones. */
const TAG_FLAGS: { flags: string; help: string; unset?: true }[] = [
  { flags: "--tagadd <key=value>", help: "add tags (repeatable or comma-separated)" },
  { flags: "--tagdel <key>", help: "delete tags (repeatable or comma-separated)", unset: true },
  { flags: "--nettagadd <key=value>", help: "add tags to the --netname network device" },
  { flags: "--nettagdel <key>", help: "delete tags from the --netname network device", unset: true },
  { flags: "--ipmitagadd <key=value>", help: "add BMC tags" },
  { flags: "--ipmitagdel <key>", help: "delete BMC tags" },
  { flags: "--netdel <netname>", help: "delete a network device (repeatable)", unset: true },
];

/** --netname and the tag flags, on `add`/`set` (all) or `unset` (the deleting ones). */
function addTagOptions(cmd: Command, forUnset: boolean) {
  cmd.option("--netname <name>", "network the network flags apply to", "default");
  for (const t of TAG_FLAGS) if (t.unset || !forUnset) cmd.option(t.flags, t.help, collect);
}

/**
 * The verb `node|profile add|set|unset`, with its arguments and options: add takes `<names...>`; set and unset take
 * `[patterns...]` and --all; set also takes -y (wwctl's); then the field flags (unset's as booleans).
 * The command file adds its help text and action.
 */
export function fieldCommand(parent: Command, verb: "add" | "set" | "unset", scope: "node" | "profile", description: string, names: string): Command {
  if (verb === "add") return addFieldOptions(parent.command("add").aliases(["new", "create"]).description(description).argument("<names...>", names), scope);
  const cmd = parent.command(verb).description(description).argument("[patterns...]", names).option("-a, --all", `change every ${scope}`);
  if (verb === "unset") return addUnsetOptions(cmd, scope);
  return addFieldOptions(cmd.option("-y, --yes", "do not ask for confirmation (accepted for wwctl compatibility)"), scope);
}

/** Adds every field flag (and the tag/net helpers) to a `add` or `set` command. */
function addFieldOptions(cmd: Command, scope: "node" | "profile"): Command {
  for (const f of fieldsFor(scope)) {
    const o = fieldOption(f.flags, f.help, f);
    if (f.kind === "args") o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(o);
    for (const a of f.aliases ?? []) cmd.addOption(fieldOption(a, `alias of ${f.flags.split(" ")[0]}`, f).hideHelp());
  }
  addTagOptions(cmd, false);
  cmd.addOption(allowMissingImage());
  return cmd;
}

/** Adds the field names as boolean flags to an `unset` command. */
function addUnsetOptions(cmd: Command, scope: "node" | "profile"): Command {
  for (const f of fieldsFor(scope)) cmd.addOption(fieldOption(longFlag(f), `unset: ${f.help}`, f));
  addTagOptions(cmd, true);
  return cmd;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown) {
  let cur = obj;
  for (const k of path.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
  cur[path[path.length - 1]!] = value;
}

function parseTags(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw invalid(`${flag} takes key=value, not '${kv}'`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function parseBool(v: unknown, flag: string): boolean {
  if (v === true || v === undefined) return true;
  const s = String(v).toLowerCase();
  if (["true", "yes", "1", "on"].includes(s)) return true;
  if (["false", "no", "0", "off"].includes(s)) return false;
  throw invalid(`${flag} takes true or false, not '${v}'`);
}

/** Values that mean "clear this field" on `set`, as in Warewulf. */
const UNSET_WORDS = new Set(["UNDEF", "UNSET", "DELETE"]);

/** Translates parsed options of `add`/`set` into a patch. */
export function patchFromOptions(opts: Record<string, unknown>, scope: "node" | "profile"): ConfPatch {
  const net = String(opts.netname ?? "default");
  const set: Record<string, unknown> = {};
  const unset: string[][] = [];
  for (const f of fieldsFor(scope)) {
    const v = opts[attrOf(f)];
    if (v === undefined) continue;
    const path = f.path.map((p) => (p === "$net" ? net : p));
    const flag = longFlag(f);
    if ((typeof v === "string" && UNSET_WORDS.has(v)) || (Array.isArray(v) && v.length === 1 && UNSET_WORDS.has(v[0]))) {
      unset.push(path);
      continue;
    }
    switch (f.kind) {
      case "string":
        setPath(set, path, String(v));
        break;
      case "list":
        setPath(set, path, collect(String(v)));
        break;
      case "args":
        setPath(set, path, (Array.isArray(v) ? v : [v]).flatMap((a) => String(a).split(/\s+/)).filter(Boolean));
        break;
      case "bool":
        setPath(set, path, parseBool(v, flag));
        break;
      case "int": {
        if (!/^\d+$/.test(String(v))) throw invalid(`${flag} takes a whole number, not '${v}'`);
        setPath(set, path, Number(v));
        break;
      }
    }
  }
  const tags = parseTags(opts.tagadd as string[], "--tagadd");
  if (Object.keys(tags).length) set.tags = tags;
  const ntags = parseTags(opts.nettagadd as string[], "--nettagadd");
  if (Object.keys(ntags).length) setPath(set, ["networkDevices", net, "tags"], ntags);
  const itags = parseTags(opts.ipmitagadd as string[], "--ipmitagadd");
  if (Object.keys(itags).length) setPath(set, ["ipmi", "tags"], itags);
  for (const k of (opts.tagdel as string[]) ?? []) unset.push(["tags", k]);
  for (const k of (opts.nettagdel as string[]) ?? []) unset.push(["networkDevices", net, "tags", k]);
  for (const k of (opts.ipmitagdel as string[]) ?? []) unset.push(["ipmi", "tags", k]);
  for (const n of (opts.netdel as string[]) ?? []) unset.push(["networkDevices", n]);
  return { set: set as Conf, unset };
}

/** Translates parsed options of `unset` into a patch. */
export function unsetFromOptions(opts: Record<string, unknown>, scope: "node" | "profile"): ConfPatch {
  const net = String(opts.netname ?? "default");
  const unset: string[][] = [];
  for (const f of fieldsFor(scope)) {
    if (opts[attrOf(f)]) unset.push(f.path.map((p) => (p === "$net" ? net : p)));
  }
  for (const k of (opts.tagdel as string[]) ?? []) unset.push(["tags", k]);
  for (const k of (opts.nettagdel as string[]) ?? []) unset.push(["networkDevices", net, "tags", k]);
  for (const n of (opts.netdel as string[]) ?? []) unset.push(["networkDevices", n]);
  if (unset.length === 0) throw invalid("name at least one field to unset, e.g. --comment or --kernelargs (see --help)");
  return { unset };
}
