import { invalid } from "../../domain/errors";
import type { CommandModule } from "../context";

const mkdir: CommandModule = (parent, ctx) => {
  parent
    .command("mkdir")
    .description("create a directory in an overlay (a built-in is copied to the site first)")
    .argument("<name>", "overlay")
    .argument("<dir>", "path inside the overlay")
    .option("-m, --mode <octal>", "directory mode", "755")
    .action((name: string, dir: string, opts) => {
      const mode = Number.parseInt(opts.mode, 8);
      if (!/^[0-7]{3,4}$/.test(opts.mode)) throw invalid(`mode ${opts.mode} is not an octal mode like 755`);
      ctx.services().overlays.mkdir(name, dir, mode);
      ctx.io.out(`created ${dir} in overlay ${name}\n`);
    });
};
export default mkdir;
