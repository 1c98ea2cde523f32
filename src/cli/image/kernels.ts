import type { CommandModule } from "../context";
import { emit, formatOf, table } from "../output";

const kernels: CommandModule = (parent, ctx) => {
  parent
    .command("kernels")
    .description("kernels found inside images; DEFAULT marks the one nodes boot unless --kernelversion says otherwise")
    .argument("[name]", "image (default: all)")
    .option("-j, --json", "JSON output")
    .option("-y, --yaml", "YAML output")
    .action((name: string | undefined, opts) => {
      const ks = ctx.services().images.kernels(name);
      const format = formatOf(opts);
      if (format !== "table") return emit(ctx.io, format, ks);
      ctx.io.out(
        table(
          ["IMAGE", "KERNEL", "PATH", "DEFAULT"],
          ks.map((k) => [k.image, k.version, k.inImage, k.default ? "yes" : ""]),
        ),
      );
    });
};
export default kernels;
