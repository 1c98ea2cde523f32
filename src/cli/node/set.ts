import type { CommandModule } from "../context";
import { fieldCommand, patchFromOptions } from "../fields";
import { summarize } from "./add";

const set: CommandModule = (parent, ctx) => {
  const cmd = fieldCommand(parent, "set", "node", "change fields of nodes (a value of UNDEF clears a field)", "node names, hostlists or globs: n[01-04], n*");
  cmd.addHelpText(
    "after",
    `
Examples:
  drover node set n01 --image rocky-9 --kernelargs "quiet console=ttyS0,115200n8"
  drover node set n[01-04] --netname ib0 --netdev ib0 --type infiniband --ipaddr 10.2.0.11/16
  drover node set -a --tagadd site=lab`,
  );
  cmd.action((patterns: string[], opts) => {
    const changed = ctx.services().nodes.setNodes(patterns, patchFromOptions(opts, "node"), {
      all: opts.all,
      allowMissingImage: opts.allowMissingImage,
    });
    ctx.io.out(`Changed ${changed.length} node${changed.length === 1 ? "" : "s"}: ${summarize(changed)}\n`);
  });
};
export default set;
