import { human } from "../../domain/size";
import type { CommandModule } from "../context";
import { emit, formatOf, table } from "../output";

const list: CommandModule = (parent, ctx) => {
  parent
    .command("list")
    .alias("ls")
    .description("list images; -l adds sizes, source and the nodes using each")
    .option("-l, --long", "size, unpacked size, kernel, nodes, source")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .action((opts) => {
      const items = ctx.services().images.list();
      const format = formatOf(opts);
      if (format !== "table") return emit(ctx.io, format, items);
      const size = (n?: number) => (n === undefined ? "--" : human(n));
      if (opts.long)
        return ctx.io.out(
          table(
            ["IMAGE", "SIZE", "UNPACKED", "KERNEL", "NODES", "SOURCE"],
            items.map((i) => [i.name, size(i.size), size(i.unpacked), i.kernel ?? "--", i.nodes.join(",") || "--", i.source ?? "--"]),
          ),
        );
      ctx.io.out(
        table(
          ["IMAGE", "NODES", "KERNEL", "BUILT"],
          items.map((i) => [i.name, String(i.nodes.length), i.kernel ?? "--", i.built ? (i.stale ? "stale" : "yes") : "no"]),
        ),
      );
    });
};
export default list;
