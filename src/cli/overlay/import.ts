import { invalid, notFound } from "../../domain/errors";
import type { CommandModule } from "../context";
import { fileErrorCode, readUserFile } from "../output";

const imp: CommandModule = (parent, ctx) => {
  parent
    .command("import")
    .description("copy a file from this host into an overlay (mode and owner kept); Warewulf .ww templates are kept and rendered as Go templates")
    .argument("<name>", "overlay (created when missing)")
    .argument("<source>", "file on this host (with --server: on the machine you run drover on)")
    .argument("[dest]", "path inside the overlay (default: the source path)")
    .action(async (name: string, source: string, dest: string | undefined) => {
      if (source === "-") throw invalid("overlay import copies a file, not standard input; save it to a file first");
      let file: Awaited<ReturnType<typeof readUserFile>>;
      try {
        file = await readUserFile(ctx.io, source);
      } catch (e) {
        const code = fileErrorCode(e);
        if (code === "ENOENT") throw notFound(`${source} does not exist on ${ctx.remote ? "your machine" : "this host"}`);
        if (code === "EISDIR") throw invalid(`${source} is not a regular file`);
        throw invalid(`cannot read ${source}: ${code === "ETOOBIG" || !code ? (e as Error).message : code}`);
      }
      const o = ctx.services().overlays;
      if (!o.repo.exists(name)) o.create(name);
      const r = o.importData(name, source, file.data, dest, {
        ...(file.mode !== undefined ? { mode: file.mode } : {}),
        ...(file.uid !== undefined ? { uid: file.uid, gid: file.gid } : {}),
      });
      ctx.io.out(`imported ${source} as ${r.path} in overlay ${name}${r.converted ? " (converted from a Warewulf template)" : ""}\n`);
    });
};
export default imp;
