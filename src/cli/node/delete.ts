import type { CommandModule } from "../context";
import { confirmed } from "../output";
import { summarize } from "./add";

const del: CommandModule = (parent, ctx) => {
  parent
    .command("delete")
    .aliases(["rm", "remove", "del"])
    .description("remove nodes")
    .argument("<patterns...>", "node names, hostlists or globs")
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (patterns: string[], opts) => {
      const svc = ctx.services().nodes;
      const question = () => {
        const names = svc.listNodes(patterns).map((n) => n.name);
        return `Delete ${names.length} node${names.length === 1 ? "" : "s"} (${summarize(names)})?`;
      };
      if (!opts.yes && !(await confirmed(ctx.io, question))) return void ctx.io.out("Nothing deleted.\n");
      const gone = svc.deleteNodes(patterns);
      ctx.io.out(`Deleted ${gone.length} node${gone.length === 1 ? "" : "s"}: ${summarize(gone)}\n`);
    });
};
export default del;
