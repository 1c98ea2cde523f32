import { parse } from "yaml";
import { invalid } from "../../domain/errors";
import { type NodesConf, parseNodesConf } from "../../domain/nodesconf";
import type { CommandModule } from "../context";
import { fileErrorCode, readUserFile } from "../output";

const imp: CommandModule = (parent, ctx) => {
  parent
    .command("import")
    .description("import a Warewulf nodes.conf (profiles and nodes), or a YAML map of nodes; all or nothing")
    .argument("<file>", "nodes.conf, or - for standard input (with --server: on the machine you run drover on)")
    .option("--allow-missing-image", "accept image names that are not imported yet (a site moving in)")
    .addHelpText(
      "after",
      `
Existing nodes and profiles of the same name are replaced; others are left alone.
Both 'image name' and the older 'container name' are understood.
Example:
  drover node import /etc/warewulf/nodes.conf --allow-missing-image`,
    )
    .action(async (file: string, opts) => {
      let text: string;
      try {
        text = new TextDecoder().decode((await readUserFile(ctx.io, file)).data);
      } catch (e) {
        const code = fileErrorCode(e);
        throw invalid(`cannot read ${file}: ${code && code !== "ETOOBIG" ? code : (e as Error).message}`);
      }
      const nc = parseImport(text, file);
      const r = ctx.services().nodes.importConf(nc, { allowMissingImage: opts.allowMissingImage });
      ctx.io.out(`Imported ${r.profiles.length} profile${r.profiles.length === 1 ? "" : "s"} and ${r.nodes.length} node${r.nodes.length === 1 ? "" : "s"} from ${file}\n`);
    });
};

/** A full nodes.conf has nodeprofiles:/nodes:; `wwctl node export` writes a bare map of nodes. */
function parseImport(text: string, file: string): NodesConf {
  let top: unknown;
  try {
    top = parse(text);
  } catch {
    return parseNodesConf(text, file); // reports the YAML error with the file name
  }
  if (top && typeof top === "object" && !Array.isArray(top) && !("nodes" in top) && !("nodeprofiles" in top)) {
    return parseNodesConf(JSON.stringify({ nodes: top }), file);
  }
  return parseNodesConf(text, file);
}

export default imp;
