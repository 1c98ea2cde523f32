import type { FuncDef, FuncMap } from "./exec";
import {
  GoError,
  GO_STRING,
  GO_TYPE,
  NO_VALUE,
  READONLY,
  ZERO,
  formatV,
  goQuote,
  isStruct,
  sortedKeys,
  sprint,
  sprintf,
  sprintln,
  truth,
  typeName,
} from "./values";

/**
 * text/template's builtin functions, and the Sprig (github.com/Masterminds/sprig/v3) functions that
 * templates like Warewulf's use. None reaches the process, the file system, the environment or the network:
 * Sprig's `env`/`expandenv` return "" as they would for an unset variable, and `now` is the build time.
 */

const byteLen = (s: string) => new TextEncoder().encode(s).length;

function basic(v: unknown): "bool" | "int" | "float" | "string" | "nil" | "invalid" | "other" {
  if (v === NO_VALUE || v === undefined) return "invalid";
  if (v === null) return "nil";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "string";
  if (isStruct(v) && v[GO_STRING] && (v as { [GO_TYPE]?: string })[GO_TYPE] === "wwtype.WWbool") return "string";
  return "other";
}

const scalar = (v: unknown) => (isStruct(v) && v[GO_STRING] ? v[GO_STRING]!() : v);

function eq(a: unknown, ...bs: unknown[]): boolean {
  if (bs.length === 0) throw new GoError("missing argument for comparison");
  const k1 = basic(a);
  for (const b of bs) {
    const k2 = basic(b);
    if (k1 === "other" || k2 === "other") {
      if (Array.isArray(a) || a instanceof Map || Array.isArray(b) || b instanceof Map)
        throw new GoError(
          `non-comparable type ${formatV(Array.isArray(a) || a instanceof Map ? a : b)}: ${typeName(Array.isArray(a) || a instanceof Map ? a : b)}`,
        );
      if (a === b) return true;
      continue;
    }
    if (k1 !== k2 && !((k1 === "int" && k2 === "float") || (k1 === "float" && k2 === "int"))) {
      if (k1 === "invalid" || k2 === "invalid" || k1 === "nil" || k2 === "nil") continue;
      throw new GoError("incompatible types for comparison");
    }
    if (scalar(a) === scalar(b)) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const k1 = basic(a);
  const k2 = basic(b);
  if (k1 === "other" || k1 === "invalid" || k1 === "nil" || k1 === "bool" || k2 === "other" || k2 === "invalid" || k2 === "nil" || k2 === "bool")
    throw new GoError("invalid type for comparison");
  const num = (k: string) => k === "int" || k === "float";
  if (k1 !== k2 && !(num(k1) && num(k2))) throw new GoError("incompatible types for comparison");
  return (scalar(a) as number | string) < (scalar(b) as number | string);
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  if (v === null || v === NO_VALUE) throw new GoError("index of untyped nil");
  for (const k of keys) {
    if (Array.isArray(v) || typeof v === "string") {
      if (typeof k !== "number" || !Number.isInteger(k)) throw new GoError(`cannot index slice/array with type ${typeName(k)}`);
      const len = typeof v === "string" ? byteLen(v) : v.length;
      if (k < 0 || k >= len) throw new GoError(`index out of range: ${k}`);
      v = typeof v === "string" ? new TextEncoder().encode(v)[k] : v[k];
    } else if (v instanceof Map) {
      v = v.has(k) ? v.get(k) : ((v as { [ZERO]?: unknown })[ZERO] ?? null);
    } else if (v === null) {
      throw new GoError("index of nil pointer");
    } else throw new GoError(`can't index item of type ${typeName(v)}`);
  }
  return v === undefined ? null : v;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  if (item === null || item === NO_VALUE) throw new GoError("slice of untyped nil");
  if (idx.length > 3) throw new GoError(`too many slice indexes: ${idx.length}`);
  for (const i of idx) if (typeof i !== "number" || !Number.isInteger(i)) throw new GoError(`cannot index slice/array with type ${typeName(i)}`);
  const ix = idx as number[];
  if (typeof item === "string") {
    if (ix.length === 3) throw new GoError("cannot 3-index slice a string");
    const b = new TextEncoder().encode(item);
    const lo = ix[0] ?? 0;
    const hi = ix[1] ?? b.length;
    if (lo < 0 || hi < lo || hi > b.length) throw new GoError(`index out of range: ${hi > b.length ? hi : lo}`);
    return new TextDecoder().decode(b.slice(lo, hi));
  }
  if (!Array.isArray(item)) throw new GoError(`can't slice item of type ${typeName(item)}`);
  const lo = ix[0] ?? 0;
  const hi = ix[1] ?? item.length;
  if (lo < 0 || hi < lo || hi > item.length || (ix[2] !== undefined && (ix[2] < hi || ix[2] > item.length))) throw new GoError(`index out of range: ${hi}`);
  return item.slice(lo, hi);
}

function len(v: unknown): number {
  if (typeof v === "string") return byteLen(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (v === null || v === NO_VALUE) throw new GoError("len of nil pointer");
  throw new GoError(`len of type ${typeName(v)}`);
}

const evalArgs = (args: unknown[]) => (args.length === 1 && typeof args[0] === "string" ? args[0] : sprint(args));

export function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ "\0": "\uFFFD", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
}

export function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === "<") out += "\\u003C";
    else if (ch === ">") out += "\\u003E";
    else if (ch === "&") out += "\\u0026";
    else if (ch === "=") out += "\\u003D";
    else if (c < 0x20) out += `\\u${c.toString(16).toUpperCase().padStart(4, "0")}`;
    else if (c < 0x80 || /[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u.test(ch)) out += ch;
    else out += `\\u${c.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return out;
}

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function builtins(): FuncMap {
  const f: [string, FuncDef][] = [
    ["and", { fn: () => null, params: ["value"], variadic: "value", lazy: "and" }],
    ["or", { fn: () => null, params: ["value"], variadic: "value", lazy: "or" }],
    ["not", { fn: (v: unknown) => !truth(v), params: ["value"] }],
    ["len", { fn: len, params: ["value"] }],
    ["index", { fn: index, params: ["value"], variadic: "any" }],
    ["slice", { fn: slice, params: ["value"], variadic: "any" }],
    ["print", { fn: (...a: unknown[]) => sprint(a), variadic: "any" }],
    ["printf", { fn: (format: string, ...a: unknown[]) => sprintf(format, a), params: ["string"], variadic: "any" }],
    ["println", { fn: (...a: unknown[]) => sprintln(a), variadic: "any" }],
    ["html", { fn: (...a: unknown[]) => htmlEscape(evalArgs(a)), variadic: "any" }],
    ["js", { fn: (...a: unknown[]) => jsEscape(evalArgs(a)), variadic: "any" }],
    ["urlquery", { fn: (...a: unknown[]) => queryEscape(evalArgs(a)), variadic: "any" }],
    ["eq", { fn: eq, params: ["value"], variadic: "value" }],
    ["ne", { fn: (a: unknown, b: unknown) => !eq(a, b), params: ["value", "value"] }],
    ["lt", { fn: lt, params: ["value", "value"] }],
    ["le", { fn: (a: unknown, b: unknown) => lt(a, b) || eq(a, b), params: ["value", "value"] }],
    ["gt", { fn: (a: unknown, b: unknown) => !lt(a, b) && !eq(a, b), params: ["value", "value"] }],
    ["ge", { fn: (a: unknown, b: unknown) => !lt(a, b), params: ["value", "value"] }],
    [
      "call",
      {
        fn: (fn: unknown, ...a: unknown[]) => {
          if (typeof fn !== "function") throw new GoError(`non-function of type ${typeName(fn)}`);
          return fn(...a);
        },
        params: ["value"],
        variadic: "any",
      },
    ],
  ];
  return new Map(f);
}

// ---- Sprig ----

/** A new map made by a template (dict, split …), which `set`/`unset` may change. */
export function newMap(entries: Iterable<[unknown, unknown]> = []): Map<unknown, unknown> {
  return new Map(entries);
}

const toStr = (v: unknown): string => (v === null || v === NO_VALUE ? "" : typeof v === "string" ? v : formatV(v));
const toList = (v: unknown): unknown[] => {
  if (v === null || v === NO_VALUE) return [];
  if (Array.isArray(v)) return v;
  throw new GoError(`cannot find ${typeName(v)}: not a list`);
};
const toInt = (v: unknown): number => {
  if (typeof v === "number") return Math.trunc(v);
  if (typeof v === "string") {
    const n = Number.parseInt(v, 10);
    return Number.isNaN(n) ? 0 : n;
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  return 0;
};
const toFloat = (v: unknown): number => (typeof v === "number" ? v : typeof v === "string" ? Number(v) || 0 : typeof v === "boolean" ? Number(v) : 0);

/** Sprig's `empty`. */
export function empty(v: unknown): boolean {
  if (v === null || v === NO_VALUE || v === undefined) return true;
  if (isStruct(v)) return false;
  return !truth(v);
}

function writable(m: unknown, fn: string): Map<unknown, unknown> {
  if (!(m instanceof Map)) throw new GoError(`${fn}: wrong type for value; expected map[string]interface {}; got ${typeName(m)}`);
  if ((m as { [READONLY]?: boolean })[READONLY]) throw new GoError(`${fn}: templates cannot change their data; copy it first (dict, merge)`);
  return m;
}

/** Go regexp (RE2) syntax to JavaScript: named groups and a leading (?flags). */
function regex(pattern: string, global = false): RegExp {
  let flags = global ? "g" : "";
  let p = pattern.replace(/\(\?P</g, "(?<");
  const m = /^\(\?([imsU]+)\)/.exec(p);
  if (m) {
    p = p.slice(m[0].length);
    for (const c of m[1]!) if (c !== "U" && !flags.includes(c)) flags += c;
  }
  try {
    return new RegExp(p, `${flags}u`);
  } catch (e) {
    throw new GoError(`error parsing regexp: ${(e as Error).message}`);
  }
}

function toJson(v: unknown): string {
  const enc = (x: unknown): string => {
    if (x === null || x === NO_VALUE || x === undefined) return "null";
    if (typeof x === "string") return JSON.stringify(x).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    if (typeof x === "number" || typeof x === "boolean") return String(x);
    if (Array.isArray(x)) return `[${x.map(enc).join(",")}]`;
    if (x instanceof Map)
      return `{${sortedKeys(x)
        .map((k) => `${enc(String(k))}:${enc(x.get(k))}`)
        .join(",")}}`;
    if (isStruct(x)) {
      if (x[GO_STRING]) return enc(x[GO_STRING]!());
      return `{${Object.keys(x)
        .filter((k) => typeof x[k] !== "function")
        .map((k) => `${enc(k)}:${enc(x[k])}`)
        .join(",")}}`;
    }
    return "null";
  };
  return enc(v);
}

function toYaml(v: unknown, indent = ""): string {
  const scalarY = (x: unknown): string => {
    if (x === null || x === NO_VALUE || x === undefined) return "null";
    if (typeof x === "string")
      return x === "" || /^[\s\-?:,[\]{}#&*!|>'"%@`]|: |\s#|\s$|^(true|false|null|yes|no|on|off|~|[-+]?[0-9.]+)$/i.test(x) || x.includes("\n")
        ? JSON.stringify(x)
        : x;
    if (isStruct(x) && x[GO_STRING]) return scalarY(x[GO_STRING]!());
    return String(x);
  };
  if (Array.isArray(v))
    return v.length
      ? v
          .map((x) => `${indent}- ${typeof x === "object" && x !== null && !(isStruct(x) && x[GO_STRING]) ? toYaml(x, `${indent}  `).trimStart() : scalarY(x)}`)
          .join("\n")
      : `${indent}[]`;
  const entries: [string, unknown][] =
    v instanceof Map
      ? sortedKeys(v).map((k) => [String(k), v.get(k)])
      : isStruct(v) && !v[GO_STRING]
        ? Object.keys(v)
            .filter((k) => typeof v[k] !== "function")
            .map((k) => [k, v[k]])
        : [];
  if (!(v instanceof Map) && !(isStruct(v) && !v[GO_STRING])) return `${indent}${scalarY(v)}`;
  if (!entries.length) return `${indent}{}`;
  return entries
    .map(([k, x]) =>
      typeof x === "object" && x !== null && !(isStruct(x) && x[GO_STRING]) && (Array.isArray(x) ? x.length : x instanceof Map ? x.size : Object.keys(x).length)
        ? `${indent}${k}:\n${toYaml(x, Array.isArray(x) ? indent : `${indent}  `)}`
        : `${indent}${k}: ${Array.isArray(x) ? "[]" : typeof x === "object" && x !== null && !(isStruct(x) && x[GO_STRING]) ? "{}" : scalarY(x)}`,
    )
    .join("\n");
}

