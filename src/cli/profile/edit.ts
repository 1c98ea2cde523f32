import { formatNodesConf, parseNodesConf } from "../../domain/nodesconf";
import type { CommandModule } from "../context";
import { editLoop } from "../editor";
import { allowMissingImage } from "../fields";

const edit: CommandModule = (parent, ctx) => {
  parent
    .command("edit")
    .description("edit profiles as nodes.conf YAML in $EDITOR; nothing is saved unless the result is valid")
    .argument("<patterns...>", "profile names or globs")
    .addOption(allowMissingImage())
    .action(async (patterns: string[], opts) => {
      const svc = ctx.services().nodes;
      const names = new Set(svc.listProfiles(patterns).map((p) => p.name));
      const all = svc.exportConf([], true).profiles;
      const mine = Object.fromEntries(Object.entries(all).filter(([n]) => names.has(n)));
      const changed = await editLoop(ctx.io, formatNodesConf({ profiles: mine, nodes: {} }), (text) => {
        svc.replaceProfiles(parseNodesConf(text, "the edited file").profiles, { allowMissingImage: opts.allowMissingImage });
      });
      ctx.io.out(changed ? "Saved.\n" : "No changes.\n");
    });
};
export default edit;
