import type { CommandModule } from "../context";
import { emit, formatOf } from "../output";

const info: CommandModule = (parent, ctx) => {
  parent
    .command("info")
    .description("list the variables and helpers a template uses")
    .argument("<name>", "overlay")
    .argument("<file>", "template inside the overlay")
    .option("-j, --json", "JSON output")
    .action((name: string, file: string, opts) => {
      const r = ctx.services().overlays.info(name, file);
      const format = formatOf(opts);
      if (format !== "table") return emit(ctx.io, format, r);
      ctx.io.out(
        `variables:\n${r.variables.map((v) => `  ${v}\n`).join("") || "  (none)\n"}helpers:\n${r.helpers.map((v) => `  it.${v}()\n`).join("") || "  (none)\n"}`,
      );
    });
};
export default info;
