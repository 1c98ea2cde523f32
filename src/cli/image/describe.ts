import { piecesExtra } from "../../domain/boot-mode";
import { human } from "../../domain/size";
import type { ImageDetail } from "../../services/images";
import type { Io } from "../output";

/** How the two-stage figure is made (domain/boot-mode.ts ramNeeded). */
function twoStageNote(largestPiece?: number): string {
  const extra = piecesExtra(largestPiece);
  return `two-stage: unpacked + 2% + 256 MiB, + 64 MiB past 4 GiB${extra ? ` + ${human(extra)} for its large pieces` : ""}`;
}

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
    [
      "Archives",
      d.built
        ? `gzip ${human(d.info.build!.size)}${d.info.build!.zstd ? `, zstd ${human(d.info.build!.zstd.size)}` : ""}; stage 1: ${
            Object.entries(d.info.build!.stage1 ?? {})
              .map(([v, s]) => `${v} ${human(s.size)}`)
              .join(", ") || (d.info.build!.stage1Problem ? "none (see warning)" : "none")
          }`
        : "--",
    ],
    ["Boot mode", d.bootMode ?? "--"],
    [
      "RAM needed",
      d.ramNeeded !== undefined
        ? `${human(d.ramNeeded)} (${
            d.bootMode === "two-stage" ? twoStageNote(d.info.build?.largestPiece) : "one-stage: compressed + 2 × unpacked + 256 MiB"
          })${d.bootMode === "two-stage" && d.ramOneStage ? `; one-stage ${human(d.ramOneStage)}` : ""}`
        : "--",
    ],
    ["Nodes", d.nodes.join(", ") || "--"],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  io.out(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n");
  for (const warn of d.warnings) io.err(`warning: ${warn}\n`);
}
