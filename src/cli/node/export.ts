import { writeFileSync } from "node:fs";
import { formatNodesConf } from "../../domain/nodesconf";
import { invalid } from "../../domain/errors";
import type { CommandModule } from "../context";
import { emit } from "../output";

const exp: CommandModule = (parent, ctx) => {
  parent
    .command("export")
    .description("write the nodes (and all profiles) as a Warewulf nodes.conf")
    .argument("[patterns...]", "node names, hostlists or globs (default: all)")
    .option("-o, --output <file>", "write to a file instead of standard output")
    .option("-j, --json", "JSON instead of YAML")
    .option("--show-secrets", "include BMC passwords and asset keys (left out by default)")
    .addHelpText("after", "\nExample:\n  drover node export > nodes.conf      # Warewulf reads it back with 'wwctl node import'")
    .action((patterns: string[], opts) => {
      if (opts.output && ctx.remote)
        throw invalid("through --server, -o would write the file on the head node; redirect the output instead: drover --server … node export > FILE");
      const nc = ctx.services().nodes.exportConf(patterns, !!opts.showSecrets);
      if (opts.json) return emit(ctx.io, "json", { nodeprofiles: nc.profiles, nodes: nc.nodes });
      const text = formatNodesConf(nc);
      if (opts.output) {
        writeFileSync(opts.output, text, { mode: opts.showSecrets ? 0o600 : 0o644 });
        ctx.io.err(`Wrote ${Object.keys(nc.nodes).length} nodes and ${Object.keys(nc.profiles).length} profiles to ${opts.output}\n`);
      } else ctx.io.out(text);
    });
};
export default exp;
