import type { CommandModule } from "../context";
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
      if (!opts.yes && ctx.io.isTTY && ctx.io.prompt) {
        const names = svc.listNodes(patterns).map((n) => n.name);
        const a = await ctx.io.prompt(`Delete ${names.length} node${names.length === 1 ? "" : "s"} (${summarize(names)})? [y/N] `);
        if (!/^y(es)?$/i.test(a ?? "")) {
          ctx.io.out("Nothing deleted.\n");
          return;
        }
      }
      const gone = svc.deleteNodes(patterns);
      ctx.io.out(`Deleted ${gone.length} node${gone.length === 1 ? "" : "s"}: ${summarize(gone)}\n`);
    });
};
export default del;
