import { notFound } from "../domain/errors";
import type { CommandModule } from "./context";

/** `drover help node add` = `drover node add --help` (commander's own help command looks at one word only). */
const help: CommandModule = (parent, ctx) => {
  parent.helpCommand(false);
  parent
    .command("help")
    .description("show the help of a command, e.g. 'drover help node add'")
    .argument("[command...]", "the command, as typed (aliases work)")
    .action((words: string[]) => {
      let cmd = parent;
      for (const w of words) {
        const next = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
        if (!next) throw notFound(`no command 'drover ${[...words.slice(0, words.indexOf(w)), w].join(" ")}' (see 'drover help')`);
        cmd = next;
      }
      ctx.io.out(cmd.helpInformation());
    });
};
export default help;
