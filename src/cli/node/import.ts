import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { OVERLAY_NAME, type WarewulfEntry, readWarewulfOverlay } from "../../overlay/repo";
import { invalid } from "../../domain/errors";
import { type NodesConf, parseNodesConf } from "../../domain/nodesconf";
import type { CommandModule } from "../context";
import { readUserText } from "../output";

const imp: CommandModule = (parent, ctx) => {
  parent
    .command("import")
    .description("import a Warewulf nodes.conf (profiles and nodes), or a YAML map of nodes; all or nothing")
    .argument("<file>", "nodes.conf, or - for standard input (with --server: on the machine you run drover on)")
    .option("--allow-missing-image", "accept image names that are not imported yet (a site moving in)")
    .option(
      "--overlays <dir>",
      "also move in the Warewulf site's overlays from DIR (e.g. /var/lib/warewulf/overlays): each NAME/rootfs becomes site overlay NAME",
    )
    .addHelpText(
      "after",
      `
Existing nodes and profiles of the same name are replaced; others are left alone.
Both 'image name' and the older 'container name' are understood.
With --overlays, each overlay directory under DIR (NAME/rootfs/… since Warewulf 4.5, NAME/… before) becomes
the site overlay NAME, modes and owners kept, .ww templates kept (rendered as Go templates); a site overlay
of that name is replaced whole. Overlays named like drover's built-ins (wwinit, hosts, fstab …) are left
out: drover's own do that job; bring a changed file of one in with 'drover overlay import NAME FILE'.
Every overlay is read before anything is written.
Examples:
  drover node import /etc/warewulf/nodes.conf --allow-missing-image
  drover node import /etc/warewulf/nodes.conf --overlays /var/lib/warewulf/overlays`,
    )
    .action(async (file: string, opts) => {
      const text = await readUserText(ctx.io, file);
      const nc = parseImport(text, file);
      // The overlays are read (and checked) before the nodes are written: a bad overlay dir changes nothing.
      const svc = ctx.services();
      const overlays: { name: string; entries: WarewulfEntry[] }[] = [];
      const skipped: string[] = [];
      if (opts.overlays) {
        if (ctx.remote) throw invalid("--overlays reads a directory on the head node: copy it there and run 'drover node import' on the head node");
        const dir = resolve(opts.overlays);
        if (!existsSync(dir) || !statSync(dir).isDirectory())
          throw invalid(`--overlays ${opts.overlays}: not a directory (Warewulf keeps site overlays in /var/lib/warewulf/overlays)`);
        for (const name of readdirSync(dir).sort()) {
          if (!statSync(join(dir, name)).isDirectory()) continue;
          if (!OVERLAY_NAME.test(name)) throw invalid(`--overlays: ${join(dir, name)} is not a valid overlay name; rename it or move it away`);
          if (svc.overlays.repo.isBuiltin(name) || name === "host") {
            skipped.push(name);
            continue;
          }
          const r = readWarewulfOverlay(join(dir, name));
          for (const n of r.notes) ctx.io.err(`note: ${n}\n`);
          overlays.push({ name, entries: r.entries });
        }
      } else if (/^\/etc\/warewulf\//.test(file) && existsSync("/var/lib/warewulf/overlays")) {
        ctx.io.err("note: Warewulf's site overlays are in /var/lib/warewulf/overlays: add --overlays /var/lib/warewulf/overlays to move them in too\n");
      }
      const r = svc.nodes.importConf(nc, { allowMissingImage: opts.allowMissingImage });
      ctx.io.out(
        `Imported ${r.profiles.length} profile${r.profiles.length === 1 ? "" : "s"} and ${r.nodes.length} node${r.nodes.length === 1 ? "" : "s"} from ${file}\n`,
      );
      if (opts.overlays) {
        const replaced: string[] = [];
        for (const o of overlays) if (svc.overlays.repo.writeSiteOverlay(o.name, o.entries).replaced) replaced.push(o.name);
        const files = overlays.reduce((n, o) => n + o.entries.filter((e) => e.type === "file").length, 0);
        ctx.io.out(
          `Imported ${overlays.length} site overlay${overlays.length === 1 ? "" : "s"} (${files} file${files === 1 ? "" : "s"}) from ` +
            `${opts.overlays}${overlays.length ? `: ${overlays.map((o) => o.name).join(", ")}` : ""}${replaced.length ? ` (replaced: ${replaced.join(", ")})` : ""}\n`,
        );
        if (skipped.length)
          ctx.io.out(
            `Left out ${skipped.join(", ")}: ${skipped.includes("host") ? "host is the head node's own files ('drover configure' writes them); " : ""}the ` +
              `others are named like drover's built-in overlays, which do their job; bring a changed file in with 'drover overlay import NAME FILE'\n`,
          );
        ctx.io.out("Next: drover overlay lint (overlays the nodes list but drover lacks, templates that will not render)\n");
      }
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
