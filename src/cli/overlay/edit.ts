import { editLoop } from "../editor";
import type { CommandModule } from "../context";
import { syntaxError } from "../../overlay/template";
import { invalid } from "../../domain/errors";

const edit: CommandModule = (parent, ctx) => {
  parent
    .command("edit")
    .description("edit a file of an overlay in $EDITOR (a built-in is copied to the site first); templates are syntax-checked")
    .argument("<name>", "overlay")
    .argument("<file>", "path inside the overlay; a new path creates the file")
    .option("-m, --mode <octal>", "mode of a new file", "644")
    .action(async (name: string, file: string, opts) => {
      const o = ctx.services().overlays;
      let text = "";
      let exists = true;
      try {
        text = new TextDecoder().decode(o.readFile(name, file).data);
      } catch {
        exists = false;
        o.tree(name);
      }
      const changed = await editLoop(ctx.io, text, (edited) => {
        if (file.endsWith(".eta")) {
          const err = syntaxError(edited);
          if (err) throw invalid(`${file}: ${err.split("=====")[0]!.replace(/\s+/g, " ").trim()}`);
        }
        o.writeFile(name, file, edited, exists ? {} : { mode: Number.parseInt(opts.mode, 8) });
      });
      ctx.io.out(changed ? `saved ${file} in overlay ${name}; nodes get it with their next archive\n` : "no changes\n");
    });
};
export default edit;
