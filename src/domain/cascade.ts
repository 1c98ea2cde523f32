import { CONF_SCHEMA, type Conf, type FieldDef, type Schema, SECRET_MASK } from "./conf";

/**
 * The profile cascade, exactly as Warewulf documents it:
 * - a node's profile list expands depth-first (a profile's own profiles come before it); duplicates and
 *   cycles are dropped; `~name` anywhere in the expansion removes that profile;
 * - layers apply in order (profiles left to right, then the node): scalars last writer wins, lists
 *   concatenate (`~item` removes an earlier item), maps merge by key, structs merge per field;
 * - `comment` and `profiles` are never inherited;
 * - every resolved leaf keeps its provenance: which layers set it and which one won.
 */

/** The node itself, in provenance. Warewulf prints `--`. */
export const NODE_SOURCE = "--";
export const SUPERSEDED = "SUPERSEDED";

export interface Layer {
  /** A profile name, or NODE_SOURCE for the node. */
  source: string;
  conf: Conf;
}

export interface ProvenanceRow {
  /** Display path, e.g. `Kernel.Args`, `NetDevs[default].Ipaddr`, `Tags[rack]`. */
  field: string;
  /** A profile name, `--` for the node, `SUPERSEDED` when the node overrode a profile, `` when unset. */
  source: string;
  value: unknown;
  /** Every layer that set it, in order. */
  contributors: string[];
  secret?: boolean;
}

export interface Resolved {
  conf: Conf;
  /** The expanded profile list, in application order. */
  profiles: string[];
  provenance: ProvenanceRow[];
  /** Problems found while resolving (missing profiles): reported, never fatal here. */
  problems: string[];
}

export type ProfileLookup = (name: string) => Conf | undefined;

/** Depth-first expansion of a profile list with `~name` negation and cycle/duplicate removal. */
export function expandProfiles(list: readonly string[], lookup: ProfileLookup, problems: string[] = []): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const negated = new Set<string>();
  const walk = (names: readonly string[], stack: string[]) => {
    for (const raw of names) {
      if (raw.startsWith("~")) {
        negated.add(raw.slice(1));
        continue;
      }
      if (stack.includes(raw)) continue; // cycle: validation refuses these on write
      if (seen.has(raw)) continue;
      seen.add(raw);
      const p = lookup(raw);
      if (!p) {
        problems.push(`profile '${raw}' does not exist`);
        continue;
      }
      walk(p.profiles ?? [], [...stack, raw]);
      out.push(raw);
    }
  };
  walk(list, []);
  return out.filter((n) => !negated.has(n));
}

/** Finds a cycle reachable from `start` (as a path of names), or undefined. */
export function findProfileCycle(start: string, lookup: ProfileLookup): string[] | undefined {
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (path.includes(name)) return [...path.slice(path.indexOf(name)), name];
    for (const child of lookup(name)?.profiles ?? []) {
      if (child.startsWith("~")) continue;
      const c = visit(child, [...path, name]);
      if (c) return c;
    }
    return undefined;
  };
  return visit(start, []);
}

interface Cell {
  value: unknown;
  contributors: string[];
}

/** Resolves a node (or a profile viewed on its own) through its profiles. */
export function resolve(conf: Conf, lookup: ProfileLookup, isNode = true): Resolved {
  const problems: string[] = [];
  const profiles = expandProfiles(conf.profiles ?? [], lookup, problems);
  const layers: Layer[] = profiles.map((p) => ({ source: p, conf: lookup(p)! }));
  layers.push({ source: NODE_SOURCE, conf });
  const { conf: out, provenance } = mergeLayers(layers, isNode);
  return { conf: out, profiles, provenance, problems };
}

export function mergeLayers(layers: readonly Layer[], isNode = true): { conf: Conf; provenance: ProvenanceRow[] } {
  const provenance: ProvenanceRow[] = [];
  const conf = mergeStruct(CONF_SCHEMA.fields, layers, "", provenance, isNode, true) as Conf;
  return { conf, provenance };
}

function mergeStruct(
  fields: Record<string, FieldDef>,
  layers: readonly Layer[],
  prefix: string,
  prov: ProvenanceRow[],
  isNode: boolean,
  top: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(fields)) {
    if (top && def.nodeOnly && !isNode) continue;
    const display = prefix ? `${prefix}.${def.display}` : def.display;
    const own = def.local ? layers.filter((l) => l.source === NODE_SOURCE) : layers;
    const sub = own.map((l) => ({ source: l.source, conf: (l.conf as Record<string, unknown>)[key] as Conf }));
    const v = mergeValue(def.schema, sub, display, prov, isNode);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function mergeValue(schema: Schema, layers: readonly { source: string; conf: unknown }[], display: string, prov: ProvenanceRow[], isNode: boolean): unknown {
  switch (schema.t) {
    case "scalar":
    case "opaque": {
      const cell: Cell = { value: undefined, contributors: [] };
      for (const l of layers) {
        if (l.conf === undefined || l.conf === null || l.conf === "") continue;
        cell.value = l.conf;
        cell.contributors.push(l.source);
      }
      prov.push(row(display, cell, "winner", schema.t === "scalar" && !!schema.secret));
      return cell.value;
    }
    case "list": {
      let acc: string[] = [];
      const contributors: string[] = [];
      for (const l of layers) {
        const items = l.conf as string[] | undefined;
        if (!items || items.length === 0) continue;
        contributors.push(l.source);
        for (const item of items) {
          if (item.startsWith("~")) acc = acc.filter((x) => x !== item.slice(1));
          else if (!acc.includes(item)) acc.push(item);
        }
      }
      prov.push(row(display, { value: acc.length ? acc : undefined, contributors }, "list", false));
      return acc.length ? acc : undefined;
    }
    case "map": {
      const keys: string[] = [];
      for (const l of layers) for (const k of Object.keys((l.conf as object) ?? {})) if (!keys.includes(k)) keys.push(k);
      if (keys.length === 0) return undefined;
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const sub = layers.map((l) => ({ source: l.source, conf: (l.conf as Record<string, unknown> | undefined)?.[k] }));
        const v = mergeValue(schema.of, sub, `${display}[${k}]`, prov, isNode);
        if (v !== undefined) out[k] = v;
      }
      return Object.keys(out).length ? out : undefined;
    }
    case "struct": {
      const sub = layers.map((l) => ({ source: l.source, conf: (l.conf ?? {}) as Conf }));
      const v = mergeStruct(schema.fields, sub, display, prov, isNode, false);
      return Object.keys(v).length ? v : undefined;
    }
  }
}

function row(field: string, cell: Cell, mode: "winner" | "list", secret: boolean): ProvenanceRow {
  const c = cell.contributors;
  let source = "";
  if (c.length > 0) {
    if (mode === "list") source = c.join(",");
    else {
      const last = c[c.length - 1]!;
      source = last === NODE_SOURCE && c.length > 1 ? SUPERSEDED : last;
    }
  }
  return { field, source, value: cell.value, contributors: [...c], ...(secret ? { secret } : {}) };
}

/** Formats a provenance value the way `node list -a` prints it. */
export function formatValue(v: unknown, secret = false, showSecrets = false): string {
  if (v === undefined || v === null || v === "") return "--";
  if (secret && !showSecrets) return SECRET_MASK;
  if (Array.isArray(v)) return v.join(",");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