/** Sprig's kindOf: the Go reflect.Kind of a template value as drover models it (nil is "invalid"). */
function kind(v: unknown): string {
  if (v === null) return "invalid";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "slice";
  return v instanceof Map ? "map" : "struct";
}

function title(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase());
}

/** Sprig's text functions used by templates in the wild (Warewulf's first among them). */
export function sprig(buildTime: Date = new Date()): FuncMap {
  const s = (fn: FuncDef["fn"], params: FuncDef["params"], variadic?: FuncDef["variadic"]): FuncDef => ({ fn, params, ...(variadic ? { variadic } : {}) });
  const m: [string, FuncDef][] = [
    // defaults and logic
    ["default", s((d: unknown, ...given: unknown[]) => (given.length === 0 || empty(given[0]) ? d : given[0]), ["any"], "any")],
    ["empty", s(empty, ["any"])],
    ["coalesce", s((...a: unknown[]) => a.find((x) => !empty(x)) ?? null, [], "any")],
    ["all", s((...a: unknown[]) => a.every((x) => !empty(x)), [], "any")],
    ["any", s((...a: unknown[]) => a.some((x) => !empty(x)), [], "any")],
    ["ternary", s((t: unknown, f: unknown, c: boolean) => (c ? t : f), ["any", "any", "bool"])],
    [
      "fail",
      s(
        (msg: string) => {
          throw new GoError(msg);
        },
        ["string"],
      ),
    ],
    [
      "required",
      s(
        (msg: string, v: unknown) => {
          if (v === null || v === "") throw new GoError(msg);
          return v;
        },
        ["string", "any"],
      ),
    ],
    ["toJson", s(toJson, ["any"])],
    ["mustToJson", s(toJson, ["any"])],
    ["toString", s(toStr, ["any"])],
    ["toStrings", s((v: unknown) => toList(v).map(toStr), ["any"])],
    ["toYaml", s((v: unknown) => toYaml(v), ["any"])],
    ["kindOf", s(kind, ["any"])],
    ["kindIs", s((k: string, v: unknown) => kind(v) === k, ["string", "any"])],
    ["typeOf", s((v: unknown) => typeName(v), ["any"])],
    ["typeIs", s((t: string, v: unknown) => typeName(v) === t, ["string", "any"])],
    ["deepEqual", s((a: unknown, b: unknown) => toJson(a) === toJson(b), ["any", "any"])],
    // strings
    ["trim", s((x: string) => x.trim(), ["string"])],
    ["trimAll", s((c: string, x: string) => trimChars(x, c, true, true), ["string", "string"])],
    ["trimSuffix", s((suf: string, x: string) => (suf && x.endsWith(suf) ? x.slice(0, -suf.length) : x), ["string", "string"])],
    ["trimPrefix", s((pre: string, x: string) => (x.startsWith(pre) ? x.slice(pre.length) : x), ["string", "string"])],
    ["upper", s((x: string) => x.toUpperCase(), ["string"])],
    ["lower", s((x: string) => x.toLowerCase(), ["string"])],
    ["title", s(title, ["string"])],
    [
      "repeat",
      s(
        (n: number, x: string) => {
          if (n * x.length > 16 * 1024 * 1024) throw new GoError("repeat: the result would be too large");
          return x.repeat(Math.max(0, n));
        },
        ["int", "string"],
      ),
    ],
    [
      "substr",
      s(
        (start: number, end: number, x: string) => (start < 0 ? x.slice(0, end) : end < 0 || end > x.length ? x.slice(start) : x.slice(start, end)),
        ["int", "int", "string"],
      ),
    ],
    ["trunc", s((c: number, x: string) => (c < 0 && x.length + c > 0 ? x.slice(x.length + c) : c >= 0 && x.length > c ? x.slice(0, c) : x), ["int", "string"])],
    ["nospace", s((x: string) => x.replace(/\s/g, ""), ["string"])],
    ["contains", s((sub: string, x: string) => x.includes(sub), ["string", "string"])],
    ["hasPrefix", s((pre: string, x: string) => x.startsWith(pre), ["string", "string"])],
    ["hasSuffix", s((suf: string, x: string) => x.endsWith(suf), ["string", "string"])],
    [
      "quote",
      s(
        (...a: unknown[]) =>
          a
            .filter((x) => x !== null)
            .map((x) => goQuote(toStr(x)))
            .join(" "),
        [],
        "any",
      ),
    ],
    [
      "squote",
      s(
        (...a: unknown[]) =>
          a
            .filter((x) => x !== null)
            .map((x) => `'${toStr(x)}'`)
            .join(" "),
        [],
        "any",
      ),
    ],
    [
      "cat",
      s(
        (...a: unknown[]) =>
          a
            .filter((x) => x !== null)
            .map(toStr)
            .join(" "),
        [],
        "any",
      ),
    ],
    ["indent", s((n: number, x: string) => indent("indent", n, x), ["int", "string"])],
    ["nindent", s((n: number, x: string) => `\n${indent("nindent", n, x)}`, ["int", "string"])],
    ["replace", s((old: string, nw: string, x: string) => x.split(old).join(nw), ["string", "string", "string"])],
    ["plural", s((one: string, many: string, n: number) => (n === 1 ? one : many), ["string", "string", "int"])],
    ["split", s((sep: string, x: string) => newMap(x.split(sep).map((p, i) => [`_${i}`, p])), ["string", "string"])],
    ["splitList", s((sep: string, x: string) => x.split(sep), ["string", "string"])],
    [
      "splitn",
      s(
        (sep: string, n: number, x: string) => {
          const parts = x.split(sep);
          const out = n > 0 && parts.length > n ? [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)] : parts;
          return newMap(out.map((p, i) => [`_${i}`, p]));
        },
        ["string", "int", "string"],
      ),
    ],
    ["join", s((sep: string, v: unknown) => (typeof v === "string" ? v : toList(v).map(toStr).join(sep)), ["string", "any"])],
    ["sortAlpha", s((v: unknown) => toList(v).map(toStr).sort(), ["any"])],
    ["wrap", s((n: number, x: string) => wrapText(x, n), ["int", "string"])],
    ["abbrev", s((n: number, x: string) => (x.length <= n ? x : n < 4 ? x : `${x.slice(0, n - 3)}...`), ["int", "string"])],
    [
      "initials",
      s(
        (x: string) =>
          x
            .split(/\s+/)
            .filter(Boolean)
            .map((w) => w[0])
            .join(""),
        ["string"],
      ),
    ],
    [
      "snakecase",
      s(
        (x: string) =>
          x
            .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
            .replace(/[\s-]+/g, "_")
            .toLowerCase(),
        ["string"],
      ),
    ],
    [
      "camelcase",
      s(
        (x: string) =>
          x
            .split(/[_\s-]+/)
            .map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : ""))
            .join(""),
        ["string"],
      ),
    ],
    [
      "kebabcase",
      s(
        (x: string) =>
          x
            .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
            .replace(/[\s_]+/g, "-")
            .toLowerCase(),
        ["string"],
      ),
    ],
    ["b64enc", s((x: string) => Buffer.from(x, "utf8").toString("base64"), ["string"])],
    ["b64dec", s((x: string) => Buffer.from(x, "base64").toString("utf8"), ["string"])],
    ["regexMatch", s((re: string, x: string) => regex(re).test(x), ["string", "string"])],
    ["mustRegexMatch", s((re: string, x: string) => regex(re).test(x), ["string", "string"])],
    ["regexFind", s((re: string, x: string) => regex(re).exec(x)?.[0] ?? "", ["string", "string"])],
    [
      "regexFindAll",
      s((re: string, x: string, n: number) => [...x.matchAll(regex(re, true))].map((m) => m[0]).slice(0, n < 0 ? undefined : n), ["string", "string", "int"]),
    ],
    [
      "regexReplaceAll",
      s(
        (re: string, x: string, repl: string) =>
          x.replace(
            regex(re, true),
            repl.replace(/\$\{?(\w+)\}?/g, (_m, g: string) => (/^\d+$/.test(g) ? `$${g}` : `$<${g}>`)),
          ),
        ["string", "string", "string"],
      ),
    ],
    ["regexReplaceAllLiteral", s((re: string, x: string, repl: string) => x.replace(regex(re, true), () => repl), ["string", "string", "string"])],
    [
      "regexSplit",
      s(
        (re: string, x: string, n: number) => {
          const parts = x.split(regex(re, true));
          return n < 0
            ? parts
            : n === 0
              ? []
              : parts.length > n
                ? [
                    ...parts.slice(0, n - 1),
                    x
                      .split(regex(re, true))
                      .slice(n - 1)
                      .join(""),
                  ]
                : parts;
        },
        ["string", "string", "int"],
      ),
    ],
    ["regexQuoteMeta", s((x: string) => x.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&"), ["string"])],
    // numbers
    ["atoi", s((x: string) => toInt(x), ["string"])],
    ["int", s(toInt, ["any"])],
    ["int64", s(toInt, ["any"])],
    ["float64", s(toFloat, ["any"])],
    ["add", s((...a: unknown[]) => a.reduce<number>((n, x) => n + toInt(x), 0), [], "any")],
    ["add1", s((x: unknown) => toInt(x) + 1, ["any"])],
    ["sub", s((a: unknown, b: unknown) => toInt(a) - toInt(b), ["any", "any"])],
    ["mul", s((...a: unknown[]) => a.reduce<number>((n, x) => n * toInt(x), 1), ["any"], "any")],
    [
      "div",
      s(
        (a: unknown, b: unknown) => {
          if (toInt(b) === 0) throw new GoError("runtime error: integer divide by zero");
          return Math.trunc(toInt(a) / toInt(b));
        },
        ["any", "any"],
      ),
    ],
    [
      "mod",
      s(
        (a: unknown, b: unknown) => {
          if (toInt(b) === 0) throw new GoError("runtime error: integer divide by zero");
          return toInt(a) % toInt(b);
        },
        ["any", "any"],
      ),
    ],
    ["max", s((a: unknown, ...r: unknown[]) => Math.max(toInt(a), ...r.map(toInt)), ["any"], "any")],
    ["min", s((a: unknown, ...r: unknown[]) => Math.min(toInt(a), ...r.map(toInt)), ["any"], "any")],
    ["until", s((n: number) => range(0, n, n < 0 ? -1 : 1), ["int"])],
    ["untilStep", s((a: number, b: number, st: number) => range(a, b, st), ["int", "int", "int"])],
    [
      "seq",
      s(
        (...a: number[]) => {
          const [x, y, z] = a.map(toInt);
          const r =
            a.length === 1
              ? range(1, x! + 1, 1)
              : a.length === 2
                ? range(x!, y! + (y! >= x! ? 1 : -1), y! >= x! ? 1 : -1)
                : range(x!, z! + (y! > 0 ? 1 : -1), y!);
          return r.join(" ");
        },
        [],
        "any",
      ),
    ],
    // lists
    ["list", s((...a: unknown[]) => [...a], [], "any")],
    ["tuple", s((...a: unknown[]) => [...a], [], "any")],
    ["append", s((l: unknown, v: unknown) => [...toList(l), v], ["any", "any"])],
    ["push", s((l: unknown, v: unknown) => [...toList(l), v], ["any", "any"])],
    ["mustAppend", s((l: unknown, v: unknown) => [...toList(l), v], ["any", "any"])],
    ["prepend", s((l: unknown, v: unknown) => [v, ...toList(l)], ["any", "any"])],
    ["concat", s((...a: unknown[]) => a.flatMap(toList), [], "any")],
    ["first", s((l: unknown) => toList(l)[0] ?? null, ["any"])],
    ["last", s((l: unknown) => toList(l).at(-1) ?? null, ["any"])],
    ["rest", s((l: unknown) => toList(l).slice(1), ["any"])],
    ["initial", s((l: unknown) => toList(l).slice(0, -1), ["any"])],
    ["reverse", s((l: unknown) => [...toList(l)].reverse(), ["any"])],
    ["uniq", s((l: unknown) => toList(l).filter((x, i, a) => a.findIndex((y) => toJson(y) === toJson(x)) === i), ["any"])],
    ["compact", s((l: unknown) => toList(l).filter((x) => !empty(x)), ["any"])],
    ["without", s((l: unknown, ...w: unknown[]) => toList(l).filter((x) => !w.some((y) => toJson(y) === toJson(x))), ["any"], "any")],
    ["has", s((needle: unknown, l: unknown) => toList(l).some((x) => toJson(x) === toJson(needle)), ["any", "any"])],
    [
      "chunk",
      s(
        (n: number, l: unknown) => {
          const a = toList(l);
          const out: unknown[][] = [];
          for (let i = 0; i < a.length; i += Math.max(1, n)) out.push(a.slice(i, i + Math.max(1, n)));
          return out;
        },
        ["int", "any"],
      ),
    ],
    // dicts
    [
      "dict",
      s(
        (...a: unknown[]) => {
          const d = newMap();
          for (let i = 0; i < a.length; i += 2) d.set(toStr(a[i]), i + 1 < a.length ? a[i + 1] : "");
          return d;
        },
        [],
        "any",
      ),
    ],
    ["get", s((d: unknown, k: string) => (d instanceof Map && d.has(k) ? d.get(k) : ""), ["any", "string"])],
    [
      "set",
      s(
        (d: unknown, k: string, v: unknown) => {
          writable(d, "set").set(k, v);
          return d;
        },
        ["any", "string", "any"],
      ),
    ],
    [
      "unset",
      s(
        (d: unknown, k: string) => {
          writable(d, "unset").delete(k);
          return d;
        },
        ["any", "string"],
      ),
    ],
    [
      "hasKey",
      s(
        (d: unknown, k: string) => {
          if (d === null) return false;
          if (!(d instanceof Map)) throw new GoError(`wrong type for value; expected map[string]interface {}; got ${typeName(d)}`);
          return d.has(k);
        },
        ["any", "string"],
      ),
    ],
    ["keys", s((...ds: unknown[]) => ds.flatMap((d) => (d instanceof Map ? [...d.keys()] : [])), [], "any")],
    ["values", s((d: unknown) => (d instanceof Map ? [...d.values()] : []), ["any"])],
    [
      "pluck",
      s((k: string, ...ds: unknown[]) => ds.filter((d) => d instanceof Map && d.has(k)).map((d) => (d as Map<unknown, unknown>).get(k)), ["string"], "any"),
    ],
    ["pick", s((d: unknown, ...ks: string[]) => newMap(d instanceof Map ? [...d].filter(([k]) => ks.includes(String(k))) : []), ["any"], "string")],
    ["omit", s((d: unknown, ...ks: string[]) => newMap(d instanceof Map ? [...d].filter(([k]) => !ks.includes(String(k))) : []), ["any"], "string")],
    [
      "merge",
      s(
        (dst: unknown, ...src: unknown[]) => {
          const d = writable(dst, "merge");
          for (const x of src) if (x instanceof Map) for (const [k, v] of x) if (!d.has(k)) d.set(k, v);
          return d;
        },
        ["any"],
        "any",
      ),
    ],
    [
      "dig",
      s(
        (...a: unknown[]) => {
          const d = a.at(-1);
          const def = a.at(-2);
          let cur: unknown = d;
          for (const k of a.slice(0, -2)) {
            if (!(cur instanceof Map) || !cur.has(k)) return def;
            cur = cur.get(k);
          }
          return cur;
        },
        ["any", "any", "any"],
        "any",
      ),
    ],
    // environment: nothing of the head node's is given to templates
    ["env", s(() => "", ["string"])],
    ["expandenv", s((x: string) => x.replace(/\$\{?\w+\}?/g, ""), ["string"])],
    [
      "now",
      s(
        () => ({
          [GO_TYPE]: "time.Time",
          [GO_STRING]: () => buildTime.toISOString(),
          Unix: () => Math.floor(buildTime.getTime() / 1000),
          Year: () => buildTime.getUTCFullYear(),
        }),
        [],
      ),
    ],
    ["date", s((fmt: string, _t: unknown) => goDate(fmt, buildTime), ["string", "any"])],
  ];
  return new Map(m);
}

