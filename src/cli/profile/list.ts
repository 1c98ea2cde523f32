import type { CommandModule } from "../context";
import { emit, formatOf, table } from "../output";
import { renderAll, resolvedDocs } from "../render";

const list: CommandModule = (parent, ctx) => {
  parent
    .command("list")
    .alias("ls")
    .description("list profiles; -a shows every field and where it came from")
    .argument("[patterns...]", "profile names or globs (default: all)")
    .option("-a, --all", "every field with its source")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .option("--show-secrets", "show BMC passwords")
    .action((patterns: string[], opts) => {
      const items = ctx.services().nodes.listProfiles(patterns);
      const format = formatOf(opts);
      if (opts.all) return renderAll(ctx.io, items, format, !!opts.showSecrets, "PROFILE");
      if (format !== "table") return emit(ctx.io, format, resolvedDocs(items, !!opts.showSecrets));
      ctx.io.out(
        table(
          ["PROFILE", "PROFILES", "COMMENT"],
          items.map((p) => [p.name, (p.own.profiles ?? []).join(",") || "--", p.own.comment ?? "--"]),
        ),
      );
    });
};
export default list;
