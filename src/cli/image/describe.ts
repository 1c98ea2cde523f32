import { human, type ImageDetail } from "../../services/images";
import type { Io } from "../output";

/** The human summary printed by show, import and build. */
export function describe(io: Io, d: ImageDetail) {
  const rows: [string, string][] = [
    ["Image", d.name],
    ["Source", d.source ?? "--"],
    ["Imported", d.importedAt ?? "--"],
    ["Platform", d.info.platform ?? "--"],
    ["Manifest", d.info.manifestDigest ?? "--"],
    ["Layers", d.info.layers ? String(d.info.layers.length) : "--"],
    ["Kernel", d.kernel ?? "none found"],
    ["Kernels", d.kernels.map((k) => `${k.version} (${k.inImage})`).join(", ") || "--"],
    ["Built", d.built ? `${d.info.build!.at}${d.stale ? " (stale: changed since)" : ""}` : "no"],
    ["Size", d.size !== undefined ? `${human(d.size)} compressed, ${human(d.unpacked!)} unpacked, ${d.info.build!.files} files` : "--"],
    ["RAM needed", d.ramNeeded !== undefined ? `${human(d.ramNeeded)} (compressed + unpacked + 512 MiB working margin)` : "--"],
    ["Nodes", d.nodes.join(", ") || "--"],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  io.out(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n");
  for (const warn of d.warnings) io.err(`warning: ${warn}\n`);
}
