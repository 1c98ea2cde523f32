import { formatWarning } from "../../overlay/lint";
import { archiveWarnings } from "../../services/overlays";
import type { CommandModule } from "../context";
import { ExitWith, PARTIAL_FAILURE } from "../exit";
import { emit, formatOf, table } from "../output";

const build: CommandModule = (parent, ctx) => {
  parent
    .command("build")
    .description("bring nodes' overlay archives up to date now (optional: a boot request does the same) and lint")
    .argument("[nodes...]", "node names or hostlists (default: all)")
    .option("-j, --json", "JSON output")
    .action(async (nodes: string[], opts) => {
      const o = ctx.services().overlays;
      for (const w of o.staticLint(nodes)) ctx.io.err(`drover: warning: ${formatWarning(w)}\n`);
      const results = await o.build(nodes);
      const format = formatOf(opts);
      if (format !== "table") emit(ctx.io, format, results);
      else {
        const count = (s: string) => results.filter((r) => r.status === s).length;
        for (const r of results.filter((x) => x.status === "error")) ctx.io.err(`drover: ${r.message}\n`);
        // Overlays skipped for an image, runtime overlays left out, accounts syncuser left alone: once each.
        for (const w of archiveWarnings(results.filter((x) => x.status !== "error"))) ctx.io.err(`drover: ${w.level ?? "warning"}: ${formatWarning(w)}\n`);
        if (nodes.length && results.length <= 50)
          ctx.io.out(
            table(
              ["NODE", "OVERLAY", "STATUS", "FILES", "SIZE"],
              results.map((r) => [r.node, r.kind, r.status, String(r.files ?? "--"), r.size === undefined ? "--" : String(r.size)]),
            ),
          );
        ctx.io.out(`${count("built")} built, ${count("fresh")} already current, ${count("error")} failed\n`);
      }
      // Archives that would not build are listed above: the operation failed on those nodes, not inside drover.
      if (results.some((r) => r.status === "error")) throw new ExitWith(PARTIAL_FAILURE);
    });
};
export default build;
