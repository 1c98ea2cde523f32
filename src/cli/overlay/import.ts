import type { CommandModule } from "../context";

const imp: CommandModule = (parent, ctx) => {
  parent
    .command("import")
    .description("copy a file from this host into an overlay (mode and owner kept); Warewulf .ww templates are converted when simple")
    .argument("<name>", "overlay (created when missing)")
    .argument("<source>", "file on this host")
    .argument("[dest]", "path inside the overlay (default: the source path)")
    .action((name: string, source: string, dest: string | undefined) => {
      const o = ctx.services().overlays;
      if (!o.repo.exists(name)) o.create(name);
      const r = o.importFile(name, source, dest);
      ctx.io.out(`imported ${source} as ${r.path} in overlay ${name}${r.converted ? " (converted from a Warewulf template)" : ""}\n`);
    });
};
export default imp;
