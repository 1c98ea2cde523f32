import { formatWarning } from "../../overlay/lint";
import type { CommandModule } from "../context";
import { ExitWith, FINDINGS } from "../exit";
import { emit, formatOf } from "../output";

const lint: CommandModule = (parent, ctx) => {
  parent
    .command("lint")
    .description(
      "find overlay problems before nodes boot: archives that would not build, overlays left out or skipped, missing overlays, early-boot files in " +
        "runtime overlays, NFS without mount.nfs, addresses without netmasks",
    )
    .argument("[nodes...]", "node names or hostlists (default: all)")
    .option("-j, --json", "JSON output")
    .action(async (nodes: string[], opts) => {
      const all = await ctx.services().overlays.lint(nodes);
      const warnings = all.filter((w) => w.level !== "note");
      const format = formatOf(opts);
      if (format !== "table") emit(ctx.io, format, all);
      else
        ctx.io.out(
          all.length
            ? all.map((w) => `${w.level ?? "warning"}: ${formatWarning(w)}\n`).join("") + (warnings.length ? "" : "no problems found\n")
            : "no problems found\n",
        );
      if (warnings.length) throw new ExitWith(FINDINGS);
    });
};
export default lint;
