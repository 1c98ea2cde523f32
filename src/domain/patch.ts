import { CONF_SCHEMA, type Conf, type Schema, pruneConf } from "./conf";

/**
 * A change to one node or profile, as `set`/`unset` and the API express it.
 * `set` deep-merges: scalars and lists replace, maps and structs merge by key.
 * `unset` removes paths, e.g. ["kernel","args"], ["tags","rack"], ["networkDevices","ib0"].
 */
export interface ConfPatch {
  set?: Conf;
  unset?: string[][];
}

export function applyPatch(conf: Conf, patch: ConfPatch): Conf {
  const out = structuredClone(conf) as Record<string, unknown>;
  for (const path of patch.unset ?? []) deletePath(out, path);
  if (patch.set) mergeInto(out, patch.set as Record<string, unknown>, CONF_SCHEMA);
  return pruneConf(out) as Conf;
}

function mergeInto(target: Record<string, unknown>, src: Record<string, unknown>, schema: Schema) {
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    const child = childSchema(schema, k);
    if (child && (child.t === "struct" || child.t === "map") && v && typeof v === "object" && !Array.isArray(v)) {
      const t = (target[k] && typeof target[k] === "object" ? target[k] : {}) as Record<string, unknown>;
      mergeInto(t, v as Record<string, unknown>, child);
      target[k] = t;
    } else {
      target[k] = structuredClone(v);
    }
  }
}

function childSchema(schema: Schema, key: string): Schema | undefined {
  if (schema.t === "struct") return schema.fields[key]?.schema;
  if (schema.t === "map") return schema.of;
  return undefined;
}

function deletePath(obj: Record<string, unknown>, path: string[]) {
  let cur: Record<string, unknown> | undefined = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const next: unknown = cur?.[path[i]!];
    if (!next || typeof next !== "object") return;
    cur = next as Record<string, unknown>;
  }
  if (cur) delete cur[path[path.length - 1]!];
}
