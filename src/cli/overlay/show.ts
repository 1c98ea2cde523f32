import type { CommandModule } from "../context";

const show: CommandModule = (parent, ctx) => {
  parent
    .command("show")
    .alias("cat")
    .description("print a file of an overlay; --render NODE renders a template for that node")
    .argument("<name>", "overlay")
    .argument("<file>", "path inside the overlay, e.g. etc/hosts.eta")
    .option("-r, --render <node>", "render the template for this node (strict: a missing value is an error)")
    .action(async (name: string, file: string, opts) => {
      const o = ctx.services().overlays;
      if (!opts.render) return ctx.io.out(new TextDecoder().decode(o.readFile(name, file).data));
      const files = await o.renderFile(name, file, opts.render);
      if (files.length === 0) return ctx.io.err(`drover: the template wrote no file for ${opts.render} (it.abort())\n`);
      const many = files.length > 1;
      for (const f of files) {
        if (many || f.type === "symlink")
          ctx.io.out(`==> /${f.path}${f.type === "symlink" ? ` -> ${f.target}` : ` (mode ${f.mode.toString(8).padStart(4, "0")})`} <==\n`);
        if (f.type === "file") ctx.io.out(f.data);
      }
    });
};
export default show;
