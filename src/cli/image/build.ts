import { invalid } from "../../domain/errors";
import { human } from "../../domain/size";
import type { CommandModule } from "../context";

const build: CommandModule = (parent, ctx) => {
  parent
    .command("build")
    .description("build images into bootable archives (gzip'd cpio, a zstd copy, stage 1 of the two-stage boot); runs by itself after import and exec")
    .argument("[names...]", "images to build")
    .option("-a, --all", "build every image")
    .option("-f, --force", "accepted for Warewulf compatibility (drover always rebuilds)")
    .option("--no-zstd", "write only the gzip archive (no image.img.zst for the two-stage boot)")
    .action(async (names: string[], opts) => {
      const svc = ctx.services().images;
      if (!names.length && !opts.all) throw invalid("name an image to build, or pass --all");
      const bo = { zstd: opts.zstd !== false };
      const done = opts.all ? await svc.buildAll(bo) : [];
      for (const n of opts.all ? [] : names) done.push(await svc.build(n, bo));
      for (const d of done) {
        ctx.io.out(`Built '${d.name}': ${human(d.size!)} (${human(d.unpacked!)} unpacked), kernel ${d.kernel ?? "none"}\n`);
        for (const w of d.warnings) ctx.io.err(`warning: ${w}\n`);
      }
    });
};
export default build;
