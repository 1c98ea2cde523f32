import { DEFAULT_EXPORT_OPTIONS } from "../../config/warewulf-conf";
import { invalid } from "../../domain/errors";
import { findProgram, runProgram } from "../../runtime/head-files";
import { planExports } from "../../services/head-node";
import type { CliContext, CommandModule } from "../context";
import { type ConfigureOptions, addConfigureOptions, headNodeSettings, isThisHost, report, rootOf, stepOptions } from "./common";

export const EXPORTS_FILE = "/etc/exports.d/drover.exports";

/** `drover configure nfs`: the exports file, then `exportfs -ra` when it changed. */
export function configureNfs(ctx: CliContext, o: ConfigureOptions): void {
  const svc = ctx.services();
  const hn = headNodeSettings(svc);
  const root = rootOf(ctx, o);
  const nodes = svc.nodes.listNodes().map((n) => ({ name: n.name, conf: n.conf }));
  const plan = planExports({
    nodes,
    exports: hn.nfsExports ?? [],
    clients: hn.nfsClients ?? [],
    isThisHost: isThisHost(svc, hn),
    defaultOptions: DEFAULT_EXPORT_OPTIONS,
  });
  for (const n of plan.notes) ctx.io.err(`note: ${n}\n`);
  const existing = root.read(EXPORTS_FILE);
  if (plan.text === undefined && existing === undefined) {
    ctx.io.out(
      `${root.path(EXPORTS_FILE)}: no change (nothing to export: no node mounts NFS from this head node and no export paths were imported with 'drover settings import')\n`,
    );
    return;
  }
  // Nothing left to export: keep the file with its header only, so exportfs -ra withdraws the old exports.
  const text =
    plan.text ??
    (existing && existing.startsWith("# drover:")
      ? existing
          .split("\n")
          .filter((l) => l.startsWith("#"))
          .join("\n") + "\n"
      : undefined);
  if (text === undefined) throw invalid(`${root.path(EXPORTS_FILE)} was not written by drover; move it away, then run again`);
  const c = root.plan(EXPORTS_FILE, text);
  const what = plan.exports.length
    ? `${plan.exports.length} export${plan.exports.length === 1 ? "" : "s"}: ${plan.exports.map((e) => e.path).join(", ")}`
    : "no exports";
  const wrote = o.dryRun ? false : root.apply(c);
  report(ctx, c, o.dryRun, wrote, what);
  if (o.dryRun || !wrote) return;
  if (!root.isReal) {
    ctx.io.out(`exportfs -ra: not run (the file was written under --root ${root.root}, not in this host's /etc)\n`);
    return;
  }
  const exportfs = findProgram("exportfs", ctx.io.env);
  if (!exportfs) {
    ctx.io.out(
      "exportfs -ra: not run: exportfs is not installed; install the NFS server (nfs-utils or nfs-kernel-server), start it, then run 'exportfs -ra'\n",
    );
    return;
  }
  const r = runProgram([exportfs, "-ra"]);
  if (!r.ok) throw invalid(`exportfs -ra failed: ${r.output || "no output"}; the exports file is written: fix it (or the NFS server) and run 'exportfs -ra'`);
  ctx.io.out(`exportfs -ra: done${r.output ? ` (${r.output})` : ""}\n`);
}

const nfs: CommandModule = (parent, ctx) => {
  addConfigureOptions(
    parent.command("nfs").description(`export what the nodes mount from this head node: writes ${EXPORTS_FILE}, then runs exportfs -ra when it changed`),
  )
    .addHelpText(
      "after",
      `
Exports every path a node's fstab resource mounts over NFS from this head node (its address or host name,
or 'warewulf'), with ${DEFAULT_EXPORT_OPTIONS}, and every export path imported from warewulf.conf with
its own options, to the subnets of the nodes' network devices. Only drover's own file is written; /etc/exports
is left alone. Running it again changes nothing unless the nodes did.
Examples:
  drover profile edit default        add  resources: {fstab: [{spec: "10.0.0.1:/home", file: /home, vfstype: nfs}]}
  drover configure nfs --dry-run     the diff, nothing written
  drover configure nfs`,
    )
    .action((_o, cmd) => configureNfs(ctx, stepOptions(cmd)));
};
export default nfs;
