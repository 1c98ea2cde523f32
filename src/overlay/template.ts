import { Eta } from "eta";
import { MAX_OUTPUT, RenderTimeout, type TemplateFn, compileSandboxed, runLimited } from "./sandbox";

/**
 * Strict per-node rendering of overlay templates (eta syntax, files ending `.eta`).
 *
 * A config file with an empty string where an address should be is how nodes boot unreachable, so nothing
 * missing is ever printed silently:
 * - the data is wrapped in a Proxy that throws on any key the object does not have (`it.node.netdevs.eth9`,
 *   a typo like `it.node.nmae`): use `'k' in obj` or `it.opt(obj, "k", default)` for optional keys;
 * - every `<%= expr %>` goes through a filter that refuses `undefined`, `null`, objects and arrays;
 * - the error names the overlay, the template, the line and the node.
 *
 * One template can emit several files (`it.file(name, {mode})` starts the next one), a symlink
 * (`it.softlink(target)`), or nothing (`it.abort()`). Markers are NUL-delimited strings that cannot
 * occur in text output; render() splits them out after eta has run.
 */

export const TEMPLATE_SUFFIX = ".eta";
export const WAREWULF_SUFFIX = ".ww";

/** A template could not be rendered for a node: a missing value, a syntax error, a helper's refusal. */
export class TemplateError extends Error {
  constructor(
    message: string,
    readonly where: { overlay: string; template: string; line?: number; node: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Thrown by a strict accessor or the output filter; turned into a TemplateError with a line number. */
export class MissingValue extends Error {}
/** `it.abort()`: the template writes no file. Not an error. */
class Aborted extends Error {}

export interface FileOpts {
  mode?: number;
  uid?: number;
  gid?: number;
}

export type RenderedFile =
  | { type: "file"; path: string; mode: number; uid: number; gid: number; data: string }
  | { type: "symlink"; path: string; target: string; uid: number; gid: number };

export interface TemplateSource {
  overlay: string;
  /** Path inside the overlay, with the suffix, e.g. `etc/hosts.eta`. */
  path: string;
  text: string;
  mode: number;
  uid: number;
  gid: number;
}

/** Names that libraries probe on any object (promises, JSON, test matchers); never user data. */
const PROBES = new Set(["then", "toJSON", "asymmetricMatch", "$$typeof", "nodeType", "constructor", "inspect"]);

/**
 * Wraps a value so that reading a key it does not have throws MissingValue naming the path. `onTop` is
 * told every top-level key read (the build records which inputs a render depended on).
 */
export function strict<T>(value: T, path = "it", onTop?: (key: string) => void): T {
  const cache = new WeakMap<object, unknown>();
  const wrap = (v: unknown, p: string, top: boolean): unknown => {
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) return v;
    const hit = cache.get(v);
    if (hit && !top) return hit;
    const isArray = Array.isArray(v);
    const proxy = new Proxy(v, {
      get(t, k, r) {
        if (typeof k === "symbol") return Reflect.get(t, k, r);
        if (top) onTop?.(k);
        if (k in t) {
          const x = Reflect.get(t, k, r);
          if (typeof x === "function") return x;
          return wrap(x, isArray && /^\d+$/.test(k) ? `${p}[${k}]` : `${p}.${k}`, false);
        }
        if (PROBES.has(k)) return undefined;
        if (isArray && /^\d+$/.test(k)) throw new MissingValue(`${p}[${k}] does not exist (the list has ${(t as unknown[]).length} item(s))`);
        throw new MissingValue(`${p}.${k} is not defined${suggest(k, Object.keys(t))}`);
      },
      set() {
        throw new MissingValue(`templates cannot change their data (${p})`);
      },
    });
    if (!top) cache.set(v, proxy);
    return proxy;
  };
  return wrap(value, path, true) as T;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

function suggest(k: string, keys: string[]): string {
  const lower = k.toLowerCase();
  const near =
    keys.find((x) => x.toLowerCase() === lower) ?? keys.find((x) => distance(x.toLowerCase(), lower) <= Math.min(2, Math.max(1, Math.floor(lower.length / 2))));
  return near ? ` (did you mean ${near}?)` : keys.length ? ` (it has: ${keys.slice(0, 12).join(", ")}${keys.length > 12 ? ", …" : ""})` : "";
}

/** What the current render printed through the filter so far (bounded by MAX_OUTPUT). */
let printed = 0;

/** The output filter: only strings, numbers, booleans and bigints are ever printed. */
function outputFilter(v: unknown, expr?: string): string {
  const what = expr ? `<%= ${expr} %>` : "a printed value";
  if (v === undefined || v === null)
    throw new MissingValue(`${what} is not set (${v === null ? "null" : "undefined"}); guard it with <% if (…) { %> or give a default`);
  if (typeof v === "object" || typeof v === "function" || typeof v === "symbol")
    throw new MissingValue(
      `${what} is ${Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : `a ${typeof v}`}, not text; print one field, or .join(" ") a list`,
    );
  const s = String(v);
  if ((printed += s.length) > MAX_OUTPUT) throw new MissingValue(tooLarge());
  return s;
}

const tooLarge = () => `the output is larger than ${MAX_OUTPUT / 1024 / 1024} MiB, the most one template may write`;

/** How long one render may take (build threads set it from the service's option). */
let timeLimitMs = 5000;
let onTimeout: ((overlay: string, path: string, node: string, message: string) => void) | undefined;
/** Sets how long one render may take, and who is told when one runs out of time (a build thread). */
export function setRenderTimeLimit(ms: number, told?: typeof onTimeout): void {
  timeLimitMs = ms;
  onTimeout = told;
}

/** How long one render may take: eta's here, a `.ww` template's in build.ts, the same limit for both. */
export function renderTimeLimit(): number {
  return timeLimitMs;
}

/** Tells the build thread that a render ran out of its budget (twice for a template, and it is poisoned). */
export function renderTimedOut(overlay: string, path: string, node: string, message: string): void {
  onTimeout?.(overlay, path, node, message);
}

class StrictEta extends Eta {
  override RuntimeErr = (err: Error, _str: string, line: number, _path: string): never => {
    if (err instanceof Aborted) throw err;
    (err as Error & { etaLine?: number }).etaLine = line;
    throw err;
  };
}

const eta = new StrictEta({
  autoEscape: false,
  autoFilter: false,
  autoTrim: false,
  debug: true,
  useWith: false,
  cache: false,
  filterFunction: outputFilter as (v: unknown) => string,
  plugins: [
    {
      // Route every interpolation through the strict filter, with its own source text for the message.
      processAST(ast: unknown[]) {
        for (const item of ast) {
          if (item && typeof item === "object" && "t" in item) {
            const n = item as { t: string; val: string };
            // The runtime refuses import() on the build threads (sandbox.ts); refusing it here too makes it
            // a clear error instead of a promise that is silently rejected.
            if (/(^|[^\w$.])import(\s|\/\*[\s\S]*?\*\/|\/\/[^\n]*\n)*[(.]/.test(n.val))
              throw new MissingValue("templates cannot import modules (import() is not available); use the it.* helpers");
            if (n.t === "i" || n.t === "r") n.val = `__eta.f((${n.val}), ${JSON.stringify(n.val.trim())})`;
          }
        }
        return ast as never;
      },
      processFnString: (s: string) => s,
      processTemplate: (s: string) => s,
    },
  ],
});

type Compiled = TemplateFn;
const compiled = new Map<string, Compiled>();

/** A template's `this` (sandbox.ts): what eta's function body reads, and nothing that reaches files. */
const STUB = {
  config: Object.freeze({ filterFunction: outputFilter, escapeFunction: String }),
  RuntimeErr: eta.RuntimeErr,
  render: () => {
    throw new MissingValue("eta's include() is not available; use it.include() for a head-node file");
  },
  renderAsync: () => {
    throw new MissingValue("eta's includeAsync() is not available");
  },
};

function compile(src: TemplateSource): Compiled {
  let fn = compiled.get(src.text);
  if (!fn) {
    fn = compileSandboxed(eta.compileToString(src.text), { ...STUB });
    if (compiled.size > 2000) compiled.clear();
    compiled.set(src.text, fn);
  }
  return fn;
}

/**
 * Compiles a template now, into this thread's cache, so that a later render does not pay for it (the
 * calling thread does this while build threads render a batch). A syntax error is left for the render.
 */
export function precompile(text: string): void {
  try {
    compile({ overlay: "", path: "", text, mode: 0, uid: 0, gid: 0 });
  } catch {
    // reported, with its template and node, when rendered
  }
}

/** A template's syntax problem with where it is (1-based line and column of the template, when known). */
export interface SyntaxProblem {
  message: string;
  line?: number;
  column?: number;
}

/**
 * Checks an eta template's syntax and says where the problem is: eta's own parse errors carry their line and
 * column; a JavaScript error inside a tag is located by parsing eta's generated code (Bun's transpiler gives
 * its position there) and mapping it back through the `__eta.line=N` marks eta writes before each tag, then to
 * the column within that tag's code. What the page and `overlay edit` show beside the editor.
 */
export function etaSyntaxProblem(text: string): SyntaxProblem | undefined {
  const err = syntaxError(text);
  if (err === undefined) return undefined;
  const at = /at line (\d+) col (\d+)/.exec(err);
  if (at)
    return {
      message: err
        .split("\n")[0]!
        .replace(/ at line \d+ col \d+:?$/, "")
        .trim(),
      line: Number(at[1]),
      column: Number(at[2]),
    };
  const message =
    err
      .split("=====")[0]!
      .replace(/^Bad template syntax\s*/, "")
      .replace(/\s+/g, " ")
      .trim() || err.trim();
  let body: string;
  try {
    body = eta.compileToString(text);
  } catch {
    return { message };
  }
  const wrapped = `function __drover_check(it, options){${body}\n}`;
  let pos: { line: number; column: number; lineText: string } | undefined;
  try {
    new Bun.Transpiler({ loader: "js" }).transformSync(wrapped);
  } catch (e) {
    const p = (e as { position?: { line: number; column: number; lineText: string } }).position;
    if (p) pos = p;
  }
  if (!pos) return { message };
  const lines = wrapped.split("\n");
  let line: number | undefined;
  for (let i = Math.min(pos.line, lines.length) - 1; i >= 0; i--) {
    const m = /^__eta\.line=(\d+)$/.exec(lines[i]!);
    if (m) {
      line = Number(m[1]);
      break;
    }
  }
  // An unclosed `{` shows as the catch eta appends; the last tag is where to look.
  const friendly = /\bcatch\b/.test(message) ? "a block opened with { is never closed (a <% } %> is missing)" : message;
  if (!line) return { message: friendly };
  return { message: friendly, line, column: columnIn(text.split("\n")[line - 1] ?? "", pos) };
}

/** The column in a template line of a position in eta's generated code: the same code text inside one of its tags. */
function columnIn(src: string, pos: { column: number; lineText: string }): number | undefined {
  const tags = [...src.matchAll(/<%[-_=~]?\s*([\s\S]*?)\s*[-_]?%>|<%[-_=~]?\s*(.*)$/g)];
  let tagOfLine: number | undefined;
  for (const t of tags) {
    const code = (t[1] ?? t[2] ?? "").trim();
    if (!code) continue;
    const inGen = pos.lineText.indexOf(code);
    if (inGen < 0) continue;
    tagOfLine ??= t.index! + 1;
    // Bun's column is 1-based; so is the answer.
    const offset = pos.column - 1 - inGen;
    const start = t.index! + t[0].indexOf(code);
    if (offset >= 0 && offset < code.length) return start + offset + 1;
  }
  // The error is in what eta wrapped around the code (an unbalanced bracket): point at the tag.
  if (tagOfLine) return tagOfLine;
  const first = src.indexOf("<%");
  return first >= 0 ? first + 1 : undefined;
}

/** Checks a template's syntax without rendering it (lint, `overlay create`). Returns the problem or undefined. */
export function syntaxError(text: string): string | undefined {
  try {
    eta.compile(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const MARK = "\u0000drover:";

export interface RenderResult {
  files: RenderedFile[];
  /** Top-level data keys the render read (`node`, `allNodes`, …) and helpers it called. */
  touched: Set<string>;
}

type Spec = { kind: "file"; path: string; opts: FileOpts } | { kind: "link"; target: string };

/**
 * One node's template context, built once and reused for each of its templates (the strict proxies and
 * helper wrappers are the costly part at 10,000 nodes). Each render resets what it tracks.
 */
export class RenderContext {
  private touched = new Set<string>();
  private specs: Spec[] = [];
  private readonly it: unknown;

  constructor(
    data: Record<string, unknown>,
    helpers: Record<string, (...a: never[]) => unknown>,
    readonly node: string,
  ) {
    const own: Record<string, unknown> = {
      ...data,
      file: (name: string, opts: FileOpts = {}) => {
        this.touched.add("file");
        if (typeof name !== "string" || !name) throw new MissingValue("it.file() needs a file name");
        this.specs.push({ kind: "file", path: name, opts });
        return `${MARK}${this.specs.length - 1}\u0000`;
      },
      softlink: (to: string) => {
        this.touched.add("softlink");
        if (typeof to !== "string" || !to) throw new MissingValue("it.softlink() needs a target");
        this.specs.push({ kind: "link", target: to });
        return `${MARK}${this.specs.length - 1}\u0000`;
      },
      abort: () => {
        throw new Aborted();
      },
      nobackup: () => "",
      opt: (obj: Record<string, unknown>, key: string, def: unknown) => (obj && key in obj && obj[key] !== undefined && obj[key] !== null ? obj[key] : def),
    };
    for (const k of Object.keys(helpers)) {
      const f = helpers[k]!;
      own[k] = (...a: never[]) => {
        this.touched.add(k);
        return f(...a);
      };
    }
    this.it = strict(own, "it", (k) => this.touched.add(k));
  }

  render(src: TemplateSource): RenderResult {
    const touched = (this.touched = new Set<string>());
    const specs = (this.specs = []);
    const target = src.path.slice(0, -TEMPLATE_SUFFIX.length);
    let out: string;
    try {
      const fn = compile(src);
      printed = 0;
      out = runLimited(() => fn(this.it, undefined), timeLimitMs);
      if (out.length > MAX_OUTPUT) throw new MissingValue(tooLarge());
    } catch (e) {
      if (e instanceof Aborted) return { files: [], touched };
      if (e instanceof RenderTimeout) onTimeout?.(src.overlay, src.path, this.node, e.message);
      const line = (e as { etaLine?: number }).etaLine;
      const err = e as Error;
      const msg =
        e instanceof MissingValue || e instanceof TemplateError || e instanceof RenderTimeout
          ? err.message
          : err.name === "EtaParser Error"
            ? err.message.split("=====")[0]!.replace(/\s+/g, " ").trim()
            : `${err.name}: ${err.message}`;
      throw new TemplateError(
        `overlay ${src.overlay}, template ${src.path}${line ? ` line ${line}` : ""}, node ${this.node}: ${msg}`,
        {
          overlay: src.overlay,
          template: src.path,
          node: this.node,
          ...(line ? { line } : {}),
        },
        { cause: e },
      );
    }
    return { files: split(out, target, src, specs), touched };
  }
}

/**
 * Renders one template for one node. `data` is the plain template data (see data.ts) without helpers;
 * `helpers` are merged in. The first file is the template's own path without the suffix; `it.file()`
 * starts further ones.
 */
export function render(src: TemplateSource, data: Record<string, unknown>, helpers: Record<string, (...a: never[]) => unknown>, node: string): RenderResult {
  return new RenderContext(data, helpers, node).render(src);
}

function split(out: string, first: string, src: TemplateSource, specs: Spec[]): RenderedFile[] {
  const files: RenderedFile[] = [];
  const dir = first.includes("/") ? first.slice(0, first.lastIndexOf("/") + 1) : "";
  const segs = out.split(MARK);
  let cur: { path: string; mode: number; uid: number; gid: number; link?: string; own: boolean } = {
    path: first,
    mode: src.mode,
    uid: src.uid,
    gid: src.gid,
    own: true,
  };
  let text = segs[0]!;
  const finish = (last: boolean) => {
    if (cur.link !== undefined) files.push({ type: "symlink", path: cur.path, target: cur.link, uid: cur.uid, gid: cur.gid });
    // A template that starts with it.file() and printed only whitespace before it writes no file of its own.
    else if (cur.own && !last && text.trim() === "") return;
    else files.push({ type: "file", path: cur.path, mode: cur.mode, uid: cur.uid, gid: cur.gid, data: text });
  };
  for (const seg of segs.slice(1)) {
    const end = seg.indexOf("\u0000");
    const spec = specs[Number(seg.slice(0, end))]!;
    if (spec.kind === "link") {
      // it.softlink() turns the current file into a symlink; its text is dropped.
      cur.link = spec.target;
      text += seg.slice(end + 1);
      continue;
    }
    finish(false);
    const p = spec.path.startsWith("/") ? spec.path.slice(1) : dir + spec.path;
    cur = { path: p, mode: spec.opts.mode ?? src.mode, uid: spec.opts.uid ?? src.uid, gid: spec.opts.gid ?? src.gid, own: false };
    text = seg.slice(end + 1);
  }
  finish(true);
  return files;
}

// ---- Warewulf templates ----

/** Warewulf variables drover can translate one for one, for `overlay import`. */
const WW_VARS: Record<string, string> = {
  ".Id": "it.node.name",
  ".Hostname": "it.node.name",
  ".ClusterName": "it.node.cluster",
  ".ImageName": "it.node.image",
  ".ContainerName": "it.node.image",
  ".Init": "it.node.init",
  ".Root": "it.node.root",
  ".Ipaddr": "it.server.address",
  ".Netmask": "it.server.netmask",
  ".Network": "it.server.network",
  ".Port": "it.server.port",
  ".BuildHost": "it.build.host",
};

/**
 * Converts a Warewulf `.ww` template that only prints simple variables (`{{ .Id }}`, `{{.Ipaddr}}`) into
 * eta. Anything else (range, if, functions, pipelines) returns undefined: such a template must be rewritten
 * by hand, never guessed at.
 */
export function convertWarewulf(text: string): { text: string } | { problem: string } {
  let problem: string | undefined;
  const out = text.replace(/\{\{-?\s*([^}]*?)\s*-?\}\}/g, (m, expr: string) => {
    const v = WW_VARS[expr];
    if (v) return `<%= ${v} %>`;
    if (/^\/\*.*\*\/$/.test(expr)) return "";
    problem ??= `${m} has no one-for-one eta equivalent`;
    return m;
  });
  if (problem) return { problem };
  if (out.includes("<%") && text.includes("<%")) return { problem: "the file already contains eta tags" };
  return { text: out };
}
