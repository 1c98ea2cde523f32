/**
 * How Go values are represented for the executor, and Go's fmt formatting of them.
 *
 * - `string`, `number` (an integer value is an int, any other a float64), `boolean`, `null` (nil);
 * - NO_VALUE: Go's invalid reflect.Value, what a missing map key yields; printed `<no value>`;
 * - an array: a slice; a `Map`: a Go map (ranged and printed in sorted key order);
 * - any other object: a struct: its own properties are fields, a function property is a method (called
 *   with the template's arguments). `[GO_TYPE]` names its type for messages, `[GO_STRING]` makes it a
 *   fmt.Stringer, `[GO_TRUTH]` overrides its truth (a net.IP is a slice: empty is false).
 */

export const NO_VALUE: unique symbol = Symbol("no value");
export type NoValue = typeof NO_VALUE;
export const GO_TYPE: unique symbol = Symbol("go type");
export const GO_STRING: unique symbol = Symbol("go string");
export const GO_TRUTH: unique symbol = Symbol("go truth");
/** A map's element zero value (what `index` returns for a missing key): "" for map[string]string. */
export const ZERO: unique symbol = Symbol("zero");
/** A map or slice that belongs to the template data: functions like `set` must not change it. */
export const READONLY: unique symbol = Symbol("readonly");

export type GoStruct = { [GO_TYPE]?: string; [GO_STRING]?: () => string; [GO_TRUTH]?: () => boolean; [k: string]: unknown };

/** An error raised by a function or a method: Go's `error calling NAME: …`. */
export class GoError extends Error {}

export const isStruct = (v: unknown): v is GoStruct => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Map);

export function typeName(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint") return "int64";
  if (typeof v === "function") return "func";
  if (Array.isArray(v)) return (v as { [GO_TYPE]?: string })[GO_TYPE] ?? "[]interface {}";
  if (v instanceof Map) return (v as { [GO_TYPE]?: string })[GO_TYPE] ?? "map[string]interface {}";
  return (v as GoStruct)[GO_TYPE] ?? "struct";
}

