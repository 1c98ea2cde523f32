import type { CommandModule } from "../context";

const create: CommandModule = (parent, ctx) => {
  parent
    .command("create")
    .alias("add")
    .description("create an empty site overlay under <data-dir>/overlays/NAME")
    .argument("<name>", "overlay name")
    .action((name: string) => {
      const dir = ctx.services().overlays.create(name);
      ctx.io.out(`created overlay ${name} in ${dir}; add files with 'drover overlay import' or 'drover overlay edit'\n`);
    });
};
export default create;
