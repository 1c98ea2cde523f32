import { editLoop } from "../editor";
import type { CommandModule } from "../context";
import { invalid } from "../../domain/errors";
import { problemText } from "../../services/overlays";

const edit: CommandModule = (parent, ctx) => {
  parent
    .command("edit")
    .description(
      "edit a file of an overlay in $EDITOR (a built-in is copied to the site first); a template is checked before it is saved: its syntax, and a " +
        "render for a node that uses the overlay",
    )
    .argument("<name>", "overlay")
    .argument("<file>", "path inside the overlay; a new path creates the file")
    .option("-m, --mode <octal>", "mode of a new file", "644")
    .option("-n, --node <node>", "render the template for this node to check it (default: the first node using the overlay)")
    .option("-f, --force", "save even when the check finds a problem (it is printed as a warning)")
    .addHelpText(
      "after",
      `
A template that does not parse, or that fails to render for the node, is not saved: the error names the
line, the column and the node, and on a terminal you may edit again. The web page's Save runs the same check.
Examples:
  drover overlay edit site etc/motd.eta            edit; checked for the first node listing 'site'
  drover overlay edit site etc/motd.eta -n n001    checked for n001
  drover overlay edit site etc/motd.eta --force    save even if it does not render (nodes will fail to build it)`,
    )
    .action(async (name: string, file: string, opts: { mode: string; node?: string; force?: boolean }) => {
      const o = ctx.services().overlays;
      let text = "";
      let exists = true;
      try {
        text = new TextDecoder().decode(o.readFile(name, file).data);
      } catch {
        exists = false;
        o.tree(name);
      }
      const changed = await editLoop(ctx.io, text, async (edited) => {
        const check = await o.checkFile(name, file, edited, opts.node ? { node: opts.node } : {});
        if (check.problem) {
          if (!opts.force) throw invalid(`${problemText(check.problem)}; nothing was saved (--force saves it anyway)`);
          ctx.io.err(`drover: warning: saved with a problem: ${problemText(check.problem)}\n`);
        }
        o.writeFile(name, file, edited, exists ? {} : { mode: Number.parseInt(opts.mode, 8) });
      });
      ctx.io.out(changed ? `saved ${file} in overlay ${name}; nodes get it with their next archive\n` : "no changes\n");
    });
};
export default edit;
