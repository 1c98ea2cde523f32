import type { CommandModule } from "../context";
import { addUnsetOptions, unsetFromOptions } from "../fields";

const unset: CommandModule = (parent, ctx) => {
  const cmd = parent
    .command("unset")
    .description("clear fields of profiles")
    .argument("[patterns...]", "profile names or globs")
    .option("-a, --all", "change every profile");
  addUnsetOptions(cmd, "profile");
  cmd.action((patterns: string[], opts) => {
    const changed = ctx.services().nodes.setProfiles(patterns, unsetFromOptions(opts, "profile"), { all: opts.all, allowMissingImage: true });
    ctx.io.out(`Changed profile${changed.length === 1 ? "" : "s"}: ${changed.join(", ")}\n`);
  });
};
export default unset;
