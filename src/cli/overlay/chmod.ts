import { invalid } from "../../domain/errors";
import type { CommandModule } from "../context";

const chmod: CommandModule = (parent, ctx) => {
  parent
    .command("chmod")
    .description("set the mode of a file in an overlay; a template's mode becomes the rendered file's")
    .argument("<name>", "overlay")
    .argument("<file>", "path inside the overlay")
    .argument("<mode>", "octal mode, e.g. 600")
    .action((name: string, file: string, mode: string) => {
      if (!/^[0-7]{3,4}$/.test(mode)) throw invalid(`mode ${mode} is not an octal mode like 644`);
      ctx.services().overlays.chmod(name, file, Number.parseInt(mode, 8));
      ctx.io.out(`mode of ${file} in overlay ${name} is now ${mode}\n`);
    });
};
export default chmod;
