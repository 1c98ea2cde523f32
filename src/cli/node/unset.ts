import type { CommandModule } from "../context";
import { fieldCommand, unsetFromOptions } from "../fields";
import { summarize } from "./add";

const unset: CommandModule = (parent, ctx) => {
  const cmd = fieldCommand(parent, "unset", "node", "clear fields of nodes so they fall back to their profiles", "node names, hostlists or globs");
  cmd.addHelpText("after", "\nExample:\n  drover node unset n[01-04] --kernelargs --image   (use the profile's values again)");
  cmd.action((patterns: string[], opts) => {
    const changed = ctx.services().nodes.setNodes(patterns, unsetFromOptions(opts, "node"), { all: opts.all, allowMissingImage: true });
    ctx.io.out(`Changed ${changed.length} node${changed.length === 1 ? "" : "s"}: ${summarize(changed)}\n`);
  });
};
export default unset;
