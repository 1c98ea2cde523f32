import type { Conf } from "../domain/conf";
import { netmaskToPrefix, networkOf, parseIPv4 } from "../domain/net";
import { fstabOf, primaryName } from "../overlay/data";

/**
 * What `drover configure` writes on the head node, computed from the nodes (pure: the CLI reads and writes
 * the files, src/runtime/head-files.ts). Warewulf renders these from its host overlay (etc/exports.ww,
 * etc/hosts.ww); drover writes only its own file or block and leaves the rest of the head node's files alone.
 */

export interface HeadNodeNode {
  name: string;
  /** The node after the cascade. */
  conf: Conf;
}

export interface ExportsInput {
  nodes: readonly HeadNodeNode[];
  /** Export paths saved by `drover settings import` (warewulf.conf nfs: export paths). */
  exports?: readonly { path: string; options: string }[];
  /** Extra client networks ("10.0.0.0/255.255.252.0"), e.g. warewulf.conf's network/netmask. */
  clients?: readonly string[];
  /** Whether a mount source's host is this head node (its address, host name, `warewulf`). */
  isThisHost: (host: string) => boolean;
  defaultOptions: string;
}

export interface ExportsPlan {
  /** The file's text; undefined when there is nothing to export. */
  text?: string;
  /** path → options, in file order. */
  exports: { path: string; options: string; clients: string[]; why: string }[];
  notes: string[];
}

export const EXPORTS_HEADER =
  "# drover: NFS exports for the nodes, written by 'drover configure nfs' (edits here are overwritten).\n# Sources: the nodes' fstab resources (NFS " +
  "mounts from this head node) and the export paths of 'drover settings import'.\n";

/**
 * /etc/exports.d/drover.exports: every imported export path with its options, and every path a node mounts
 * over NFS from this head node (its fstab resource) with the default options, each exported to the subnets
 * of the nodes' network devices (and the imported network), as Warewulf exports to its network/netmask.
 */
export function planExports(i: ExportsInput): ExportsPlan {
  const notes: string[] = [];
  const nets = new Set<string>(i.clients ?? []);
  const mounts = new Map<string, string[]>();
  for (const n of i.nodes) {
    for (const d of Object.values(n.conf.networkDevices ?? {})) {
      if (d.ipaddr && d.netmask && parseIPv4(d.ipaddr) !== undefined && parseIPv4(d.netmask) !== undefined)
        nets.add(`${networkOf(d.ipaddr, d.netmask)}/${d.netmask}`);
    }
    let fstab: ReturnType<typeof fstabOf>;
    try {
      fstab = fstabOf(n.conf.resources);
    } catch (e) {
      notes.push(`${n.name}: its fstab resource is skipped: ${(e as Error).message}`);
      continue;
    }
    for (const m of fstab) {
      if (!/^nfs4?$/.test(m.vfstype)) continue;
      const at = m.spec.lastIndexOf(":/");
      if (at <= 0) continue;
      const host = m.spec.slice(0, at).replace(/^\[|\]$/g, "");
      const path = m.spec.slice(at + 1);
      if (!i.isThisHost(host)) {
        const k = `${m.spec} (from another server)`;
        if (!mounts.has(k)) mounts.set(k, []);
        mounts.get(k)!.push(n.name);
        continue;
      }
      if (!mounts.has(path)) mounts.set(path, []);
      mounts.get(path)!.push(n.name);
    }
  }
  const clients = [...nets].sort(byNetwork);
  const out: ExportsPlan["exports"] = [];
  const seen = new Set<string>();
  for (const e of i.exports ?? []) {
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    const users = mounts.get(e.path);
    out.push({ path: e.path, options: e.options, clients, why: `imported export path${users ? `; mounted by ${summary(users)}` : ""}` });
  }
  for (const [path, users] of [...mounts].sort(([a], [b]) => a.localeCompare(b))) {
    if (path.endsWith("(from another server)")) {
      notes.push(
        `${summary(users)} mount${users.length === 1 ? "s" : ""} ${path.replace(" (from another server)", "")} from another server: not exported here`,
      );
      continue;
    }
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ path, options: i.defaultOptions, clients, why: `mounted by ${summary(users)} (fstab resource)` });
  }
  if (!out.length) return { exports: [], notes };
  if (!clients.length) {
    notes.push(
      "no node has an IPv4 address and netmask, so there is no subnet to export to: give the nodes addresses (drover node set NODE --ipaddr A " +
        "--netmask M) or import warewulf.conf's network",
    );
    return { exports: [], notes };
  }
  const lines = out.map((e) => `${e.path} ${e.clients.map((c) => `${cidr(c)}(${e.options})`).join(" ")}`);
  return { text: `${EXPORTS_HEADER}${lines.join("\n")}\n`, exports: out, notes };
}

const cidr = (c: string) => {
  const [net, mask] = c.split("/");
  return mask && mask.includes(".") ? `${net}/${netmaskToPrefix(mask)}` : c;
};
const byNetwork = (a: string, b: string) => (parseIPv4(a.split("/")[0]!) ?? 0) - (parseIPv4(b.split("/")[0]!) ?? 0) || a.localeCompare(b);
const summary = (names: readonly string[]) => (names.length <= 3 ? names.join(", ") : `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`);

export const HOSTS_BEGIN = "# BEGIN drover";
export const HOSTS_END = "# END drover";

/**
 * The lines of the head node's /etc/hosts block: the same names the hosts overlay gives the nodes (the
 * primary device's address as `NAME NAME-NETNAME`, other devices as `NAME-NETNAME`), nodes in name order.
 */
export function hostsLines(nodes: readonly HeadNodeNode[]): string[] {
  const out: string[] = [];
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))) {
    const primary = primaryName(n.conf);
    for (const [dev, d] of Object.entries(n.conf.networkDevices ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const names = dev === primary ? `${n.name} ${n.name}-${dev}` : `${n.name}-${dev}`;
      if (d.ipaddr) out.push(`${d.ipaddr}  ${names}`);
      if (d.ipaddr6) out.push(`${d.ipaddr6}  ${names}`);
    }
  }
  return out;
}

/**
 * /etc/hosts with drover's block replaced (or appended once): everything outside the markers is kept byte
 * for byte. Throws when the markers are unbalanced, rather than guess which lines are drover's.
 */
export function mergeHostsBlock(existing: string, lines: readonly string[]): string {
  const block =
    `${HOSTS_BEGIN} (written by 'drover configure hosts': the nodes' addresses; edits inside this block are overwritten)\n` +
    `${lines.map((l) => `${l}\n`).join("")}${HOSTS_END}\n`;
  const all = existing.split("\n");
  const begins = all.flatMap((l, i) => (l.startsWith(HOSTS_BEGIN) ? [i] : []));
  const ends = all.flatMap((l, i) => (l.startsWith(HOSTS_END) ? [i] : []));
  if (begins.length > 1 || ends.length > 1 || begins.length !== ends.length || (begins.length && ends[0]! < begins[0]!))
    throw new Error(
      `the file has ${begins.length} '${HOSTS_BEGIN}' and ${ends.length} '${HOSTS_END}' lines; fix it so there is one block (or none), then run again`,
    );
  if (begins.length) {
    const before = all.slice(0, begins[0]).join("\n");
    const after = all.slice(ends[0]! + 1).join("\n");
    return `${before ? `${before}\n` : ""}${block}${after}`;
  }
  if (existing === "") return block;
  const sep = existing.endsWith("\n\n") ? "" : existing.endsWith("\n") ? "\n" : "\n\n";
  return `${existing}${sep}${block}`;
}
