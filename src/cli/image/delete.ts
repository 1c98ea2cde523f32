import type { CommandModule } from "../context";
import { confirmed } from "../output";

const del: CommandModule = (parent, ctx) => {
  parent
    .command("delete")
    .aliases(["rm", "remove", "del"])
    .description("delete images (refused while nodes use them, unless --force)")
    .argument("<names...>", "images")
    .option("-f, --force", "delete even if nodes use it")
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (names: string[], opts) => {
      const svc = ctx.services().images;
      if (!opts.yes && !(await confirmed(ctx.io, () => `Delete image${names.length > 1 ? "s" : ""} ${names.join(", ")}?`)))
        return void ctx.io.out("Nothing deleted.\n");
      for (const n of names) {
        await svc.delete(n, !!opts.force);
        ctx.io.out(`Deleted image '${n}'\n`);
      }
    });
};
export default del;
