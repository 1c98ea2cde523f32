import type { CommandModule } from "../context";
import { emit, formatOf } from "../output";
import { describe } from "./describe";

const show: CommandModule = (parent, ctx) => {
  parent
    .command("show")
    .description("details of an image: source, kernels, sizes, the RAM a node needs, nodes using it")
    .argument("<name>", "image")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .action((name: string, opts) => {
      const d = ctx.services().images.show(name);
      const format = formatOf(opts);
      if (format !== "table") return emit(ctx.io, format, d);
      describe(ctx.io, d);
    });
};
export default show;
