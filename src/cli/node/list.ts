import type { ResolvedNode } from "../../services/nodes";
import type { CliContext, CommandModule } from "../context";
import { formatOf, emit, table } from "../output";
import { renderAll, resolvedDocs } from "../render";

const list: CommandModule = (parent, ctx) => {
  parent
    .command("list")
    .alias("ls")
    .description("list nodes; -a shows every field and the profile it came from")
    .argument("[patterns...]", "node names, hostlists or globs (default: all)")
    .option("-a, --all", "every field with its SOURCE: a profile, -- for the node itself, SUPERSEDED when the node overrides a profile")
    .option("-n, --net", "network devices")
    .option("-i, --ipmi", "BMC settings")
    .option("-l, --long", "image, kernel and overlays")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .option("--show-secrets", "show BMC passwords and asset keys")
    .action(async (patterns: string[], opts) => {
      const items = ctx.services().nodes.listNodes(patterns);
      const format = formatOf(opts);
      const secrets = !!opts.showSecrets;
      if (opts.all) return renderAll(ctx.io, items, format, secrets, "NODE");
      if (format !== "table") {
        const problems = await problemsOf(ctx, items);
        return emit(
          ctx.io,
          format,
          resolvedDocs(items, secrets).map((d, i) => ({ ...d, bootProblems: problems(items[i]!) })),
        );
      }
      const io = ctx.io;
      if (opts.net) {
        const rows = items.flatMap((n) =>
          Object.entries(n.conf.networkDevices ?? {}).map(([net, d]) => [
            n.name,
            net,
            d.hwaddr ?? "--",
            d.ipaddr ?? "--",
            d.netmask ?? "--",
            d.gateway ?? "--",
            d.device ?? "--",
          ]),
        );
        return io.out(table(["NODE", "NETWORK", "HWADDR", "IPADDR", "NETMASK", "GATEWAY", "DEVICE"], rows));
      }
      if (opts.ipmi) {
        const rows = items.map((n) => {
          const i = n.conf.ipmi ?? {};
          return [n.name, i.type ?? "ipmi", i.ipaddr ?? "--", String(i.port ?? "--"), i.username ?? "--", i.interface ?? "--"];
        });
        return io.out(table(["NODE", "BMC", "IPADDR", "PORT", "USERNAME", "INTERFACE"], rows));
      }
      if (opts.long) {
        const problems = await problemsOf(ctx, items);
        const rows = items.map((n) => [
          n.name,
          n.conf.kernel?.version ?? "--",
          n.conf.image ?? "--",
          `${(n.conf.systemOverlay ?? []).join(",") || "--"}/${(n.conf.runtimeOverlay ?? []).join(",") || "--"}`,
          problems(n).join("; "),
        ]);
        return io.out(table(["NODE", "KERNEL VERSION", "IMAGE", "OVERLAYS (S/R)", "PROBLEMS"], rows));
      }
      const rows = items.map((n) => {
        const primary = n.conf.primaryNetwork ?? Object.keys(n.conf.networkDevices ?? {})[0];
        const dev = primary ? n.conf.networkDevices?.[primary] : undefined;
        return [n.name, n.profiles.join(",") || "--", dev?.hwaddr ?? "--", dev?.ipaddr ?? "--", n.conf.image ?? "--"];
      });
      io.out(table(["NODE", "PROFILES", "HWADDR", "IPADDR", "IMAGE"], rows));
    });
};
export default list;

/**
 * What would stop each node from booting or make it boot wrong: no image, no kernel, image not built, memory
 * tag too small (computed once per distinct image/kernel/memory combination rather than once per node), and
 * its overlay archives' problems — an archive that would not build, a runtime overlay left out, an overlay
 * skipped for the image (archives are built as a boot request would build them).
 */
async function problemsOf(ctx: CliContext, items: readonly ResolvedNode[]) {
  const images = ctx.services().images;
  const seen = new Map<string, string[]>();
  let archives = new Map<string, string[]>();
  try {
    archives = await ctx.services().overlays.archiveProblems(items.map((n) => n.name));
  } catch (e) {
    ctx.io.err(`drover: warning: could not check the overlay archives: ${(e as Error).message}\n`);
  }
  return (n: ResolvedNode): string[] => {
    const key = JSON.stringify([n.conf.image, n.conf.kernel?.version, n.conf.tags?.memory]);
    let p = seen.get(key);
    if (!p) seen.set(key, (p = images.nodeProblems(n)));
    return [...p, ...(archives.get(n.name) ?? [])];
  };
}
