import type { CommandModule } from "../context";
import { collectBinds, runInImage } from "./exec";

const shell: CommandModule = (parent, ctx) => {
  parent
    .command("shell")
    .description("an interactive shell inside an image; 'exit 0' keeps changes, 'exit 1' discards them")
    .argument("<name>", "image")
    .option("-b, --bind <src[:dst[:ro]]>", "bind a head-node path into the image (repeatable)", collectBinds)
    .option("--shell <path>", "shell inside the image", "/bin/sh")
    .option("--no-build", "do not rebuild after changes")
    .action(async (name: string, opts) => {
      ctx.io.err(`Shell in image '${name}'. 'exit 0' keeps your changes and rebuilds; 'exit 1' discards them all.\n`);
      await runInImage(ctx, name, [opts.shell, "-i"], opts, true);
    });
};
export default shell;
