import type { CommandModule } from "../context";
import { fieldCommand, patchFromOptions } from "../fields";

const set: CommandModule = (parent, ctx) => {
  const cmd = fieldCommand(parent, "set", "profile", "change fields of profiles; every node using them sees the change at once", "profile names or globs");
  cmd.addHelpText("after", "\nExample:\n  drover profile set default --runtime-overlays hosts,ssh.authorized_keys,site");
  cmd.action((patterns: string[], opts) => {
    const changed = ctx.services().nodes.setProfiles(patterns, patchFromOptions(opts, "profile"), { all: opts.all, allowMissingImage: opts.allowMissingImage });
    ctx.io.out(`Changed profile${changed.length === 1 ? "" : "s"}: ${changed.join(", ")}\n`);
  });
};
export default set;