/** Sprig's indent: every line prefixed by n spaces; refused before it is built when it would exceed what `repeat` may make. */
function indent(fn: string, n: number, x: string): string {
  const lines = x.split("\n");
  if (n * lines.length + x.length > 16 * 1024 * 1024) throw new GoError(`${fn}: the result would be too large`);
  const pad = " ".repeat(n);
  return lines.map((l) => pad + l).join("\n");
}

function trimChars(x: string, c: string, left: boolean, right: boolean): string {
  let a = 0;
  let b = x.length;
  while (left && a < b && c.includes(x[a]!)) a++;
  while (right && b > a && c.includes(x[b - 1]!)) b--;
  return x.slice(a, b);
}

function range(a: number, b: number, st: number): number[] {
  const out: number[] = [];
  if (st === 0) return out;
  for (let i = a; st > 0 ? i < b : i > b; i += st) {
    out.push(i);
    if (out.length > 1_000_000) throw new GoError("the list would be too long");
  }
  return out;
}

function wrapText(x: string, n: number): string {
  const words = x.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > n) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join("\n");
}

/** Go's time.Format for the common layout elements (UTC). */
export function goDate(layout: string, t: Date): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  const months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
  const days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const map: [string, () => string][] = [
    ["2006", () => String(t.getUTCFullYear())],
    ["January", () => months[t.getUTCMonth()]!],
    ["Monday", () => days[t.getUTCDay()]!],
    ["Jan", () => months[t.getUTCMonth()]!.slice(0, 3)],
    ["Mon", () => days[t.getUTCDay()]!.slice(0, 3)],
    ["MST", () => "UTC"],
    ["01", () => p2(t.getUTCMonth() + 1)],
    ["02", () => p2(t.getUTCDate())],
    ["15", () => p2(t.getUTCHours())],
    ["03", () => p2(t.getUTCHours() % 12 || 12)],
    ["04", () => p2(t.getUTCMinutes())],
    ["05", () => p2(t.getUTCSeconds())],
    ["06", () => p2(t.getUTCFullYear() % 100)],
    ["PM", () => (t.getUTCHours() >= 12 ? "PM" : "AM")],
    ["-0700", () => "+0000"],
    ["Z07:00", () => "Z"],
  ];
  let out = "";
  let i = 0;
  outer: while (i < layout.length) {
    for (const [k, f] of map)
      if (layout.startsWith(k, i)) {
        out += f();
        i += k.length;
        continue outer;
      }
    out += layout[i++];
  }
  return out;
}