/** Go's truth (text/template isTrue): empty strings, slices, maps, zero numbers, false and nil are false. */
export function truth(v: unknown): boolean {
  if (v === NO_VALUE || v === undefined || v === null) return false;
  switch (typeof v) {
    case "string":
      return v.length > 0;
    case "number":
      return v !== 0;
    case "bigint":
      return v !== 0n;
    case "boolean":
      return v;
    case "function":
      return true;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  const t = (v as GoStruct)[GO_TRUTH];
  return t ? t.call(v) : true;
}

/** Sorted keys, as Go's fmt and text/template order a map (numbers numerically, strings bytewise). */
export function sortedKeys(m: Map<unknown, unknown>): unknown[] {
  return [...m.keys()].sort((a, b) => (typeof a === "number" && typeof b === "number" ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
}

/** Go's strconv.FormatFloat(f, 'g', prec, 64); prec -1 is the shortest (what %v uses). */
export function formatFloatG(f: number, prec = -1, upper = false): string {
  if (Number.isNaN(f)) return "NaN";
  if (!Number.isFinite(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  const p = prec === 0 ? 1 : prec;
  const [mant, e] = (prec < 0 ? Math.abs(f).toExponential() : Math.abs(f).toExponential(p - 1)).split("e") as [string, string];
  const x = Number(e);
  const ds = mant.replace(".", "").replace(/0+$/, "") || "0";
  const eprec = prec < 0 ? 6 : p;
  let out: string;
  if (x < -4 || x >= eprec) {
    out = `${ds[0]}${ds.length > 1 ? `.${ds.slice(1)}` : ""}e${x < 0 ? "-" : "+"}${String(Math.abs(x)).padStart(2, "0")}`;
  } else if (x >= 0) {
    const whole = ds.padEnd(x + 1, "0");
    out = whole.slice(0, x + 1) + (whole.length > x + 1 ? `.${whole.slice(x + 1)}` : "");
  } else out = `0.${"0".repeat(-x - 1)}${ds}`;
  if (f < 0) out = `-${out}`;
  return upper ? out.toUpperCase() : out;
}

/** Go's strconv.Quote. */
export function goQuote(s: string, ascii = false): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (c === 7) out += "\\a";
    else if (c === 8) out += "\\b";
    else if (c === 12) out += "\\f";
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c === 9) out += "\\t";
    else if (c === 11) out += "\\v";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c === 0xfffd && ch !== "\ufffd") out += "\\ufffd";
    else if (c > 0x7e && (ascii || !/[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u.test(ch) || (c !== 0x20 && /\p{Zs}/u.test(ch))))
      out += c > 0xffff ? `\\U${c.toString(16).padStart(8, "0")}` : `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** fmt's %v of a value (`nested`: inside a slice, map or struct). */
export function formatV(v: unknown, plus = false, sharp = false, nested = false): string {
  if (v === NO_VALUE || v === undefined) return nested ? "<nil>" : "<no value>";
  if (v === null) return "<nil>";
  switch (typeof v) {
    case "string":
      return sharp ? goQuote(v) : v;
    case "number":
      return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? BigInt(v).toString() : formatFloatG(v);
    case "bigint":
      return String(v);
    case "boolean":
      return String(v);
    case "function":
      return "0x1";
  }
  if (typeof v === "symbol") return "<nil>";
  const s = (v as GoStruct)[GO_STRING];
  if (s) return s.call(v);
  if (v instanceof Uint8Array) return `[${[...v].join(" ")}]`;
  if (Array.isArray(v)) return `[${v.map((x) => formatV(x, plus, sharp, true)).join(" ")}]`;
  if (v instanceof Map)
    return `map[${sortedKeys(v)
      .map((k) => `${formatV(k, plus, sharp, true)}:${formatV(v.get(k), plus, sharp, true)}`)
      .join(" ")}]`;
  const o = v as GoStruct;
  return `{${Object.keys(o)
    .filter((k) => typeof o[k] !== "function")
    .map((k) => (plus ? `${k}:` : "") + formatV(o[k], plus, sharp, true))
    .join(" ")}}`;
}

const isNum = (v: unknown): v is number => typeof v === "number";
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

function pad(s: string, width: number | undefined, minus: boolean, zero: boolean): string {
  if (width === undefined || [...s].length >= width) return s;
  const n = width - [...s].length;
  if (minus) return s + " ".repeat(n);
  if (zero) {
    const sign = /^[+-]/.test(s) ? s[0]! : "";
    const rest = sign ? s.slice(1) : s;
    const pre = /^0[xXbo]/.test(rest) ? rest.slice(0, 2) : "";
    return sign + pre + "0".repeat(n) + rest.slice(pre.length);
  }
  return " ".repeat(n) + s;
}

const bytesOf = (s: string) => new TextEncoder().encode(s);

/** Go's fmt: a width or precision beyond ±1e6 is out of range. */
const tooLarge = (x: number) => x > 1e6 || x < -1e6;

/** Go's fmt.parsenum: the digits at `at`; a number that grows too large consumes the rest of the format. */
function parseNum(format: string, at: number): { num: number | undefined; next: number } {
  let num: number | undefined;
  let i = at;
  for (; i < format.length && format[i]! >= "0" && format[i]! <= "9"; i++) {
    if (num !== undefined && tooLarge(num)) return { num: undefined, next: format.length };
    num = (num ?? 0) * 10 + (format.charCodeAt(i) - 48);
  }
  return { num, next: i };
}

/** Go's fmt.Sprintf: the common verbs and flags, with fmt's `%!d(string=x)`, `%!v(MISSING)` and `%!(EXTRA …)`. */
export function sprintf(format: string, args: unknown[]): string {
  let out = "";
  let ai = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c !== "%") {
      out += c;
      i++;
      continue;
    }
    i++;
    let minus = false;
    let plus = false;
    let sharp = false;
    let zero = false;
    let space = false;
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === "-") minus = true;
      else if (f === "+") plus = true;
      else if (f === "#") sharp = true;
      else if (f === "0") zero = !minus;
      else if (f === " ") space = true;
      else break;
    }
    // Widths and precisions over a million are refused as Go's fmt refuses them (tooLarge): `%!(BADWIDTH)`
    // for one from an argument, the rest of the format for a literal one. A width is a string of that size.
    let width: number | undefined;
    let prec: number | undefined;
    if (format[i] === "*") {
      const w = ai < args.length ? args[ai] : undefined;
      if (ai < args.length) ai++;
      width = isInt(w) && !tooLarge(w) ? w : undefined;
      if (width === undefined) out += "%!(BADWIDTH)";
      else if (width < 0) {
        minus = true;
        zero = false;
        width = -width;
      }
      i++;
    } else {
      const n = parseNum(format, i);
      width = n.num;
      i = n.next;
    }
    if (format[i] === ".") {
      i++;
      if (format[i] === "*") {
        const pv = ai < args.length ? args[ai] : undefined;
        if (ai < args.length) ai++;
        prec = isInt(pv) && !tooLarge(pv) && pv >= 0 ? pv : undefined;
        if (prec === undefined) out += "%!(BADPREC)";
        i++;
      } else {
        const n = parseNum(format, i);
        prec = n.num ?? 0;
        i = n.next;
      }
    }
    const verb = format[i];
    i++;
    if (verb === undefined) {
      out += "%!(NOVERB)";
      break;
    }
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (ai >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[ai++];
    out += pad(formatOne(verb, a, { plus, sharp, space, prec }), width, minus, zero && !minus);
  }
  if (ai < args.length)
    out += `%!(EXTRA ${args
      .slice(ai)
      .map((a) => `${typeName(a)}=${formatV(a)}`)
      .join(", ")})`;
  return out;
}

function bad(verb: string, a: unknown): string {
  if (a === null || a === NO_VALUE || a === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(a)}=${formatV(a)})`;
}

function formatOne(verb: string, a: unknown, o: { plus: boolean; sharp: boolean; space: boolean; prec: number | undefined }): string {
  const sign = (s: string, n: number) => (n >= 0 && o.plus ? `+${s}` : n >= 0 && o.space ? ` ${s}` : s);
  if (a === NO_VALUE) a = null;
  switch (verb) {
    case "v":
      if (isNum(a)) return sign(formatV(a), a);
      return formatV(a, o.plus, o.sharp, a === null);
    case "T":
      return typeName(a);
    case "s":
    case "q": {
      let s: string;
      if (typeof a === "string") s = a;
      else if (a !== null && typeof a === "object" && (a as GoStruct)[GO_STRING]) s = formatV(a);
      else if (Array.isArray(a) && verb === "s") return `[${a.map((x) => (typeof x === "string" ? x : formatOne("s", x, o))).join(" ")}]`;
      else if (verb === "q" && isInt(a)) return `'${String.fromCodePoint(a)}'`;
      else return bad(verb, a);
      if (o.prec !== undefined) s = [...s].slice(0, o.prec).join("");
      return verb === "q" ? (o.sharp && !s.includes("`") ? `\`${s}\`` : goQuote(s, o.plus)) : s;
    }
    case "d":
      if (isInt(a)) return sign(String(a), a);
      if (typeof a === "bigint") return String(a);
      if (Array.isArray(a)) return `[${a.map((x) => formatOne("d", x, o)).join(" ")}]`;
      return bad(verb, a);
    case "b":
    case "o":
    case "O":
    case "x":
    case "X": {
      const base = verb === "b" ? 2 : verb === "x" || verb === "X" ? 16 : 8;
      let s: string;
      if (isInt(a)) {
        s = Math.abs(a).toString(base);
        if (o.prec !== undefined) s = s.padStart(o.prec, "0");
        if (o.sharp || verb === "O") s = (base === 16 ? "0x" : base === 8 ? (verb === "O" ? "0o" : "0") : "0b") + s;
        s = a < 0 ? `-${s}` : sign(s, a);
      } else if ((typeof a === "string" || a instanceof Uint8Array) && base === 16) {
        const b = typeof a === "string" ? bytesOf(a) : a;
        s = [...b].map((x) => x.toString(16).padStart(2, "0")).join(o.space ? " " : "");
        if (o.sharp) s = `0x${s}`;
      } else if (isNum(a) && verb === "x") s = a.toString(16);
      else return bad(verb, a);
      return verb === "X" ? s.toUpperCase().replace(/^0X/, "0X") : s;
    }
    case "c":
      return isInt(a) ? String.fromCodePoint(a) : bad(verb, a);
    case "U":
      return isInt(a) ? `U+${a.toString(16).toUpperCase().padStart(4, "0")}` : bad(verb, a);
    case "t":
      return typeof a === "boolean" ? String(a) : bad(verb, a);
    case "f":
    case "F":
      return isNum(a) ? sign(a.toFixed(o.prec ?? 6), a) : bad(verb, a);
    case "e":
    case "E": {
      if (!isNum(a)) return bad(verb, a);
      const [m, e] = a.toExponential(o.prec ?? 6).split("e") as [string, string];
      const x = Number(e);
      const s = `${m}e${x < 0 ? "-" : "+"}${String(Math.abs(x)).padStart(2, "0")}`;
      return sign(verb === "E" ? s.toUpperCase() : s, a);
    }
    case "g":
    case "G":
      return isNum(a) ? sign(formatFloatG(a, o.prec ?? -1, verb === "G"), a) : bad(verb, a);
    default:
      return `%!${verb}(${typeName(a)}=${formatV(a)})`;
  }
}

/** fmt.Sprint: spaces between operands when neither is a string. */
export function sprint(args: unknown[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += formatV(a === NO_VALUE ? null : a);
  });
  return out;
}

/** fmt.Sprintln: always spaces, and a newline. */
export function sprintln(args: unknown[]): string {
  return `${args.map((a) => formatV(a === NO_VALUE ? null : a)).join(" ")}\n`;
}
