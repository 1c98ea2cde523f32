import type { CommandModule } from "../context";

const del: CommandModule = (parent, ctx) => {
  parent
    .command("delete")
    .aliases(["rm", "remove", "del"])
    .description("remove profiles (refused while nodes or profiles use them, unless --force)")
    .argument("<patterns...>", "profile names or globs")
    .option("-f, --force", "remove even if nodes use it (they then lose its settings)")
    .option("-y, --yes", "accepted for wwctl compatibility")
    .action((patterns: string[], opts) => {
      const gone = ctx.services().nodes.deleteProfiles(patterns, { force: opts.force });
      ctx.io.out(`Deleted profile${gone.length === 1 ? "" : "s"}: ${gone.join(", ")}\n`);
    });
};
export default del;
