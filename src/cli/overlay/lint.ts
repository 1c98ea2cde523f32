import { formatWarning } from "../../overlay/lint";
import type { CommandModule } from "../context";
import { ExitWith } from "../exit";
import { emit, formatOf } from "../output";

const lint: CommandModule = (parent, ctx) => {
  parent
    .command("lint")
    .description("find overlay problems before nodes boot: missing overlays, early-boot files in runtime overlays, NFS without mount.nfs, addresses without netmasks")
    .argument("[nodes...]", "node names or hostlists (default: all)")
    .option("-j, --json", "JSON output")
    .action((nodes: string[], opts) => {
      const warnings = ctx.services().overlays.lint(nodes);
      const format = formatOf(opts);
      if (format !== "table") emit(ctx.io, format, warnings);
      else ctx.io.out(warnings.length ? warnings.map((w) => `warning: ${formatWarning(w)}\n`).join("") : "no problems found\n");
      if (warnings.length) throw new ExitWith(1);
    });
};
export default lint;
