import { COMMIT, VERSION } from "../version";
import type { CommandModule } from "./context";
import { emit } from "./output";

const version: CommandModule = (parent, ctx) => {
  parent
    .command("version")
    .description("print drover's version, build commit and runtime")
    .option("-j, --json", "JSON output")
    .action((opts) => {
      const info = { version: VERSION, commit: COMMIT, bun: Bun.version, platform: `${process.platform}/${process.arch}` };
      if (opts.json) return emit(ctx.io, "json", info);
      ctx.io.out(`drover ${info.version} (${info.commit}) bun ${info.bun} ${info.platform}\n`);
    });
};
export default version;
