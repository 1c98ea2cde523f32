import { formatNodesConf, parseNodesConf } from "../../domain/nodesconf";
import type { CommandModule } from "../context";
import { editLoop } from "../editor";
import { allowMissingImage } from "../fields";

const edit: CommandModule = (parent, ctx) => {
  parent
    .command("edit")
    .description("edit nodes as nodes.conf YAML in $EDITOR; nothing is saved unless the result is valid")
    .argument("<patterns...>", "node names, hostlists or globs")
    .addOption(allowMissingImage())
    .action(async (patterns: string[], opts) => {
      const svc = ctx.services().nodes;
      const names = svc.listNodes(patterns).map((n) => n.name);
      const conf = svc.exportConf(names, true);
      const header = "# Edit these nodes; save and quit to apply. Secrets are shown because you may change them.\n";
      const changed = await editLoop(ctx.io, header + formatNodesConf({ profiles: {}, nodes: conf.nodes }), (text) => {
        const parsed = parseNodesConf(text, "the edited file");
        svc.replaceNodes(parsed.nodes, { allowMissingImage: opts.allowMissingImage });
        const dropped = names.filter((n) => !(n in parsed.nodes));
        if (dropped.length) ctx.io.err(`note: ${dropped.join(", ")} removed from the file but not deleted; use 'drover node delete' for that\n`);
      });
      ctx.io.out(changed ? "Saved.\n" : "No changes.\n");
    });
};
export default edit;
