import type { CommandModule } from "../context";
import { fieldCommand, unsetFromOptions } from "../fields";

const unset: CommandModule = (parent, ctx) => {
  const cmd = fieldCommand(parent, "unset", "profile", "clear fields of profiles", "profile names or globs");
  cmd.action((patterns: string[], opts) => {
    const changed = ctx.services().nodes.setProfiles(patterns, unsetFromOptions(opts, "profile"), { all: opts.all, allowMissingImage: true });
    ctx.io.out(`Changed profile${changed.length === 1 ? "" : "s"}: ${changed.join(", ")}\n`);
  });
};
export default unset;
