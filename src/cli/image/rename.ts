import type { CommandModule } from "../context";

const rename: CommandModule = (parent, ctx) => {
  parent
    .command("rename")
    .alias("mv")
    .description("rename an image that no node uses")
    .argument("<name>", "image")
    .argument("<new-name>", "its new name")
    .action(async (from: string, to: string) => {
      await ctx.services().images.rename(from, to);
      ctx.io.out(`Renamed image '${from}' to '${to}'\n`);
    });
};
export default rename;
