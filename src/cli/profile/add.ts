import type { CommandModule } from "../context";
import { fieldCommand, patchFromOptions } from "../fields";

const add: CommandModule = (parent, ctx) => {
  const cmd = fieldCommand(parent, "add", "profile", "add profiles: shared settings that nodes inherit", "profile names");
  cmd.addHelpText("after", "\nExample:\n  drover profile add compute --image rocky-9 --netmask 255.255.255.0 --gateway 10.0.0.1 --kernelargs console=ttyS0");
  cmd.action((names: string[], opts) => {
    const added = ctx.services().nodes.addProfiles(names, patchFromOptions(opts, "profile"), { allowMissingImage: opts.allowMissingImage });
    ctx.io.out(`Added profile${added.length === 1 ? "" : "s"}: ${added.join(", ")}\n`);
  });
};
export default add;
