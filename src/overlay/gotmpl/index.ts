import { type ExecOptions, type FuncDef, type FuncMap, execute } from "./exec";
import { builtins, sprig } from "./funcs";
import { type Trees, parse } from "./parse";

/**
 * Go's text/template in TypeScript (lex.ts → parse.ts → exec.ts; funcs.ts holds the builtins and Sprig).
 * `Template` is the whole API: parse once, execute many times with different data.
 */

export { type Budget, GoTemplateError } from "./parse";
export { Halt, type FuncDef, type FuncMap, type Writer } from "./exec";
export { GoError, NO_VALUE, GO_STRING, GO_TRUTH, GO_TYPE, READONLY, ZERO } from "./values";

export class Template {
  readonly trees: Trees;

  /** Parses `text`; `funcs` are the names known besides the builtins (Go refuses an unknown one at parse time). */
  constructor(
    readonly name: string,
    text: string,
    funcNames?: { has(name: string): boolean },
  ) {
    const known = funcNames ? { has: (n: string) => BUILTIN_NAMES.has(n) || funcNames.has(n) } : undefined;
    this.trees = parse(name, text, new Map(), known);
  }

  /** Executes with `data` as dot; functions are the builtins, then `funcs` (a later name wins). */
  execute(data: unknown, funcs: FuncMap, opts: Omit<ExecOptions, "funcs"> & { write?: (s: string) => void } = {}): string {
    const all: FuncMap = new Map([...BUILTINS, ...funcs]);
    let out = "";
    const w = opts.write ? { write: opts.write } : { write: (s: string) => void (out += s) };
    execute(this.trees, this.name, data, w, { ...opts, funcs: all });
    return out;
  }
}

const BUILTINS: FuncMap = builtins();
const BUILTIN_NAMES = new Set(BUILTINS.keys());

/** Builtins and Sprig: the functions a plain Go template with Sprig sees. */
export function standardFuncs(buildTime?: Date): FuncMap {
  return new Map<string, FuncDef>([...sprig(buildTime)]);
}

/** Renders `text` with `data` (builtins + Sprig + `funcs`): for tests and one-off use. */
export function renderGo(text: string, data: unknown, funcs: FuncMap = new Map(), name = "t"): string {
  const all = new Map([...standardFuncs(), ...funcs]);
  return new Template(name, text, all).execute(data, all);
}
