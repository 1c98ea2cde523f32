import { parse, stringify } from "yaml";
import { CONF_SCHEMA, type Conf, type FieldDef, type Schema, pruneConf } from "./conf";
import { invalid } from "./errors";

/**
 * Warewulf's nodes.conf ⇄ drover's documents. Pure: text in, objects out.
 * Accepts both `image name` and the older `container name`, kernel args as a list or (Warewulf ≤ 4.4)
 * one space-separated string, and booleans written as strings ("true").
 */
export interface NodesConf {
  profiles: Record<string, Conf>;
  nodes: Record<string, Conf>;
}

export function parseNodesConf(text: string, source = "nodes.conf"): NodesConf {
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    throw invalid(`${source}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return { profiles: {}, nodes: {} };
  if (typeof doc !== "object" || Array.isArray(doc)) throw invalid(`${source}: expected a map with 'nodeprofiles:' and 'nodes:'`);
  const d = doc as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(d)) {
    if (!["nodeprofiles", "nodes", "WW_INTERNAL"].includes(k)) problems.push(`unknown top-level key '${k}' (expected nodeprofiles, nodes)`);
  }
  const section = (key: string): Record<string, Conf> => {
    const s = d[key];
    if (s === undefined || s === null) return {};
    if (typeof s !== "object" || Array.isArray(s)) {
      problems.push(`'${key}' must be a map of names to fields`);
      return {};
    }
    const out: Record<string, Conf> = {};
    for (const [name, body] of Object.entries(s as Record<string, unknown>)) {
      out[name] = fromYamlStruct(CONF_SCHEMA.fields, body ?? {}, `${key}.${name}`, problems) as Conf;
    }
    return out;
  };
  const result = { profiles: section("nodeprofiles"), nodes: section("nodes") };
  if (problems.length) throw invalid(`${source}: ${problems.join("; ")}`, problems);
  return result;
}

function fromYamlStruct(fields: Record<string, FieldDef>, body: unknown, path: string, problems: string[]) {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    problems.push(`${path}: expected a map`);
    return {};
  }
  const byYaml = new Map<string, [string, FieldDef]>();
  for (const [k, def] of Object.entries(fields)) {
    byYaml.set(def.yaml, [k, def]);
    for (const a of def.yamlAliases ?? []) byYaml.set(a, [k, def]);
  }
  const out: Record<string, unknown> = {};
  for (const [yk, v] of Object.entries(body)) {
    const hit = byYaml.get(yk);
    if (!hit) {
      problems.push(`${path}: unknown field '${yk}'`);
      continue;
    }
    const [k, def] = hit;
    if (v === null || v === undefined) continue;
    out[k] = fromYamlValue(def.schema, v, `${path}.${yk}`, problems, k);
  }
  return out;
}

function fromYamlValue(schema: Schema, v: unknown, path: string, problems: string[], key: string): unknown {
  switch (schema.t) {
    case "struct":
      return fromYamlStruct(schema.fields, v, path, problems);
    case "map":
      if (typeof v !== "object" || Array.isArray(v)) {
        problems.push(`${path}: expected a map`);
        return undefined;
      }
      return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, fromYamlValue(schema.of, x, `${path}[${k}]`, problems, k)]));
    case "list":
      // Warewulf ≤ 4.4 wrote kernel args as one string: "quiet crashkernel=no".
      if (typeof v === "string")
        return key === "args"
          ? v.split(/\s+/).filter(Boolean)
          : v
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean);
      return v;
    case "scalar":
      // Go's YAML decoder gives a string field the scalar's text: `tag: true` is "true", `port: 623` is "623".
      return schema.type === "string" && (typeof v === "boolean" || typeof v === "number") ? String(v) : v;
    default:
      return v;
  }
}

/** Writes a nodes.conf that Warewulf reads back (current key names: `image name`, kernel args as a list). */
export function formatNodesConf(nc: NodesConf): string {
  const section = (m: Record<string, Conf>) =>
    Object.fromEntries(Object.entries(m).map(([n, c]) => [n, toYamlStruct(CONF_SCHEMA.fields, pruneConf(c) as Record<string, unknown>)]));
  return stringify({ nodeprofiles: section(nc.profiles), nodes: section(nc.nodes) }, { lineWidth: 0 });
}

function toYamlStruct(fields: Record<string, FieldDef>, c: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, def] of Object.entries(fields)) {
    if (c[k] === undefined) continue;
    out[def.yaml] = toYamlValue(def.schema, c[k]);
  }
  return out;
}

function toYamlValue(schema: Schema, v: unknown): unknown {
  if (schema.t === "struct") return toYamlStruct(schema.fields, v as Record<string, unknown>);
  if (schema.t === "map") return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toYamlValue(schema.of, x)]));
  return v;
}
