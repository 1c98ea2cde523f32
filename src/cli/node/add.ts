import type { CommandModule } from "../context";
import { fieldCommand, patchFromOptions } from "../fields";
import { expandHostlists } from "../../domain/hostlist";

const add: CommandModule = (parent, ctx) => {
  const cmd = fieldCommand(
    parent,
    "add",
    "node",
    "add nodes; a hostlist adds many, and --ipaddr/--ipmiaddr increment per node",
    "node names or hostlists, e.g. n[001-064]",
  );
  cmd.addHelpText(
    "after",
    `
New nodes get the 'default' profile unless --profile names others.
Examples:
  drover node add n1 --hwaddr 52:54:00:00:00:01 --ipaddr 10.0.0.11/24 --gateway 10.0.0.1
  drover node add n[01-64] --ipaddr 10.0.0.11 --netmask 255.255.255.0 --ipmiaddr 10.1.0.11/24
  drover node add gpu[1-4] --profile default,gpu --tagadd rack=r12`,
  );
  cmd.action((names: string[], opts) => {
    const nodes = expandHostlists(names);
    const added = ctx.services().nodes.addNodes(nodes, patchFromOptions(opts, "node"), { allowMissingImage: opts.allowMissingImage });
    ctx.io.out(`Added ${added.length} node${added.length === 1 ? "" : "s"}: ${summarize(added)}\n`);
  });
};

export function summarize(names: string[]): string {
  return names.length <= 8 ? names.join(", ") : `${names.slice(0, 3).join(", ")} … ${names.at(-1)}`;
}

export default add;
