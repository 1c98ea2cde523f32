import { existsSync } from "node:fs";
import type { Conf } from "../domain/conf";
import { compressHostlist } from "../domain/hostlist";
import { resolveIn } from "../image/fspath";
import type { NodeInput } from "./build";
import { fstabOf, nodeView } from "./data";
import type { OverlayTree } from "./repo";
import { TEMPLATE_SUFFIX, WAREWULF_SUFFIX, syntaxError } from "./template";
import { wwSyntaxError } from "./warewulf";

/**
 * `overlay lint`: configurations that build fine but boot wrong. Each warning names what to do; warnings that
 * hit many nodes are reported once with the nodes as a hostlist.
 */
export interface LintWarning {
  message: string;
  /** The nodes affected (empty for overlay-level problems). */
  nodes: string[];
  /** A note (an overlay skipped for an image): printed, but `overlay lint` still exits 0. */
  level?: "note";
}

/** Files that must exist before the node's init starts, so they belong in the image or a system overlay. */
const EARLY = [
  /^etc\/fstab$/,
  /^etc\/tmpfiles\.d\//,
  /^usr\/lib\/tmpfiles\.d\//,
  /^etc\/systemd\/(system|network)\//,
  /^etc\/modprobe\.d\//,
  /^etc\/modules-load\.d\//,
  /^etc\/sysctl\.d\//,
  /^etc\/udev\/rules\.d\//,
  /^etc\/systemd\/system\.conf/,
  /^etc\/crypttab$/,
];

const strip = (p: string) => (p.endsWith(TEMPLATE_SUFFIX) ? p.slice(0, -TEMPLATE_SUFFIX.length) : p);

export interface LintInput {
  nodes: readonly NodeInput[];
  profiles: ReadonlyMap<string, Conf>;
  tree: (name: string) => OverlayTree | undefined;
  overlayNames: readonly string[];
  imageRoot: (image: string) => string | undefined;
}

export function lintOverlays(inp: LintInput): LintWarning[] {
  const byMsg = new Map<string, string[]>();
  const warn = (msg: string, node?: string) => {
    let l = byMsg.get(msg);
    if (!l) byMsg.set(msg, (l = []));
    if (node) l.push(node);
  };
  const trees = new Map<string, OverlayTree | undefined>();
  const tree = (n: string) => {
    if (!trees.has(n)) trees.set(n, inp.tree(n));
    return trees.get(n);
  };

  // Overlays named by profiles or nodes that do not exist.
  for (const [p, conf] of inp.profiles) {
    for (const [field, list] of [
      ["system", conf.systemOverlay],
      ["runtime", conf.runtimeOverlay],
    ] as const)
      for (const o of list ?? [])
        if (!o.startsWith("~") && !tree(o))
          warn(
            `profile ${p} lists ${field} overlay '${o}', which does not exist; create it (drover overlay create ${o}) or remove it (drover profile ` +
              `set ${p} --${field}-overlays …)`,
          );
  }
  const combos = new Map<string, string[]>();
  for (const n of inp.nodes) {
    const sys = n.conf.systemOverlay ?? [];
    const run = n.conf.runtimeOverlay ?? [];
    for (const o of [...sys, ...run])
      if (!tree(o))
        warn(
          `overlay '${o}' does not exist but is listed for the node; create it (drover overlay create ${o}) or remove it from the node or its profile`,
          n.name,
        );
    const k = `${sys.join(",")}|${run.join(",")}`;
    let l = combos.get(k);
    if (!l) combos.set(k, (l = []));
    l.push(n.name);

    // Network devices with an address but no netmask: the node would come up unreachable.
    for (const d of Object.values(nodeView(n.name, { networkDevices: n.conf.networkDevices, primaryNetwork: n.conf.primaryNetwork }).netdevs)) {
      if (d.ipaddr && d.prefix === undefined)
        warn(
          `network device ${d.name} has an address but no netmask; network overlays refuse to render it: drover node set NODE --netname ${d.name} --netmask 255.255.255.0`,
          n.name,
        );
    }
    // NFS mounts on an image without mount.nfs.
    let fstab: ReturnType<typeof fstabOf> = [];
    try {
      fstab = fstabOf(n.conf.resources);
    } catch (e) {
      warn(`the fstab resource is not valid: ${(e as Error).message}`, n.name);
    }
    const nfs = fstab.filter((m) => /^nfs4?$/.test(m.vfstype));
    if (nfs.length && n.conf.image) {
      const root = inp.imageRoot(n.conf.image);
      if (root && !["sbin/mount.nfs", "usr/sbin/mount.nfs", "sbin/mount.nfs4", "usr/sbin/mount.nfs4"].some((p) => existsSync(resolveIn(root, p, true))))
        warn(
          `fstab mounts NFS (${nfs.map((m) => m.file).join(", ")}) but image ${n.conf.image} has no mount.nfs; install nfs-utils (or nfs-common) in ` +
            `the image: drover image exec ${n.conf.image} -- dnf install -y nfs-utils`,
          n.name,
        );
    }
  }

  // Files needed before init that only a runtime overlay provides.
  for (const [k, nodes] of combos) {
    const [sys, run] = k.split("|").map((s) => (s ? s.split(",") : []));
    const inSystem = new Set<string>();
    for (const o of sys!) for (const e of tree(o)?.entries ?? []) inSystem.add(strip(e.path));
    for (const o of run!) {
      for (const e of tree(o)?.entries ?? []) {
        if (e.type === "dir") continue;
        const p = strip(e.path);
        if (EARLY.some((re) => re.test(p)) && !inSystem.has(p))
          for (const n of nodes)
            warn(
              `/${p} is only in runtime overlay '${o}', but it is needed before init starts (runtime overlays arrive after boot); move it to a system overlay or the image`,
              n,
            );
      }
    }
  }

  // Overlay contents: Warewulf templates and eta syntax errors.
  for (const name of inp.overlayNames) {
    const t = tree(name);
    for (const e of t?.entries ?? []) {
      if (e.type !== "file") continue;
      if (e.path.endsWith(WAREWULF_SUFFIX)) {
        const err = wwSyntaxError(e.path, new TextDecoder().decode(e.data));
        if (err) warn(`overlay ${name}: ${e.path}: ${err}`);
      } else if (e.path.endsWith(TEMPLATE_SUFFIX)) {
        const err = syntaxError(new TextDecoder().decode(e.data));
        if (err) warn(`overlay ${name}: ${e.path}: ${err.split("=====")[0]!.replace(/\s+/g, " ").trim()}`);
      }
    }
  }
  return [...byMsg].map(([message, nodes]) => ({ message, nodes: [...new Set(nodes)] }));
}

export function formatWarning(w: LintWarning): string {
  return w.nodes.length
    ? `${compressHostlist(w.nodes)}: ${w.message.replace("NODE", w.nodes.length === 1 ? w.nodes[0]! : compressHostlist(w.nodes))}`
    : w.message;
}
