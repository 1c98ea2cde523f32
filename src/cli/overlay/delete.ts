import type { CommandModule } from "../context";

const del: CommandModule = (parent, ctx) => {
  parent
    .command("delete")
    .alias("rm")
    .description("delete a site overlay, or one file of it (a built-in of the same name shows through again)")
    .argument("<name>", "overlay")
    .argument("[file]", "a file or directory inside it")
    .option("-f, --force", "delete even when nodes use the overlay; delete directories with their contents")
    .action((name: string, file: string | undefined, opts) => {
      ctx.services().overlays.delete(name, file, { force: !!opts.force });
      ctx.io.out(file ? `deleted ${file} from overlay ${name}\n` : `deleted site overlay ${name}\n`);
    });
};
export default del;
