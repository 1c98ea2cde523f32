import type { CommandModule } from "../context";

const copy: CommandModule = (parent, ctx) => {
  parent
    .command("copy")
    .alias("cp")
    .description("copy an image (rootfs and built archive) under a new name")
    .argument("<source>", "image to copy")
    .argument("<destination>", "new image name")
    .action(async (src: string, dst: string) => {
      await ctx.services().images.copy(src, dst);
      ctx.io.out(`Copied image '${src}' to '${dst}'\n`);
    });
};
export default copy;
