import { formatValue } from "../domain/cascade";
import { maskSecrets } from "../domain/conf";
import type { ResolvedNode } from "../services/nodes";
import { type Format, type Io, emit, table } from "./output";

/** `list -a`: every field with its source, Warewulf's NODE FIELD PROFILE VALUE, as FIELD SOURCE VALUE. */
export function renderAll(io: Io, items: ResolvedNode[], format: Format, showSecrets: boolean, noun: "NODE" | "PROFILE") {
  if (format !== "table") {
    emit(
      io,
      format,
      items.map((n) => ({
        name: n.name,
        profiles: n.profiles,
        fields: n.provenance.map((r) => ({
          field: r.field,
          source: r.source,
          value: r.secret && !showSecrets && r.value !== undefined ? "********" : (r.value ?? null),
        })),
      })),
    );
    return;
  }
  const rows: string[][] = [];
  for (const n of items) {
    rows.push([n.name, "Id", "--", n.name]);
    for (const r of n.provenance) rows.push([n.name, r.field, r.source, formatValue(r.value, r.secret, showSecrets)]);
  }
  io.out(table([noun, "FIELD", "SOURCE", "VALUE"], rows));
}

/** The resolved documents, for --json/--yaml listings without -a. */
export function resolvedDocs(items: ResolvedNode[], showSecrets: boolean) {
  return items.map((n) => ({
    name: n.name,
    profiles: n.profiles,
    ...(n.problems.length ? { problems: n.problems } : {}),
    conf: showSecrets ? n.conf : maskSecrets(n.conf),
  }));
}
